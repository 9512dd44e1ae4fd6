// Shipping (docs/cli.md CLI-GEN-3: platform packages, so `npx rampart` needs no compiler): `npm run pack`
// makes the main and platform tarballs; a fresh project outside the repository installs them
// offline, with an empty npm cache and a temporary HOME, and `npx rampart preload` protects a Node
// and a Python agent there. Without the platform package, rampart says what is missing.
import test from 'ava';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { forbiddenMarkerPolicy, freePort, repoRoot, run, tempDir, withDefaultPortLock } from '../helpers.ts';

const POLICY = forbiddenMarkerPolicy('ship');

const NODE_AGENT = `const { execFileSync, spawnSync } = require('node:child_process');
const dir = process.argv[2];
// stdio inherited: the library's blocked line is written by the forked child, on its stderr
const denied = spawnSync('touch', [dir + '/node-forbidden-marker'], { stdio: 'inherit' });
console.log('node denied:', denied.error ? denied.error.code : 'ran, exit ' + denied.status);
execFileSync('touch', [dir + '/node-allowed-ran']);
console.log('node allowed: ran');
`;

const PYTHON_AGENT = `import subprocess, sys
d = sys.argv[1]
try:
    subprocess.run(['touch', d + '/py-forbidden-marker'])
    print('python denied: ran')
except PermissionError as e:
    print('python denied: errno', e.errno)
subprocess.run(['touch', d + '/py-allowed-ran'], check=True)
print('python allowed: ran')
`;

/** The user's environment: no npm_* variables from a surrounding `npm test`, an empty npm cache, offline. */
function userEnv(home: string, cache: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key) && !key.startsWith('RAMPART_') && key !== 'INIT_CWD') env[key] = value;
  }
  return { ...env, HOME: home, npm_config_cache: cache, npm_config_offline: 'true', npm_config_update_notifier: 'false' };
}

const isPortFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const probe = net.connect(port, '127.0.0.1');
    probe.once('connect', () => (probe.destroy(), resolve(false)));
    probe.once('error', () => resolve(true));
  });

let mainTarball: string;
let platformTarball: string;

test.before(async () => {
  const packed = await run(process.execPath, ['--import', 'tsx', 'scripts/pack.ts'], { cwd: repoRoot, timeoutMs: 300_000 });
  if (packed.code !== 0) throw new Error(`npm run pack failed: ${packed.stderr}`);
  [mainTarball, platformTarball] = packed.stdout.trim().split('\n') as [string, string];
});

interface Project {
  dir: string;
  home: string;
  env: NodeJS.ProcessEnv;
}

/** A fresh project outside the repository, with the given tarballs installed offline. */
async function project(tarballs: string[]): Promise<Project> {
  const dir = tempDir('rampart-ship-project-');
  const home = tempDir('rampart-ship-home-');
  const env = userEnv(home, path.join(tempDir('rampart-ship-cache-'), 'npm'));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'agent-project', version: '1.0.0', private: true }));
  const installed = await run('npm', ['install', '--offline', '--no-audit', '--no-fund', ...tarballs], {
    cwd: dir,
    env,
    timeoutMs: 180_000,
  });
  if (installed.code !== 0) throw new Error(`npm install failed:\n${installed.stdout}\n${installed.stderr}`);
  return { dir, home, env };
}

const npx = (p: Project, args: string[], timeoutMs = 60_000) => run('npx', ['rampart', ...args], { cwd: p.dir, env: p.env, timeoutMs });

