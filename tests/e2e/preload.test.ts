// `rampart preload` end to end, as a user runs it: the built CLI, the built librampart.so in a
// temporary HOME, a real `rampart serve` on loopback, real children. docs/cli.md CLI-PRELOAD-1..11.
// Serial: each test starts several node processes, and the machine has 2 shared cores.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { cliPath, freePort, repoRoot, run, runCli, tempDir, withDefaultPortLock } from '../helpers.ts';
import { decoyRm, homeAndServerForFile, homeWithLibrary, pathWith, startServer } from './preload-fixtures.ts';

const shared = homeAndServerForFile();

const preload = (args: string[], env: NodeJS.ProcessEnv = {}, options: { cwd?: string; timeoutMs?: number } = {}) =>
  runCli(['preload', '--port', String(shared.server.port), ...args], { ...shared.home.env, ...env }, options);

const BLOCKED = /^rampart: blocked — .+$/m;

test.serial('an allowed command runs with its output and exit code 0', async (t) => {
  const result = await preload(['--', 'echo', 'hello', 'world']);
  t.is(result.stdout, 'hello world\n');
  t.is(result.stderr, '');
  t.is(result.code, 0);
});

test.serial("exit codes: the command's own exit code comes back", async (t) => {
  const result = await preload(['--', 'sh', '-c', 'exit 3']);
  t.is(result.code, 3, result.stderr);
});

test.serial('exit codes: a command killed by signal N gives 128+N', async (t) => {
  const result = await preload(['--', 'sh', '-c', 'kill -9 $$']);
  t.is(result.code, 128 + 9, result.stderr);
});

test.serial('exit codes: a command that does not exist gives 127 like a shell', async (t) => {
  const result = await preload(['--', 'no-such-command-rampart-e2e']);
  t.is(result.code, 127);
  t.is(result.stderr, 'rampart: no-such-command-rampart-e2e: command not found\n');
});

test.serial('the top-level command itself is checked: blocked → one blocked line and exit 126', async (t) => {
  const decoy = decoyRm();
  const result = await preload(['--', 'rm', '-rf', '/'], { PATH: pathWith(decoy.binDir) });
  t.regex(result.stderr, BLOCKED);
  t.is(result.stderr.trim().split('\n').length, 1, result.stderr);
  t.is(result.code, 126);
  t.false(decoy.ran(), 'the denied command must not run');
});

test.serial('a denied command inside the agent fails with EPERM and one blocked line (os.system)', async (t) => {
  const decoy = decoyRm();
  const result = await preload(['--', 'python3', '-c', "import os; print('status', os.system('rm -rf /'))"], {
    PATH: pathWith(decoy.binDir),
  });
  t.regex(result.stderr, BLOCKED);
  t.false(decoy.ran(), 'rm must not have run');
  t.regex(result.stdout, /^status -?\d+\n$/);
  t.not(result.stdout, 'status 0\n', `os.system must report failure: ${result.stderr}`);
  t.is(result.code, 0);
});

test.serial('Python sees OSError [Errno 1] Operation not permitted for subprocess.run of a denied command', async (t) => {
  const decoy = decoyRm();
  const script = [
    'import subprocess',
    'try:',
    "    subprocess.run(['rm', '-rf', '/'])",
    "    print('ran')",
    'except OSError as e:',
    "    print(f'{type(e).__name__} errno={e.errno} {e.strerror}')",
  ].join('\n');
  const result = await preload(['--', 'python3', '-c', script], { PATH: pathWith(decoy.binDir) });
  t.is(result.stdout, 'PermissionError errno=1 Operation not permitted\n', result.stderr);
  t.regex(result.stderr, BLOCKED);
  t.false(decoy.ran());
  t.is(result.code, 0);
});

test.serial('cascade: a denied command two levels down (node → sh script → rm) is blocked', async (t) => {
  const decoy = decoyRm();
  const cleanup = path.join(tempDir('rampart-e2e-cascade-'), 'cleanup.sh');
  fs.writeFileSync(cleanup, 'rm -rf /\necho sh-went-on\n');
  const script = `const r = require('child_process').spawnSync('sh', [${JSON.stringify(cleanup)}], {encoding: 'utf8'}); process.stdout.write(String(r.stdout)); process.stderr.write(String(r.stderr))`;
  const result = await preload(['--', process.execPath, '-e', script], { PATH: pathWith(decoy.binDir) });
  t.false(decoy.ran());
  t.regex(result.stderr, BLOCKED);
  t.is(result.stdout, 'sh-went-on\n');
});

