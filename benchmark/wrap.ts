// `rampart wrap` shim cost: median wall time of one `$SHELL -c true`, run side by side
// (a) with the real bash, (b) through the shim (one policy check), (c) through the shim with
// librampart.so preloaded as `rampart wrap` sets it up (the library re-checks the real shell).
// Target (F.md): (b) - (a) <= 20 ms. Run after `npm run build`. Prints figures; asserts nothing.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkLibrary } from '../src/client/library.ts';
import { preloadValue } from '../src/client/environment.ts';
import { startServer } from '../src/server/server.ts';
import { renderShim } from '../src/wrap/shim.ts';
import { which } from '../src/wrap/session.ts';

/** Async, not spawnSync: the policy server runs in this process and must keep answering. */
function runOnce(file: string, env: NodeJS.ProcessEnv | undefined): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, ['-c', 'true'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stderr }));
  });
}

const ROUNDS = Number(process.env.WRAP_BENCH_ROUNDS ?? 200);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-wrap-bench-'));
const bash = which('bash', process.env.PATH)!;
const token = 'bench-token-0123456789abcdef';
const server = await startServer({
  addr: '127.0.0.1',
  port: 0,
  mode: 'enforce',
  token,
  policy: { home: dir },
  auditDir: path.join(dir, 'audit'),
});
try {
  const tokenFile = path.join(dir, 'token');
  fs.writeFileSync(tokenFile, token, { mode: 0o600 });
  const shim = path.join(dir, 'bash');
  fs.writeFileSync(
    shim,
    renderShim({
      bash,
      realShell: bash,
      port: server.port,
      tokenFile,
      mode: 'enforce',
      agent: 'bench',
      session: 'bench',
      decisionsFile: path.join(dir, 'decisions'),
      timeoutSeconds: 5,
    }),
    { mode: 0o700 },
  );

  const library = checkLibrary();
  const preloaded: NodeJS.ProcessEnv | undefined = library.ok
    ? {
        ...process.env,
        LD_PRELOAD: preloadValue(library.path, process.env.LD_PRELOAD),
        RAMPART_URL: server.url,
        RAMPART_TOKEN: token,
        RAMPART_MODE: 'enforce',
        RAMPART_FAIL_OPEN: '0',
        RAMPART_AGENT: 'bench',
        RAMPART_SESSION: 'bench',
      }
    : undefined;

  const variants: [string, string, NodeJS.ProcessEnv | undefined][] = [
    ['bash -c true', bash, process.env],
    ['shim -c true', shim, process.env],
    ...(preloaded ? ([['shim -c true + librampart.so', shim, preloaded]] as [string, string, NodeJS.ProcessEnv][]) : []),
  ];
  const samples = new Map<string, number[]>(variants.map(([name]) => [name, []]));
  // Interleaved rounds, so load changes on the shared machine hit every variant alike.
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, file, env] of variants) {
      const start = process.hrtime.bigint();
      const result = await runOnce(file, env);
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (result.status !== 0) throw new Error(`${name} exited ${result.status}: ${result.stderr}`);
      samples.get(name)!.push(ms);
    }
  }
  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)]!;
  };
  const base = median(samples.get('bash -c true')!);
  console.log(`wrap shim: ${ROUNDS} rounds, median wall time per \`$SHELL -c true\` (spawned from node)`);
  for (const [name, values] of samples) {
    const m = median(values);
    console.log(`  ${name.padEnd(32)} ${m.toFixed(2).padStart(7)} ms   +${(m - base).toFixed(2)} ms   x${(m / base).toFixed(2)}`);
  }
  if (!preloaded) console.log('  (librampart.so not available: the preloaded variant was skipped)');
} finally {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
