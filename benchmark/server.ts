// Server throughput and latency (target, README "Performance": >= 10 000 decisions/s on one core with every
// decision audited). Not a test: prints figures measured side by side in one run on this machine.
//
//   node --import tsx benchmark/server.ts    (after npm run build:ts; BENCH_SECONDS=5, BENCH_CLI=...)
//
// 1. audit append cost in-process: writeSync only vs writeSync + fdatasync per record;
// 2. a real `rampart serve` child (dist/cli.js, built-in policy, audit on) under load: keep-alive
//    connections (autocannon), a new connection per request (what forked children do: 16
//    concurrent, and 1 at a time);
// 3. the bare node:http ceiling under the same three loads;
// 4. the same server started with fdatasync per record, keep-alive.
// Each server row also gives the server's own CPU time per decision (from /proc/<pid>/stat) and
// what that makes on one core: on a loaded machine the client and other processes steal the
// server's core, so decisions/s alone understates what the server sustains.
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
  non2xx: number;
  errors: number;
}
/** A run: a promise of the result and an emitter of each response (latency in float ms). */
type AutocannonRun = Promise<AutocannonResult> & {
  on(event: 'response', listener: (client: unknown, status: number, bytes: number, responseTimeMs: number) => void): void;
};
const autocannon = createRequire(import.meta.url)('autocannon') as (options: Record<string, unknown>) => AutocannonRun;

interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  total: number;
}

const here = path.dirname(fileURLToPath(import.meta.url));
/** The CLI whose `serve` is measured; BENCH_CLI=<other build>/dist/cli.js compares builds. */
const cli = process.env.BENCH_CLI ?? path.join(here, '..', 'dist', 'cli.js');
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
        {
          method: 'POST',
          agent: false,
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'content-length': body.length, connection: 'close' },
        },
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
  return { rps: Math.round(latencies.length / DURATION_S), ...percentiles(latencies), non2xx, errors, total: latencies.length };
}

/** p50 and p99 in ms (2 decimals). */
function percentiles(latenciesMs: number[]): { p50: number; p99: number } {
  const sorted = Float64Array.from(latenciesMs).sort();
  const at = (q: number) => (sorted.length ? Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 100) / 100 : NaN);
  return { p50: at(0.5), p99: at(0.99) };
}

/** User + system CPU time of a process in ms (Linux /proc; undefined elsewhere). */
function cpuMs(pid: number): number | undefined {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const clockTicks = 100; // USER_HZ, 100 on every Linux this runs on
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
  } catch {
    return undefined;
  }
}

function loadAverage(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
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

interface LoadOptions {
  newConnection: boolean;
  connections: number;
  /** Keep-alive runs only; default DURATION_S. */
  seconds?: number;
}

async function load(url: string, opts: LoadOptions): Promise<LoadResult> {
  if (opts.newConnection) {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--fresh-client', url, String(opts.connections)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((resolve) => child.on('exit', resolve));
    return JSON.parse(out) as LoadResult;
  }
  const run = autocannon({
    url: `${url}/v1/preflight/exec`,
    method: 'POST',
    duration: opts.seconds ?? DURATION_S,
    connections: opts.connections,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      'content-type': 'application/json',
    },
    requests: COMMANDS.map((command) => ({
      body: JSON.stringify({ agent: 'preload', session: 'bench', params: { command }, enforce: true }),
    })),
  });
  // autocannon's own percentiles are whole milliseconds: keep every latency instead.
  const latencies: number[] = [];
  run.on('response', (_client, _status, _bytes, responseTimeMs) => latencies.push(responseTimeMs));
  const result = await run;
  return {
    rps: Math.round(result.requests.average),
    ...percentiles(latencies),
    non2xx: result.non2xx,
    errors: result.errors,
    total: result.requests.total,
  };
}

interface Row {
  name: string;
  result: LoadResult;
  /** Server CPU time per answered request, µs. */
  cpuUs?: number;
  audited?: number;
}

/** Runs a load against a server child and measures the child's CPU time meanwhile. */
async function measure(name: string, child: ChildProcess, url: string, opts: LoadOptions, auditDir?: string): Promise<Row> {
  const before = cpuMs(child.pid!);
  const result = await load(url, opts);
  const after = cpuMs(child.pid!);
  const cpuUs = before !== undefined && after !== undefined && result.total > 0 ? ((after - before) * 1000) / result.total : undefined;
  return { name, result, cpuUs, audited: auditDir ? countRecords(auditDir) : undefined };
}