test.serial('examples/agent.js: the everyday command runs, the destructive one is blocked with EPERM', async (t) => {
  const result = await preload(['--', 'node', path.join(repoRoot, 'examples', 'agent.js')]);
  t.regex(result.stdout, /allowed: hello from the agent/);
  t.regex(result.stdout, /`rm -rf \/`.*\n {2}blocked: EPERM/);
  t.notRegex(result.stdout, /decoy rm ran/);
  t.regex(result.stderr, BLOCKED);
  t.is(result.code, 0);
});

test.serial('examples/agent.py: the everyday command runs, the destructive one raises PermissionError', async (t) => {
  const result = await preload(['--', 'python3', path.join(repoRoot, 'examples', 'agent.py')]);
  t.regex(result.stdout, /allowed: hello from the agent/);
  t.regex(result.stdout, /blocked: PermissionError: \[Errno 1\] Operation not permitted/);
  t.notRegex(result.stdout, /decoy rm ran/);
  t.is(result.code, 0);
});

test.serial('the child environment: library first in LD_PRELOAD (no duplicate), RAMPART_* from the flags', async (t) => {
  // Nonexistent entries: ld.so only warns about them, and the CLI itself stays unpreloaded.
  const other = '/nonexistent/rampart-e2e-other.so';
  const older = '/nonexistent/old/librampart.so';
  const libDir = path.join(shared.home.dir, '.rampart', 'lib', 'librampart.so');
  const result = await preload(
    [
      '--agent',
      'a1',
      '--session',
      's1',
      '--mode',
      'monitor',
      '--fail-open=false',
      '--',
      'sh',
      '-c',
      'echo "$LD_PRELOAD|$RAMPART_URL|$RAMPART_MODE|$RAMPART_FAIL_OPEN|$RAMPART_AGENT|$RAMPART_SESSION|$RAMPART_TOKEN"',
    ],
    { LD_PRELOAD: `${older} ${other}:${older}` },
  );
  t.is(result.stdout, `${libDir}:${other}|${shared.server.url}|monitor|0|a1|s1|${shared.server.token}\n`, result.stderr);
});

test.serial('defaults: mode enforce, fail-open 1, agent preload, session preload-<pid of the CLI>', async (t) => {
  const result = await preload(['--', 'sh', '-c', 'echo "$RAMPART_MODE|$RAMPART_FAIL_OPEN|$RAMPART_AGENT|$RAMPART_SESSION"']);
  t.regex(result.stdout, /^enforce\|1\|preload\|preload-\d+\n$/, result.stderr);
});

test.serial('exported RAMPART_MODE / RAMPART_FAIL_OPEN / RAMPART_AGENT / RAMPART_SESSION apply when no flag is given; a flag wins', async (t) => {
  const show = ['sh', '-c', 'echo "$RAMPART_MODE|$RAMPART_FAIL_OPEN|$RAMPART_AGENT|$RAMPART_SESSION"'];
  const exported = { RAMPART_MODE: 'monitor', RAMPART_FAIL_OPEN: '0', RAMPART_AGENT: 'codex', RAMPART_SESSION: 'run-7' };
  const fromEnv = await preload(['--', ...show], exported);
  t.is(fromEnv.stdout, 'monitor|0|codex|run-7\n', fromEnv.stderr);
  const flagsWin = await preload(['--mode', 'enforce', '--fail-open=true', '--agent', 'a', '--session', 's', '--', ...show], exported);
  t.is(flagsWin.stdout, 'enforce|1|a|s\n', flagsWin.stderr);
});

