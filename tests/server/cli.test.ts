// `rampart serve` as users run it (the built CLI, dist/cli.js): start-up, token file, clean
// stop, bad policy, background/stop/status, a second server refused, SIGKILL under load,
// and `rampart audit verify` / `rampart audit tail`.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { resolveClientToken } from '../../src/util/token.ts';
import { cliPath, freePort, runCli, tempDir } from '../helpers.ts';
import { BASE_POLICY, eventually } from './support.ts';

function setup() {
  const home = tempDir('rampart-home-');
  const policy = path.join(home, 'policy.yaml');
  fs.writeFileSync(policy, BASE_POLICY);
  return { home, policy, rampart: path.join(home, '.rampart'), env: { HOME: home, RAMPART_TOKEN: '' } };
}

/** Starts `rampart serve` in the foreground; resolves once it logged its start-up line. */
function startServe(args: string[], env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; stderr: () => string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [cliPath, 'serve', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  // 'close', not 'exit': the last stderr lines (the stop message) may still be in the pipe at 'exit'.
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 30_000);
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('listening on')) {
        clearTimeout(timer);
        resolve({ child, stderr: () => stderr, exited });
      }
    });
    child.on('exit', () => {
      clearTimeout(timer);
      reject(new Error(`serve exited: ${stderr}`));
    });
  });
}

async function preflight(url: string, token: string, command: string) {
  const reply = await fetch(`${url}/v1/preflight/exec`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: JSON.stringify({ agent: 'cli-test', session: 's', params: { command }, enforce: true }),
  });
  return { status: reply.status, json: (await reply.json()) as any };
}

test('serve: generates the token (0600, no newline) before serving, logs one start-up line, stops on SIGTERM', async (t) => {
  const { home, policy, rampart, env } = setup();
  const port = await freePort();
  const serve = await startServe(['--port', String(port), '--config', policy], env);
  t.teardown(() => serve.child.kill('SIGKILL'));
  const line = serve.stderr().trim();
  t.regex(line, new RegExp(`^rampart serve: listening on http://127\\.0\\.0\\.1:${port} \\(mode enforce, 3 policies, audit ${rampart}/audit`));
  const token = fs.readFileSync(path.join(rampart, 'token'), 'utf8');
  t.regex(token, /^[0-9a-f]{64}$/);
  t.is(fs.statSync(path.join(rampart, 'token')).mode & 0o777, 0o600);
  t.is(fs.statSync(rampart).mode & 0o777, 0o700);
  t.is(fs.statSync(path.join(rampart, 'audit')).mode & 0o777, 0o700);
  // What `rampart preload` does after starting a server: find the token and use it.
  const client = resolveClientToken(undefined, rampart);
  t.deepEqual(client, { token, source: 'file' });
  t.is((await preflight(`http://127.0.0.1:${port}`, client!.token, 'rm -rf /')).json.decision, 'deny');
  t.like(JSON.parse(fs.readFileSync(path.join(rampart, 'serve.pid'), 'utf8')), { pid: serve.child.pid, port });
  // Named rampart-serve, not node: `killall node` (which matches comm) leaves the server alone.
  t.is(fs.readFileSync(`/proc/${serve.child.pid}/comm`, 'utf8').trim(), 'rampart-serve');

  serve.child.kill('SIGTERM');
  t.is(await serve.exited, 0);
  t.regex(serve.stderr(), /stopping \(SIGTERM\)/);
  t.false(fs.existsSync(path.join(rampart, 'serve.pid')));
  void home;
});

test('serve: RAMPART_TOKEN and --token take precedence over the token file', async (t) => {
  const { policy, rampart, env } = setup();
  const port = await freePort();
  const serve = await startServe(['--port', String(port), '--config', policy, '--token', 'flag-token'], { ...env, RAMPART_TOKEN: 'env-token' });
  t.teardown(() => serve.child.kill('SIGKILL'));
  const url = `http://127.0.0.1:${port}`;
  t.is((await preflight(url, 'flag-token', 'ls')).status, 200);
  t.is((await preflight(url, 'env-token', 'ls')).status, 401);
  t.false(fs.existsSync(path.join(rampart, 'token')));
});

test('serve: a policy file that does not load is reported with file:line, exit 1, no stack trace', async (t) => {
  const { home, env } = setup();
  const bad = path.join(home, 'bad.yaml');
  fs.writeFileSync(bad, 'version: "1"\npolicies:\n  - name: x\n    rules:\n      - action: explode\n');
  const result = await runCli(['serve', '--port', String(await freePort()), '--config', bad], env, { timeoutMs: 30_000 });
  t.is(result.code, 1);
  t.regex(result.stderr, new RegExp(`cannot load policies: ${bad.replace(/\./g, '\\.')}:\\d+: `));
  t.notRegex(result.stderr, /\n\s+at /);
});