async function withServer<T>(
  start: (port: number, auditDir: string) => ChildProcess,
  body: (url: string, auditDir: string, child: ChildProcess) => Promise<T>,
): Promise<T> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-bench-'));
  const auditDir = path.join(home, 'audit');
  const port = await freePort();
  const child = start(port, auditDir);
  try {
    await waitForListening(child);
    return await body(`http://127.0.0.1:${port}`, auditDir, child);
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    fs.rmSync(home, { recursive: true, force: true });
  }
}

function countRecords(auditDir: string): number {
  return fs.readdirSync(auditDir).reduce(
    (n, f) =>
      n +
      fs
        .readFileSync(path.join(auditDir, f), 'utf8')
        .split('\n')
        .filter((l) => l.includes('"decision"')).length,
    0,
  );
}

async function main(): Promise<void> {
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run npm run build:ts first`);
  console.log(`server benchmark: ${os.cpus().length} CPUs, node ${process.version}, ${DURATION_S} s per run, audit dir under ${os.tmpdir()}`);
  console.log(`load average at start: ${loadAverage()}`);

  const plain = appendCost(false, 20_000);
  const synced = appendCost(true, 2_000);
  console.log(
    `audit append, median per record: writeSync ${plain.toFixed(1)} µs (${Math.round(1e6 / plain)} records/s); ` +
      `writeSync+fdatasync ${synced.toFixed(1)} µs (${(synced / plain).toFixed(1)}x)`,
  );

  const serveCli = (port: number, auditDir: string) =>
    spawn(process.execPath, [cli, 'serve', '--port', String(port), '--audit-dir', auditDir], {
      env: { ...process.env, RAMPART_TOKEN: TOKEN, HOME: path.dirname(auditDir) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  const childServer = (mode: string) => (port: number, auditDir: string) =>
    spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', String(port), auditDir, mode], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  const bare = (port: number) =>
    spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--bare', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  const KEEP_ALIVE = { newConnection: false, connections: 16 };
  const FRESH = { newConnection: true, connections: 16 };
  const SERIAL = { newConnection: true, connections: 1 };

  const rows: Row[] = [];
  await withServer(serveCli, async (url, auditDir, child) => {
    await load(url, { ...KEEP_ALIVE, seconds: 2 }); // JIT warm-up, not reported
    rows.push(await measure('rampart serve, keep-alive, 16 connections', child, url, KEEP_ALIVE, auditDir));
    rows.push(await measure('rampart serve, new connection, 16 at a time', child, url, FRESH, auditDir));
    rows.push(await measure('rampart serve, new connection, 1 at a time', child, url, SERIAL, auditDir));
  });
  await withServer(bare, async (url, _auditDir, child) => {
    await load(url, { ...KEEP_ALIVE, seconds: 2 });
    rows.push(await measure('bare node:http, keep-alive, 16 connections', child, url, KEEP_ALIVE));
    rows.push(await measure('bare node:http, new connection, 16 at a time', child, url, FRESH));
    rows.push(await measure('bare node:http, new connection, 1 at a time', child, url, SERIAL));
  });
  await withServer(childServer('fsync'), async (url, auditDir, child) => {
    rows.push(await measure('fdatasync per record, keep-alive, 16 conns', child, url, KEEP_ALIVE, auditDir));
  });

  console.log('');
  console.log('run                                           decisions/s   p50 ms   p99 ms   server CPU/req   = per core   non-2xx  errors  audited');
  for (const { name, result: r, cpuUs, audited } of rows) {
    const cpu = cpuUs === undefined ? '-' : `${cpuUs.toFixed(1)} µs`;
    const perCore = cpuUs === undefined ? '-' : `${Math.round(1e6 / cpuUs)}/s`;
    console.log(
      `${name.padEnd(45)} ${String(r.rps).padStart(11)} ${r.p50.toFixed(2).padStart(8)} ${r.p99.toFixed(2).padStart(8)} ${cpu.padStart(16)} ${perCore.padStart(12)} ${String(r.non2xx).padStart(9)} ${String(r.errors).padStart(7)}  ${audited ?? '-'}`,
    );
  }
  const rps = (i: number) => rows[i]!.result.rps;
  console.log(
    `\nkeep-alive vs new connection per request: ${(rps(0) / rps(1)).toFixed(2)}x; ` +
      `rampart vs bare node:http: keep-alive ${(rps(0) / rps(3)).toFixed(2)}x, new connection ${(rps(1) / rps(4)).toFixed(2)}x; ` +
      `writeSync vs fdatasync (keep-alive): ${(rps(0) / rps(6)).toFixed(2)}x`,
  );
  console.log(`load average at end: ${loadAverage()} (decisions/s drop when other processes share the cores; CPU/req much less so)`);
}