test.serial('RAMPART_* values are read as the library reads them: its spellings are accepted, what it refuses is refused up front in one line', async (t) => {
  const show = ['sh', '-c', 'echo "$RAMPART_MODE|$RAMPART_FAIL_OPEN"'];
  const spelled = await preload(['--', ...show], { RAMPART_MODE: 'Monitor', RAMPART_FAIL_OPEN: 'yes' });
  t.is(spelled.stdout, 'monitor|1\n', spelled.stderr);
  const off = await preload(['--', ...show], { RAMPART_FAIL_OPEN: 'OFF' });
  t.is(off.stdout, 'enforce|0\n', off.stderr);
  for (const [env, message] of [
    [{ RAMPART_FAIL_OPEN: 'maybe' }, 'rampart: RAMPART_FAIL_OPEN must be 1, true, yes, on or 0, false, no, off (got "maybe")\n'],
    [{ RAMPART_MODE: 'audit' }, 'rampart: RAMPART_MODE must be one of enforce, monitor, disabled (got "audit")\n'],
    [{ RAMPART_URL: 'http://127.0.0.1:9090/?x' }, 'rampart: RAMPART_URL is invalid: must not carry a query or fragment (got "http://127.0.0.1:9090/?x")\n'],
  ] as const) {
    // Without --port, which would replace RAMPART_URL.
    const refused = await runCli(['preload', '--', 'sh', '-c', 'echo ran'], { ...shared.home.env, RAMPART_URL: shared.server.url, ...env });
    t.is(refused.code, 1, JSON.stringify(env));
    t.is(refused.stdout, '', 'nothing ran');
    t.is(refused.stderr, message);
  }
});

test.serial('an https RAMPART_URL is refused up front: the library speaks plain HTTP', async (t) => {
  const result = await runCli(['preload', '--', 'true'], { ...shared.home.env, RAMPART_URL: 'https://127.0.0.1:9443' });
  t.is(result.code, 1);
  t.regex(result.stderr, /RAMPART_URL uses https, which librampart.so does not support/);
});

test.serial('RAMPART_URL from the environment is used when --port is not given', async (t) => {
  const result = await runCli(['preload', '--', 'sh', '-c', 'echo "$RAMPART_URL"'], { ...shared.home.env, RAMPART_URL: shared.server.url });
  t.is(result.stdout, `${shared.server.url}\n`, result.stderr);
  t.is(result.code, 0);
});

test.serial('--debug: the CLI diagnostics first (token source, never the token), then the library lines', async (t) => {
  const result = await preload(['--debug', '--', 'sh', '-c', 'ls / > /dev/null']);
  t.is(result.code, 0, result.stderr);
  const lines = result.stderr.trim().split('\n');
  const firstLibraryLine = lines.findIndex((line) => line.startsWith('rampart_preload: '));
  const lastCliLine = lines.map((line) => line.startsWith('rampart: debug: ')).lastIndexOf(true);
  t.true(firstLibraryLine > lastCliLine && lastCliLine >= 0, result.stderr);
  for (const key of ['library', 'server', 'token', 'mode', 'fail-open', 'agent', 'session']) {
    t.true(
      lines.some((line) => line.startsWith(`rampart: debug: ${key}: `)),
      `no ${key} line in:\n${result.stderr}`,
    );
  }
  t.true(lines.includes('rampart: debug: token: from ~/.rampart/token'), result.stderr);
  t.regex(result.stderr, /^rampart_preload: intercepted /m);
  t.false(result.stderr.includes(shared.server.token), 'the token must never be printed');
});

test.serial('monitor mode: the denial is audited but the command runs', async (t) => {
  const monitorHome = homeWithLibrary();
  const auditDir = tempDir('rampart-e2e-audit-');
  const monitorServer = await startServer(monitorHome, ['--audit-dir', auditDir]);
  t.teardown(() => monitorServer.stop());
  const decoy = decoyRm();
  const result = await runCli(['preload', '--port', String(monitorServer.port), '--mode', 'monitor', '--', 'sh', '-c', 'rm -rf /'], {
    ...monitorHome.env,
    PATH: pathWith(decoy.binDir),
  });
  t.is(result.code, 0, result.stderr);
  t.true(decoy.ran(), 'monitor mode never blocks');
  t.notRegex(result.stderr, BLOCKED);
  const audit = fs
    .readdirSync(auditDir)
    .filter((name) => name.endsWith('.jsonl'))
    .map((name) => fs.readFileSync(path.join(auditDir, name), 'utf8'))
    .join('');
  const events = audit
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { request?: { command?: string }; decision?: { action?: string } });
  const rm = events.filter((event) => event.request?.command === 'rm -rf /');
  t.true(rm.length > 0, `no audit event for rm -rf / in:\n${audit}`);
  t.true(
    rm.some((event) => event.decision?.action === 'deny'),
    JSON.stringify(rm),
  );
});