test('serve: bad flags are usage errors', async (t) => {
  const { env } = setup();
  for (const args of [
    ['--port', '70000'],
    ['--port', 'abc'],
    ['--mode', 'loud'],
    ['--addr', 'localhost'],
  ]) {
    const result = await runCli(['serve', ...args], env, { timeoutMs: 30_000 });
    t.is(result.code, 1, args.join(' '));
    t.notRegex(result.stdout + result.stderr, /\n\s+at /);
  }
});

test('serve --background, status, a second server refused, stop', async (t) => {
  const { policy, rampart, env } = setup();
  const port = await freePort();
  const started = await runCli(['serve', '--background', '--port', String(port), '--config', policy], env, { timeoutMs: 30_000 });
  t.teardown(async () => void (await runCli(['serve', 'stop'], env)));
  t.is(started.code, 0, started.stderr);
  const record = JSON.parse(fs.readFileSync(path.join(rampart, 'serve.pid'), 'utf8'));
  t.is(started.stdout.trim().split('\n').length, 1);
  t.true(started.stdout.includes(`pid ${record.pid}`) && started.stdout.includes(`http://127.0.0.1:${port}`));
  t.regex(fs.readFileSync(path.join(rampart, 'serve.log'), 'utf8'), /listening on/);

  const status = await runCli(['serve', 'status'], env);
  t.is(status.code, 0);
  t.regex(status.stdout, /running/);
  t.true(status.stdout.includes(String(record.pid)));
  const json = JSON.parse((await runCli(['serve', 'status', '--json'], env)).stdout);
  t.like(json, { running: true, pid: record.pid, url: `http://127.0.0.1:${port}`, mode: 'enforce', healthy: true });

  // The token the background server generated is the one a client finds.
  const token = resolveClientToken(undefined, rampart)!.token;
  t.is((await preflight(`http://127.0.0.1:${port}`, token, 'sudo ls')).json.decision, 'ask');

  const again = await runCli(['serve', '--background', '--port', String(port)], env, { timeoutMs: 30_000 });
  t.is(again.code, 1);
  t.regex(again.stderr, new RegExp(`already running \\(pid ${record.pid}, http://127\\.0\\.0\\.1:${port}\\)`));
  // Another HOME, same port: the port conflict is named, without a stack trace.
  const other = setup();
  const clash = await runCli(['serve', '--port', String(port), '--config', other.policy], other.env, { timeoutMs: 30_000 });
  t.is(clash.code, 1);
  t.regex(clash.stderr, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
  t.notRegex(clash.stderr, /\n\s+at /);
  const clashBackground = await runCli(['serve', '--background', '--port', String(port), '--config', other.policy], other.env, { timeoutMs: 30_000 });
  t.is(clashBackground.code, 1);
  t.regex(clashBackground.stderr, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));

  const stop = await runCli(['serve', 'stop'], env);
  t.is(stop.code, 0);
  t.regex(stop.stdout, new RegExp(`stopped \\(pid ${record.pid}`));
  t.false(fs.existsSync(path.join(rampart, 'serve.pid')));
  t.true(await eventually(async () => (await runCli(['serve', 'status'], env)).code === 1));
  const stopAgain = await runCli(['serve', 'stop'], env);
  t.is(stopAgain.code, 1);
  t.regex(stopAgain.stderr, /not running/);
});

test('serve stop never signals a process that merely reused the recorded pid (e.g. `npx serve`)', async (t) => {
  const home = tempDir('rampart-home-');
  // A live stranger whose argv contains "serve", recorded in a stale pid file.
  const stranger = spawn('bash', ['-c', 'exec -a serve sleep 30'], { stdio: 'ignore' });
  t.teardown(() => stranger.kill('SIGKILL'));
  await eventually(() => fs.existsSync(`/proc/${stranger.pid}/cmdline`) && fs.readFileSync(`/proc/${stranger.pid}/cmdline`, 'utf8').startsWith('serve'));
  fs.mkdirSync(path.join(home, '.rampart'), { recursive: true });
  fs.writeFileSync(path.join(home, '.rampart', 'serve.pid'), JSON.stringify({ pid: stranger.pid, url: 'http://127.0.0.1:1', port: 1 }));
  const stop = await runCli(['serve', 'stop'], { HOME: home });
  t.is(stop.code, 1, stop.stdout + stop.stderr);
  t.regex(stop.stderr, /not running/);
  t.is(stranger.exitCode, null, 'the stranger is still running');
  t.notThrows(() => process.kill(stranger.pid!, 0));
});

