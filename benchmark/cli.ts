// CLI start-up cost: how long `rampart preload` adds before the command starts, with a policy
// server already running (target: ≤ 150 ms, README "Performance"). Prints medians of runs taken
// side by side (round-robin, so machine noise hits every variant alike). Run after npm run build.
// dist/ is an esbuild bundle (scripts/build.ts); for comparison the same sources are also compiled
// module by module with tsc into a temporary copy of the package (the build before bundling),
// which also shows what each command module costs at start-up.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(repoRoot, 'dist', 'cli.js');
const runs = Number(process.env.RUNS ?? 30);

function timeOnce(argv: string[], env: NodeJS.ProcessEnv): number {
  const start = process.hrtime.bigint();
  const result = spawnSync(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const elapsed = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) throw new Error(`${argv.join(' ')} exited ${result.status}: ${result.stderr}`);
  return elapsed;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer().once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** The sources compiled by tsc, one file per module, into a temporary copy of the package. */
function unbundledBuild(into: string): string {
  const config = path.join(into, 'tsconfig.json');
  fs.writeFileSync(
    config,
    JSON.stringify({
      extends: path.join(repoRoot, 'tsconfig.json'),
      compilerOptions: {
        noEmit: false,
        typeRoots: [path.join(repoRoot, 'node_modules', '@types')],
        rootDir: path.join(repoRoot, 'src'),
        outDir: path.join(into, 'dist'),
      },
      include: [path.join(repoRoot, 'src', '**', '*.ts')],
      exclude: [path.join(repoRoot, 'src', '**', '__tests__', '**')],
    }),
  );
  execFileSync(process.execPath, [path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', config], { stdio: 'inherit' });
  fs.copyFileSync(path.join(repoRoot, 'package.json'), path.join(into, 'package.json'));
  for (const entry of ['native', 'policies', 'node_modules', 'target']) fs.symlinkSync(path.join(repoRoot, entry), path.join(into, entry));
  return path.join(into, 'dist');
}

async function main() {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-bench-cli-'));
  const unbundledDist = unbundledBuild(fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-bench-cli-tsc-')));
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
  delete env.RAMPART_URL;
  delete env.RAMPART_TOKEN;
  const server = spawn(process.execPath, [cli, 'serve', '--port', String(port)], { env, stdio: 'ignore' });
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
      } catch {
        // not yet
      }
      if (i > 300) throw new Error('rampart serve did not start');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const variants: Record<string, string[]> = {
      '/bin/true': ['/bin/true'],
      'node -e 0': [process.execPath, '-e', '0'],
      'rampart --version': [process.execPath, cli, '--version'],
      'rampart preload -- /bin/true': [process.execPath, cli, 'preload', '--port', String(port), '--', '/bin/true'],
      'unbundled: preload /bin/true': [process.execPath, path.join(unbundledDist, 'cli.js'), 'preload', '--port', String(port), '--', '/bin/true'],
    };
    const samples: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
    for (const argv of Object.values(variants)) timeOnce(argv, env); // warm the page cache
    for (let i = 0; i < runs; i++) {
      for (const [name, argv] of Object.entries(variants)) samples[name]!.push(timeOnce(argv, env));
    }
    const m = Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)]));
    console.log(`CLI start-up, median of ${runs} runs each (ms), server already running:`);
    for (const [name, value] of Object.entries(m)) console.log(`  ${name.padEnd(30)} ${value!.toFixed(1)}`);
    const added = m['rampart preload -- /bin/true']! - m['/bin/true']!;
    const overNode = m['rampart preload -- /bin/true']! - m['node -e 0']!;
    console.log(`  time rampart preload adds before /bin/true:  ${added.toFixed(1)} ms (target ≤ 150 ms)`);
    console.log(`    of which node itself (node -e 0):         ${m['node -e 0']!.toFixed(1)} ms`);
    console.log(`    rampart's own work beyond bare node:      ${overNode.toFixed(1)} ms`);
    console.log(`  ratio preload / bare node:                  ${(m['rampart preload -- /bin/true']! / m['node -e 0']!).toFixed(2)}x`);
    const unbundledAdded = m['unbundled: preload /bin/true']! - m['/bin/true']!;
    console.log(
      `  the same, unbundled (tsc, one file a module): ${unbundledAdded.toFixed(1)} ms added (bundle saves ${(unbundledAdded - added).toFixed(1)} ms)`,
    );
    console.log(
      `  load average (1, 5, 15 min) at the end:      ${os
        .loadavg()
        .map((load) => load.toFixed(2))
        .join(', ')}`,
    );

    // Where start-up goes: every command module is imported when the CLI starts (src/cli.ts
    // registers them all), so a module that imports its implementation eagerly costs everyone.
    // Measured on the unbundled build, where each command module is its own file.
    const baselineArgv = [process.execPath, '--input-type=module', '-e', "await import('clipanion')"];
    const importRuns = 5;
    const commandsDir = path.join(unbundledDist, 'commands');
    const files = fs
      .readdirSync(commandsDir, { recursive: true, encoding: 'utf8' })
      .filter((name) => name.endsWith('.js') && name !== 'index.js' && name !== 'options.js');
    const base: number[] = [];
    const costs = new Map<string, number[]>(files.map((name) => [name, []]));
    for (let i = 0; i < importRuns; i++) {
      base.push(timeOnce(baselineArgv, env));
      for (const name of files) {
        const url = new URL(`file://${path.join(commandsDir, name)}`).href;
        costs.get(name)!.push(timeOnce([process.execPath, '--input-type=module', '-e', `await import('clipanion'); await import('${url}')`], env));
      }
    }
    console.log(`Import cost of each command module at start-up (median of ${importRuns}, ms over node + clipanion):`);
    const rows = [...costs].map(([name, values]) => [name, median(values) - median(base)] as const).sort((a, b) => b[1] - a[1]);
    for (const [name, cost] of rows) console.log(`  commands/${name.padEnd(24)} ${cost.toFixed(1)}`);
  } finally {
    server.kill('SIGTERM');
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(path.dirname(unbundledDist), { recursive: true, force: true });
  }
}

await main();