test.serial('--fail-open=false with no server: everything is blocked (exit 126)', async (t) => {
  const port = await freePort();
  const result = await runCli(['preload', '--port', String(port), '--fail-open=false', '--', 'echo', 'should-not-run'], shared.home.env);
  t.is(result.code, 126);
  t.is(result.stdout, '');
  t.regex(result.stderr, BLOCKED);
});

test.serial('--fail-open false (value as the next word) and --no-fail-open mean the same', async (t) => {
  const port = await freePort();
  for (const flags of [
    ['--fail-open', 'false', '--'],
    ['--no-fail-open', '--'],
  ]) {
    const result = await runCli(['preload', '--port', String(port), ...flags, 'echo', 'should-not-run'], shared.home.env);
    t.is(result.code, 126, `${flags.join(' ')}: ${result.stderr}`);
    t.is(result.stdout, '');
  }
});

test.serial('fail-open (default) with no server at an explicit port: one warning, the command runs', async (t) => {
  const port = await freePort();
  const result = await runCli(['preload', '--port', String(port), '--', 'echo', 'ran'], shared.home.env);
  t.is(result.stdout, 'ran\n');
  t.is(result.code, 0);
  const lines = result.stderr.trim().split('\n');
  t.is(lines.length, 1, result.stderr);
  t.regex(lines[0]!, new RegExp(`^rampart: warning: no policy server answers at http://127\\.0\\.0\\.1:${port}`));
});