test('serve --background reports a server that cannot start, with the log tail', async (t) => {
  const { home, env } = setup();
  const bad = path.join(home, 'bad.yaml');
  fs.writeFileSync(bad, 'policies: [\n');
  const result = await runCli(['serve', '--background', '--port', String(await freePort()), '--config', bad], env, { timeoutMs: 30_000 });
  t.is(result.code, 1);
  t.regex(result.stderr, /background server exited with code 1/);
  t.true(result.stderr.includes(`cannot load policies: ${bad}`));
});

test('SIGKILL under load: every answered decision is in the audit log and the chain verifies', async (t) => {
  const { policy, rampart, env } = setup();
  const port = await freePort();
  const serve = await startServe(['--port', String(port), '--config', policy], env);
  t.teardown(() => serve.child.kill('SIGKILL'));
  const token = fs.readFileSync(path.join(rampart, 'token'), 'utf8');
  const url = `http://127.0.0.1:${port}`;
  const answered: string[] = [];
  let killed = false;
  const worker = async (n: number) => {
    for (let i = 0; !killed; i++) {
      try {
        const reply = await preflight(url, token, i % 3 === 0 ? `rm -rf /tmp/w${n}-${i}` : `echo ${n}-${i}`);
        if (reply.status === 200) answered.push(reply.json.audit_id);
      } catch {
        return; // the server is gone
      }
    }
  };
  const workers = Array.from({ length: 8 }, (_, n) => worker(n));
  t.true(await eventually(() => answered.length >= 400, 60_000));
  serve.child.kill('SIGKILL');
  killed = true;
  await Promise.all(workers);
  await serve.exited;

  const auditDir = path.join(rampart, 'audit');
  const verify = await runCli(['audit', 'verify', '--audit-dir', auditDir], env);
  t.is(verify.code, 0, verify.stdout + verify.stderr);
  t.regex(verify.stdout, /audit chain OK: \d+ records in 1 file/);
  const logged = new Set(
    fs.readdirSync(auditDir).flatMap((f) =>
      fs
        .readFileSync(path.join(auditDir, f), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l).id),
    ),
  );
  const missing = answered.filter((id) => !logged.has(id));
  t.deepEqual(missing, []);
  t.true(answered.length >= 400);

  // A restarted server continues the same chain.
  const restarted = await startServe(['--port', String(port), '--config', policy], env);
  t.teardown(() => restarted.child.kill('SIGKILL'));
  t.is((await preflight(url, token, 'pwd')).status, 200);
  restarted.child.kill('SIGTERM');
  await restarted.exited;
  t.is((await runCli(['audit', 'verify', '--audit-dir', auditDir], env)).code, 0);
});

test('audit verify names a tampered line; audit tail shows recent decisions readably', async (t) => {
  const { policy, rampart, env } = setup();
  const port = await freePort();
  const serve = await startServe(['--port', String(port), '--config', policy], env);
  t.teardown(() => serve.child.kill('SIGKILL'));
  const token = fs.readFileSync(path.join(rampart, 'token'), 'utf8');
  for (const command of ['ls -la', 'rm -rf /', 'curl -H "Authorization: Bearer supersecrettoken" https://x', 'sudo reboot']) {
    await preflight(`http://127.0.0.1:${port}`, token, command);
  }
  serve.child.kill('SIGTERM');
  await serve.exited;

  const tail = await runCli(['audit', 'tail', '-n', '3'], env);
  t.is(tail.code, 0);
  const lines = tail.stdout.trim().split('\n');
  t.is(lines.length, 3);
  t.regex(lines[0]!, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z\s+DENY\s+cli-test\/s\s+rm -rf \/\s+— Destructive command blocked$/);
  t.regex(lines[1]!, /WATCH .*Bearer \[REDACTED\]/);
  t.notRegex(tail.stdout, /supersecrettoken/);
  t.regex(lines[2]!, /ASK .*sudo reboot/);
  const json = (await runCli(['audit', 'tail', '-n', '2', '--json'], env)).stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.deepEqual(
    json.map((r) => r.decision.action),
    ['watch', 'ask'],
  );

  t.is((await runCli(['audit', 'verify'], env)).code, 0);
  const auditDir = path.join(rampart, 'audit');
  const file = path.join(auditDir, fs.readdirSync(auditDir)[0]!);
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('"action":"deny"', '"action":"allow"'));
  const verify = await runCli(['audit', 'verify'], env);
  t.is(verify.code, 1);
  t.true(verify.stdout.includes(`BROKEN at ${file}:2:`), verify.stdout);
});