test('the main tarball ships the CLI and policies but no build tree, tests, addon or library', async (t) => {
  const listing = await run('tar', ['tzf', mainTarball]);
  const files = listing.stdout.trim().split('\n');
  t.true(files.includes('package/dist/cli.js'));
  t.true(files.includes('package/policies/standard.yaml'));
  t.true(files.includes('package/native/binding.cjs'));
  for (const file of files) {
    t.false(/^package\/(target|crates|tests|scripts|npm|src)\//.test(file), file);
    t.false(/\.(node|so|dylib)$/.test(file), file);
  }
  const platformFiles = (await run('tar', ['tzf', platformTarball])).stdout.trim().split('\n').sort();
  t.deepEqual(platformFiles, ['package/librampart.so', 'package/package.json', 'package/rampart.linux-x64-gnu.node'].sort());
});

test('installed offline from the tarballs, npx rampart preload protects a Node and a Python agent', async (t) =>
  // The real autostart uses 127.0.0.1:9090, as do the preload end-to-end tests in another ava process.
  withDefaultPortLock(async () => {
    const p = await project([mainTarball, platformTarball]);
    t.true(fs.existsSync(path.join(p.dir, 'node_modules', '@rampart', 'core-linux-x64-gnu', 'librampart.so')));
    t.false(fs.realpathSync(path.join(p.dir, 'node_modules', 'rampart')).startsWith(repoRoot));
    fs.mkdirSync(path.join(p.home, '.rampart', 'policies'), { recursive: true });
    fs.writeFileSync(path.join(p.home, '.rampart', 'policies', 'ship.yaml'), POLICY);
    fs.writeFileSync(path.join(p.dir, 'agent.js'), NODE_AGENT);
    fs.writeFileSync(path.join(p.dir, 'agent.py'), PYTHON_AGENT);
    const marks = tempDir('rampart-ship-marks-');

    // The real autostart needs 127.0.0.1:9090; on a machine where it is taken, start a server ourselves.
    const autostart = await isPortFree(9090);
    let portFlag: string[] = [];
    if (!autostart) {
      const port = await freePort();
      t.log(`127.0.0.1:9090 is busy here: autostart not exercised; using rampart serve -b --port ${port}`);
      const started = await npx(p, ['serve', '-b', '--port', String(port)]);
      t.is(started.code, 0, started.stderr);
      portFlag = ['--port', String(port)];
    }
    try {
      const node = await npx(p, ['preload', ...portFlag, '--', 'node', 'agent.js', marks]);
      t.is(node.code, 0, node.stderr);
      if (autostart) t.regex(node.stderr, /^rampart: started policy server on http:\/\/127\.0\.0\.1:9090 /m);
      t.regex(node.stdout, /node denied: EPERM/);
      t.regex(node.stdout, /node allowed: ran/);
      t.true(node.stderr.split('\n').includes('rampart: blocked — ship test forbids this'), node.stderr);
      t.false(fs.existsSync(path.join(marks, 'node-forbidden-marker')));
      t.true(fs.existsSync(path.join(marks, 'node-allowed-ran')));

      const python = await npx(p, ['preload', ...portFlag, '--', 'python3', 'agent.py', marks]);
      t.is(python.code, 0, python.stderr);
      t.regex(python.stdout, /python denied: errno 1\b/);
      t.regex(python.stdout, /python allowed: ran/);
      t.true(python.stderr.split('\n').includes('rampart: blocked — ship test forbids this'), python.stderr);
      t.false(fs.existsSync(path.join(marks, 'py-forbidden-marker')));
      t.true(fs.existsSync(path.join(marks, 'py-allowed-ran')));
    } finally {
      const stopped = await npx(p, ['serve', 'stop']);
      t.is(stopped.code, 0, stopped.stdout + stopped.stderr);
    }

    const lib = await npx(p, ['lib', 'install']);
    t.is(lib.code, 0, lib.stdout + lib.stderr);
    const installedLib = path.join(p.home, '.rampart', 'lib', 'librampart.so');
    t.deepEqual(fs.readFileSync(installedLib), fs.readFileSync(path.join(p.dir, 'node_modules', '@rampart', 'core-linux-x64-gnu', 'librampart.so')));
  }));

test('without the platform package, rampart says which package is missing and how to build from source', async (t) => {
  const p = await project([mainTarball]);
  t.false(fs.existsSync(path.join(p.dir, 'node_modules', '@rampart', 'core-linux-x64-gnu')));
  const result = await npx(p, ['preload', '--', 'true']);
  t.is(result.code, 1, result.stderr);
  t.regex(result.stderr, /@rampart\/core-linux-x64-gnu/);
  t.regex(result.stderr, /cargo build --release -p rampart-preload|build it from source/);
  t.notRegex(result.stderr, /^\s+at /m, 'no stack trace');

  const setup = await npx(p, ['setup', 'codex']);
  t.is(setup.code, 1);
  t.regex(setup.stderr, /not installing the codex wrapper/);
  t.false(fs.existsSync(path.join(p.home, '.local', 'bin', 'codex')));
});