test.serial('signals sent to rampart preload reach the command (SIGTERM → the trap runs)', async (t) => {
  const child = spawn(
    process.execPath,
    [cliPath, 'preload', '--port', String(shared.server.port), '--', 'sh', '-c', 'trap "kill $pid; exit 42" TERM; echo ready; sleep 30 & pid=$!; wait $pid'],
    {
      env: { ...process.env, ...shared.home.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));
  await new Promise((resolve) => setTimeout(resolve, 500)); // let sh start sleep and wait
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  t.is(await exited, 42, stderr);
});

test.serial('a command killed by a forwarded signal: 128+15', async (t) => {
  const child = spawn(process.execPath, [cliPath, 'preload', '--port', String(shared.server.port), '--', 'sh', '-c', 'echo ready; exec sleep 30'], {
    env: { ...process.env, ...shared.home.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise((resolve) => setTimeout(resolve, 500)); // let sh exec sleep
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  t.is(await exited, 128 + 15, stderr);
});

test.serial('a statically linked target gets a warning naming rampart wrap; refused with --fail-open=false', async (t) => {
  const dir = tempDir('rampart-e2e-static-');
  fs.writeFileSync(path.join(dir, 'hello.c'), '#include <stdio.h>\nint main(void){puts("static hello");return 5;}\n');
  const binary = path.join(dir, 'hello-static');
  const cc = spawnSync('gcc', ['-static', '-o', binary, path.join(dir, 'hello.c')], { encoding: 'utf8' });
  if (cc.status !== 0) {
    t.log(`SKIPPED: gcc -static does not work here: ${cc.error?.message ?? cc.stderr}`);
    t.pass();
    return;
  }
  const warned = await preload(['--', binary]);
  t.is(warned.stdout, 'static hello\n');
  t.is(warned.code, 5);
  t.is(warned.stderr, `rampart: warning: ${binary} is statically linked; LD_PRELOAD cannot protect it — use: rampart wrap -- ${binary}\n`);
  const refused = await preload(['--fail-open=false', '--', binary]);
  t.is(refused.code, 126);
  t.is(refused.stdout, '');
  t.regex(refused.stderr, /refusing to run .*statically linked.*rampart wrap/);

  // A script is judged by its interpreter.
  const script = path.join(dir, 'script');
  fs.writeFileSync(script, `#!${binary}\n`, { mode: 0o755 });
  const viaScript = await preload(['--', script]);
  t.is(viaScript.code, 5);
  t.is(viaScript.stderr, `rampart: warning: ${binary} is statically linked; LD_PRELOAD cannot protect it — use: rampart wrap -- ${script}\n`);
});

test.serial('a setuid target gets a warning naming rampart wrap', async (t) => {
  const binary = path.join(tempDir('rampart-e2e-setuid-'), 'true-setuid');
  fs.copyFileSync('/bin/true', binary);
  fs.chmodSync(binary, 0o4755);
  const result = await preload(['--', binary]);
  t.is(result.code, 0);
  t.is(result.stderr, `rampart: warning: ${binary} is setuid, so the loader ignores LD_PRELOAD for it — use: rampart wrap -- ${binary}\n`);
});

test.serial('bad flags: a bad mode, port or fail-open value, or no command, is a usage error (exit 1)', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--mode', 'bogus', '--', 'true'], /Invalid value for --mode/],
    [['--port', '70000', '--', 'true'], /Invalid value for --port/],
    [['--port', 'abc', '--', 'true'], /Invalid value for --port/],
    [['--fail-open=maybe', '--', 'true'], /Invalid value for --fail-open: expected 1, true, yes, on or 0, false, no, off/],
    [[], /Not enough positional arguments/],
    [['--'], /Command not found|Not enough positional arguments|Missing the command/],
    [['--fail-open', 'false'], /Missing the command to run/],
  ];
  for (const [args, message] of cases) {
    const result = await runCli(['preload', ...args], shared.home.env);
    t.is(result.code, 1, args.join(' '));
    t.regex(result.stdout + result.stderr, message, args.join(' '));
  }
});

test.serial('a bad RAMPART_URL is a usage error saying what is wrong', async (t) => {
  const result = await runCli(['preload', '--', 'true'], { ...shared.home.env, RAMPART_URL: 'ftp://127.0.0.1:9090' });
  t.is(result.code, 1);
  t.regex(result.stderr, /RAMPART_URL scheme "ftp" is not http or https/);
});

test.serial('a missing library: what was searched and how to install it, exit 1 (nothing runs)', async (t) => {
  if (fs.existsSync('/usr/local/lib/librampart.so')) {
    t.log('SKIPPED: /usr/local/lib/librampart.so exists on this machine');
    t.pass();
    return;
  }
  // An installed copy of the package with no library anywhere (no target/release beside it).
  const pkg = tempDir('rampart-e2e-pkg-');
  for (const entry of ['dist', 'native', 'package.json']) fs.cpSync(path.join(repoRoot, entry), path.join(pkg, entry), { recursive: true });
  fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(pkg, 'node_modules'));
  const emptyHome = tempDir('rampart-e2e-nolib-');
  const marker = path.join(emptyHome, 'ran');
  const result = await run(process.execPath, [path.join(pkg, 'dist', 'cli.js'), 'preload', '--', 'touch', marker], {
    env: { ...process.env, HOME: emptyHome },
  });
  t.is(result.code, 1);
  t.false(fs.existsSync(marker));
  t.regex(result.stderr, /^rampart: librampart.so not found$/m);
  t.true(result.stderr.includes(path.join(emptyHome, '.rampart', 'lib', 'librampart.so')), result.stderr);
  t.regex(result.stderr, /rampart lib install/);
  t.regex(result.stderr, /cargo build --release -p rampart-preload/);
});

test.serial('autostart: with nothing on 127.0.0.1:9090, a policy server is started (one line) and protects', async (t) =>
  // The packed-install test in another ava process autostarts on 9090 too.
  withDefaultPortLock(async () => {
    const busy = await new Promise<boolean>((resolve) => {
      const probe = net.connect(9090, '127.0.0.1');
      probe.once('connect', () => (probe.destroy(), resolve(true)));
      probe.once('error', () => resolve(false));
    });
    if (busy) {
      t.log('SKIPPED: something already listens on 127.0.0.1:9090');
      t.pass();
      return;
    }
    const autoHome = homeWithLibrary();
    // The autostarted server is detached by design: stop it the way the start line says.
    t.teardown(async () => {
      const stopped = await runCli(['serve', 'stop'], autoHome.env);
      if (stopped.code !== 0) console.error(`rampart serve stop failed: ${stopped.stderr}`);
    });
    const decoy = decoyRm();
    const result = await runCli(['preload', '--', 'sh', '-c', 'rm -rf / ; echo after'], { ...autoHome.env, PATH: pathWith(decoy.binDir) });
    const lines = result.stderr.trim().split('\n');
    t.regex(lines[0]!, /^rampart: started policy server on http:\/\/127\.0\.0\.1:9090 \(built-in policy\).*rampart serve stop$/, result.stderr);
    t.true(fs.existsSync(path.join(autoHome.dir, '.rampart', 'token')), 'the server generated the token in the temp HOME');
    // Blocked either at the top level (sh -c '...rm -rf /...') or by the library inside sh.
    t.regex(result.stderr, BLOCKED);
    t.false(decoy.ran());
    const again = await runCli(['preload', '--', 'echo', 'second run'], autoHome.env);
    t.is(again.stderr, '', 'the second run finds the server already running');
    t.is(again.stdout, 'second run\n');
  }),
);

test.serial('autostart that fails (a policy file with an error) stops the run with the file and line, never runs unchecked', async (t) =>
  withDefaultPortLock(async () => {
    if (await portBusy(9090)) {
      t.log('SKIPPED: something already listens on 127.0.0.1:9090');
      t.pass();
      return;
    }
    const home = homeWithLibrary();
    const policies = path.join(home.dir, '.rampart', 'policies');
    fs.mkdirSync(policies, { recursive: true });
    fs.writeFileSync(path.join(policies, 'typo.yaml'), 'version: "1"\npolicies:\n  - name: mine\n    rules:\n      - action: denyy\n');
    const marker = path.join(tempDir(), 'ran');
    const result = await runCli(['preload', '--', 'touch', marker], home.env);
    t.is(result.code, 1, result.stderr);
    t.false(fs.existsSync(marker), 'the command did not run');
    t.regex(result.stderr, /could not start a policy server/);
    t.true(result.stderr.includes(`${path.join(policies, 'typo.yaml')}:5:`), result.stderr);
    t.regex(result.stderr, /--no-serve/);
    const status = await runCli(['serve', 'status'], home.env);
    t.is(status.code, 1, 'no server left behind');
  }),
);

function portBusy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(port, '127.0.0.1');
    probe.once('connect', () => (probe.destroy(), resolve(true)));
    probe.once('error', () => resolve(false));
  });
}

