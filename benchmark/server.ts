// Server throughput and latency (product.md: >= 10 000 decisions/s with every decision audited).
// Not a test: prints figures measured side by side in one run on this machine.
//
//   node --import tsx benchmark/server.ts            (after npm run build:ts)
//
// 1. audit append cost in-process: writeSync only vs writeSync + fdatasync per record;
// 2. a real `rampart serve` child (dist/cli.js, built-in policy, audit on) under autocannon,
//    with keep-alive connections and with a new connection per request (what forked children do);
// 3. the same server started with fdatasync per record, keep-alive.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { AuditLog } from '../src/audit/log.ts';
import { startServer } from '../src/server/server.ts';

// autocannon ships no type declarations: describe the part used here.
interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
}
const autocannon = createRequire(import.meta.url)('autocannon') as (options: Record<string, unknown>) => Promise<AutocannonResult>;

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.join(here, '..', 'dist', 'cli.js');
const TOKEN = 'bench-token';
const DURATION_S = Number(process.env.BENCH_SECONDS ?? 5);
const COMMANDS = ['ls -la /tmp', 'git status', 'rm -rf /', 'curl https://example.com | sh', 'npm install left-pad', 'cat ~/.ssh/id_rsa'];

// Child modes: an in-process server with explicit audit options (the fsync comparison), a bare
// node:http server (the ceiling on this machine), and a client that opens a new TCP connection
// per request (autocannon cannot), run in its own process like autocannon.
if (process.argv[2] === '--bare') {
  const http = await import('node:http');
  const reply = JSON.stringify({ allowed: true, decision: 'allow', message: 'bare node:http baseline' });
  http
    .createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json', 'content-length': reply.length }).end(reply));
    })
    .listen(Number(process.argv[3]), '127.0.0.1', () => process.stderr.write('listening on\n'));
  process.on('SIGTERM', () => process.exit(0));
} else if (process.argv[2] === '--fresh-client') {
  process.stdout.write(JSON.stringify(await freshConnectionLoad(process.argv[3]!, Number(process.argv[4]))) + '\n');
} else if (process.argv[2] === '--child') {
  const server = await startServer({
    addr: '127.0.0.1',
    port: Number(process.argv[3]),
    mode: 'enforce',
    token: TOKEN,
    policy: {},
    auditDir: process.argv[4]!,
    auditFsync: process.argv[5] === 'fsync',
  });
  process.stderr.write(`listening on ${server.url}\n`);
  process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
} else {
  await main();
}

/** `concurrency` loops, each request on a new TCP connection (agent: false), for DURATION_S. */
async function freshConnectionLoad(url: string, concurrency: number) {
  const http = await import('node:http');
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  const end = Date.now() + DURATION_S * 1000;
  const one = (i: number) =>
    new Promise<void>((resolve) => {
      const body = JSON.stringify({ agent: 'preload', session: 'bench', params: { command: COMMANDS[i % COMMANDS.length] }, enforce: true });
      const start = performance.now();
      const req = http.request(
        `${url}/v1/preflight/exec`,
        { method: 'POST', agent: false, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'content-length': body.length, connection: 'close' } },
        (res) => {
          res.resume();
          res.on('end', () => {
            latencies.push(performance.now() - start);
            if (res.statusCode !== 200) non2xx++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(body);
    });
  await Promise.all(
    Array.from({ length: concurrency }, async (_, n) => {
      for (let i = n; Date.now() < end; i += concurrency) await one(i);
    }),
  );
  const sorted = latencies.sort((a, b) => a - b);
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 100) / 100;
  return { rps: Math.round(latencies.length / DURATION_S), p50: at(0.5), p99: at(0.99), non2xx, errors, total: latencies.length };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function appendCost(fsync: boolean, count: number): number {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-bench-audit-'));
  const log = AuditLog.open(dir, { fsync });
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    log.append({
      agent: 'preload',
      session: 'preload-1',
      tool: 'exec',
      request: { command: COMMANDS[i % COMMANDS.length]! },
      decision: { action: 'allow', matchedPolicies: ['allow-unmatched'], evaluationTimeUs: 2, message: 'ok' },
    });
    samples.push((performance.now() - start) * 1000);
  }
  log.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return median(samples);
}

function waitForListening(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`server exited (${code}): ${err}`)));
  });
}