/** A loopback server that answers /healthz like rampart and preflight with `reply`. */
async function fakeServer(t: import('ava').ExecutionContext, reply: (res: import('node:http').ServerResponse) => void) {
  const http = await import('node:http');
  const fake = http.createServer((req, res) => {
    if (req.url === '/healthz') res.end(JSON.stringify({ service: 'rampart', status: 'ok', mode: 'enforce' }));
    else reply(res);
  });
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    fake.closeAllConnections();
    fake.close();
  });
  return (fake.address() as net.AddressInfo).port;
}

test.serial('hostile replies to the top-level check never allow in enforce mode', async (t) => {
  const replies: [string, (res: import('node:http').ServerResponse) => void, RegExp][] = [
    ['allowed is not a boolean', (res) => res.end('{"allowed":"yes"}'), /unexpected reply from the policy server \(HTTP 200\)/],
    ['not JSON', (res) => res.end('<html>'), /unexpected reply/],
    [
      '401',
      (res) => ((res.statusCode = 401), res.end('{"error":"invalid authorization token"}')),
      /refused the token \(HTTP 401: invalid authorization token\)/,
    ],
    ['oversized', (res) => res.end(`{"allowed":true,"pad":"${'x'.repeat(200_000)}"}`), /larger than/],
    // JSON.parse keeps the last one; the library refuses the answer, so the CLI must too.
    ['allowed duplicated', (res) => res.end('{"allowed":false,"allowed":true}'), /"allowed" appears more than once/],
  ];
  for (const [what, reply, message] of replies) {
    const port = await fakeServer(t, reply);
    const result = await runCli(['preload', '--port', String(port), '--', 'echo', 'should-not-run'], shared.home.env);
    t.is(result.code, 126, `${what}: ${result.stderr}`);
    t.is(result.stdout, '', what);
    t.regex(result.stderr, message, what);
  }
});

test.serial("a server's deny message stays one line: no newline or terminal escape reaches stderr", async (t) => {
  const port = await fakeServer(t, (res) => res.end(JSON.stringify({ allowed: false, message: '\u001b[2J\u001b[31mno\nrampart: allowed — fake\r' })));
  const result = await runCli(['preload', '--port', String(port), '--', 'echo', 'should-not-run'], shared.home.env);
  t.is(result.code, 126, result.stderr);
  t.is(result.stderr, 'rampart: blocked —  [2J [31mno rampart: allowed — fake \n');
});

test.serial('RAMPART_URL with a path prefix: the CLI asks under the prefix, like the library', async (t) => {
  const http = await import('node:http');
  const asked: string[] = [];
  const prefixed = http.createServer((req, res) => {
    asked.push(req.url ?? '');
    if (req.url === '/rampart/healthz') res.end(JSON.stringify({ service: 'rampart', status: 'ok', mode: 'enforce' }));
    else if (req.url === '/rampart/v1/preflight/exec') res.end('{"allowed":false,"message":"prefixed policy says no"}');
    else ((res.statusCode = 404), res.end('{"error":"not found"}'));
  });
  await new Promise<void>((resolve) => prefixed.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    prefixed.closeAllConnections();
    prefixed.close();
  });
  const url = `http://127.0.0.1:${(prefixed.address() as net.AddressInfo).port}/rampart`;
  const result = await runCli(['preload', '--', 'echo', 'should-not-run'], { ...shared.home.env, RAMPART_URL: url });
  t.is(result.code, 126, result.stderr);
  t.is(result.stdout, '');
  t.is(result.stderr, 'rampart: blocked — prefixed policy says no\n');
  t.deepEqual(asked.sort(), ['/rampart/healthz', '/rampart/v1/preflight/exec']);
});

test.serial('a damaged or empty ~/.rampart/token is a clear setup error for preload and serve, exit 1, nothing runs', async (t) => {
  const home = homeWithLibrary();
  const file = path.join(home.dir, '.rampart', 'token');
  const fix = `delete ${file} to have rampart serve generate a new one, or write the server's token into it`;
  for (const [content, problem] of [
    ['abc\u0000def\u0001\n', `the token in ${file} contains spaces or control or non-ASCII characters`],
    ['\n', `token file ${file} is empty`],
  ] as const) {
    fs.writeFileSync(file, content, { mode: 0o600 });
    const result = await runCli(['preload', '--port', String(shared.server.port), '--', 'echo', 'should-not-run'], home.env);
    t.is(result.code, 1, result.stderr);
    t.is(result.stdout, '');
    t.is(result.stderr, `rampart: ${problem}; ${fix}\n`);
    const serve = await runCli(['serve', '--port', String(await freePort())], home.env);
    t.is(serve.code, 1, serve.stderr);
    t.is(serve.stderr, `rampart serve: ${problem}; ${fix}\n`);
  }
});

test.serial('a server that accepts and never answers, or answers 5xx, follows fail-open', async (t) => {
  const hang = await fakeServer(t, () => {});
  const broken = await fakeServer(t, (res) => ((res.statusCode = 503), res.end('{"error":"audit write failed"}')));
  for (const port of [hang, broken]) {
    const open = await runCli(['preload', '--port', String(port), '--', 'echo', 'ran'], shared.home.env);
    t.is(open.stdout, 'ran\n', open.stderr);
    t.is(open.code, 0);
    // The health check passed, so nothing was said yet: running unchecked is announced once.
    t.regex(open.stderr, /^rampart: warning: policy server at http:\/\/127\.0\.0\.1:\d+ did not decide \(.+\); running echo unchecked \(--fail-open=true\)$/m);
    t.is(open.stderr.split('\n').filter((line) => line.includes('unchecked')).length, 1, open.stderr);
    const closed = await runCli(['preload', '--port', String(port), '--fail-open=false', '--', 'echo', 'ran'], shared.home.env);
    t.is(closed.code, 126, closed.stderr);
    t.regex(closed.stderr, /^rampart: blocked — policy server unreachable at .* and --fail-open=false$/m);
  }
});

test.serial('rampart preload itself running under an outer preload: an outer denial is exit 126, never a crash', async (t) => {
  const outer = await fakeServer(t, (res) => res.end('{"allowed":false,"message":"outer policy says no"}'));
  const library = path.join(shared.home.dir, '.rampart', 'lib', 'librampart.so');
  const result = await preload(['--token', shared.server.token, '--', 'echo', 'should-not-run'], {
    LD_PRELOAD: library,
    RAMPART_URL: `http://127.0.0.1:${outer}`,
    RAMPART_TOKEN: 'outer-token',
  });
  t.is(result.code, 126, result.stderr);
  t.is(result.stdout, '');
  t.regex(result.stderr, /^rampart: blocked — outer policy says no$/m);
  t.notRegex(result.stderr, /Internal Error|at .*\.js:\d+/);
});