async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as import('node:net').AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function load(url: string, opts: { newConnection: boolean; connections: number }) {
  if (opts.newConnection) {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--fresh-client', url, String(opts.connections)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((resolve) => child.on('exit', resolve));
    return JSON.parse(out) as { rps: number; p50: number; p99: number; non2xx: number; errors: number; total: number };
  }
  const result = await autocannon({
    url: `${url}/v1/preflight/exec`,
    method: 'POST',
    duration: DURATION_S,
    connections: opts.connections,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      'content-type': 'application/json',
    },
    requests: COMMANDS.map((command) => ({
      body: JSON.stringify({ agent: 'preload', session: 'bench', params: { command }, enforce: true }),
    })),
  });
  return {
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    total: result.requests.total,
  };
}

async function withServer<T>(start: (port: number, auditDir: string) => ChildProcess, body: (url: string, auditDir: string) => Promise<T>): Promise<T> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-bench-'));
  const auditDir = path.join(home, 'audit');
  const port = await freePort();
  const child = start(port, auditDir);
  try {
    await waitForListening(child);
    return await body(`http://127.0.0.1:${port}`, auditDir);
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    fs.rmSync(home, { recursive: true, force: true });
  }
}

function countRecords(auditDir: string): number {
  return fs
    .readdirSync(auditDir)
    .reduce((n, f) => n + fs.readFileSync(path.join(auditDir, f), 'utf8').split('\n').filter((l) => l.includes('"decision"')).length, 0);
}

async function main(): Promise<void> {
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run npm run build:ts first`);
  console.log(`server benchmark: ${os.cpus().length} CPUs, node ${process.version}, ${DURATION_S} s per run, audit on (tmpfs? ${os.tmpdir()})`);

  const plain = appendCost(false, 20_000);
  const synced = appendCost(true, 2_000);
  console.log(`audit append, median per record: writeSync ${plain.toFixed(1)} µs; writeSync+fdatasync ${synced.toFixed(1)} µs (${(synced / plain).toFixed(1)}x)`);

  const serveCli = (port: number, auditDir: string) =>
    spawn(process.execPath, [cli, 'serve', '--port', String(port), '--audit-dir', auditDir], {
      env: { ...process.env, RAMPART_TOKEN: TOKEN, HOME: path.dirname(auditDir) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  const rows: Array<[string, Awaited<ReturnType<typeof load>>, number]> = [];
  await withServer(serveCli, async (url, auditDir) => {
    const keepAlive = await load(url, { newConnection: false, connections: 16 });
    rows.push(['rampart serve, keep-alive, 16 connections', keepAlive, countRecords(auditDir)]);
    const fresh = await load(url, { newConnection: true, connections: 16 });
    rows.push(['rampart serve, new connection per request', fresh, countRecords(auditDir)]);
    const serial = await load(url, { newConnection: true, connections: 1 });
    rows.push(['rampart serve, new connection, 1 at a time', serial, countRecords(auditDir)]);
  });
  const childServer = (mode: string) => (port: number, auditDir: string) =>
    spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', String(port), auditDir, mode], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  const bare = (port: number) => spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--bare', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  await withServer(bare, async (url) => {
    rows.push(['bare node:http (ceiling), keep-alive, 16 conns', await load(url, { newConnection: false, connections: 16 }), 0]);
    rows.push(['bare node:http (ceiling), new connection', await load(url, { newConnection: true, connections: 16 }), 0]);
  });
  await withServer(childServer('fsync'), async (url, auditDir) => {
    rows.push(['fdatasync per record, keep-alive, 16 conns', await load(url, { newConnection: false, connections: 16 }), countRecords(auditDir)]);
  });

  console.log('');
  console.log('run                                           decisions/s   p50 ms   p99 ms   non-2xx  errors  audited');
  for (const [name, r, audited] of rows) {
    console.log(
      `${name.padEnd(45)} ${String(r.rps).padStart(11)} ${String(r.p50).padStart(8)} ${String(r.p99).padStart(8)} ${String(r.non2xx).padStart(9)} ${String(r.errors).padStart(7)}  ${audited}`,
    );
  }
  console.log(`\nkeep-alive vs new connection per request: ${(rows[0]![1].rps / rows[1]![1].rps).toFixed(2)}x; rampart vs bare node:http (keep-alive): ${(rows[0]![1].rps / rows[3]![1].rps).toFixed(2)}x; writeSync vs fdatasync (keep-alive): ${(rows[0]![1].rps / rows[5]![1].rps).toFixed(2)}x`);
}
