// `rampart allow` as a user runs it: the built CLI (npm run build:ts), a temporary HOME, the
// real policy loader behind `rampart test`, and a real `rampart serve` on 127.0.0.1.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { parse } from 'yaml';
import { cliPath, freePort, run, runCli, tempDir } from '../helpers.ts';

function setup() {
  const home = tempDir('rampart-allow-');
  const dir = path.join(home, '.rampart', 'policies');
  const overrides = path.join(dir, 'user-overrides.yaml');
  // RAMPART_TOKEN from the developer's shell must not leak into the test.
  const env = { HOME: home, RAMPART_TOKEN: '' };
  // Port 1 never has a server: the "ask a running server to reload" step stays local.
  const allow = (args: string[], port = '1') => runCli(['allow', '--port', port, ...args], env, { cwd: home });
  const check = async (command: string) => {
    const result = await runCli(['test', '--json', command], env, { cwd: home });
    const decision = JSON.parse(result.stdout) as { action: string; message: string; suggestions?: string[] };
    return { ...decision, code: result.code };
  };
  return { home, dir, overrides, env, allow, check };
}

/** The built-in catch-all allow replaced by a disabled one: unlisted commands get the default deny. */
const DEFAULT_DENY = `version: "1"
policies:
  - name: allow-everything-else
    enabled: false
    rules:
      - action: allow
        when: { default: true }
`;

test('an allow turns an asked command and a denied-by-default command into allowed ones', async (t) => {
  t.true(fs.existsSync(cliPath), `${cliPath} is missing: run npm run build:ts first`);
  const { dir, overrides, allow, check } = setup();

  // Asked: the built-in policy wants a human for sudo.
  t.is((await check('sudo apt update')).action, 'ask');
  const added = await allow(['sudo apt update']);
  t.is(added.code, 0, added.stderr);
  t.regex(added.stdout, /Added to ~\/\.rampart\/policies\/user-overrides\.yaml line \d+: allow 'sudo apt update'/);
  t.regex(added.stdout, /-> allow \(allowed by durable user override\)/);
  t.regex(added.stdout, /Server on 127\.0\.0\.1:1: none running/);
  t.is((await check('sudo apt update')).action, 'allow');
  t.is((await check('sudo apt upgrade')).action, 'ask', 'only that exact command');
  t.is((await check('sudo apt update && sudo rm -rf /srv')).action, 'deny', 'an allowed piece does not cover its siblings');

  // Created private: the directory decides what agents may run.
  t.is(fs.statSync(dir).mode & 0o777, 0o700);
  t.is(fs.statSync(overrides).mode & 0o777, 0o600);
  const doc = parse(fs.readFileSync(overrides, 'utf8'));
  t.is(doc.policies.length, 1);
  t.is(doc.policies[0].name, 'user-overrides');
  t.deepEqual(doc.policies[0].rules[0].when, { command_matches: ['sudo apt update'] });

  // Denied by default (the catch-all is switched off): the override beats the default too.
  fs.writeFileSync(path.join(dir, 'strict.yaml'), DEFAULT_DENY);
  t.is((await check('make release')).action, 'deny');
  const added2 = await allow(['make release', '--message', 'releases are fine here']);
  t.is(added2.code, 0, added2.stderr);
  const after = await check('make release');
  t.is(after.action, 'allow');
  t.is(after.message, 'releases are fine here');
  t.is((await check('make clean')).action, 'deny');
});

test('the suggestion printed with a denial works when pasted into a shell (prefix form)', async (t) => {
  const { home, dir, env, check } = setup();
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'strict.yaml'), DEFAULT_DENY);
  fs.writeFileSync(
    path.join(dir, 'team.yaml'),
    'version: "1"\npolicies:\n  - name: team\n    match: { tool: exec }\n    rules:\n      - action: deny\n        when: { command_matches: ["cargo publish*"] }\n        message: releases go through CI\n',
  );
  t.is((await check('cargo build --release')).action, 'deny');
  const denied = await check('cargo publish --dry-run');
  t.is(denied.action, 'deny');
  const wildcard = denied.suggestions?.find((s) => s.endsWith("'cargo *'"));
  t.truthy(wildcard, JSON.stringify(denied.suggestions));

  const pasted = await run('sh', ['-c', `rampart() { "${process.execPath}" "${cliPath}" "$@" --port 1; }; ${wildcard}`], {
    env: { ...process.env, ...env },
    cwd: home,
  });
  t.is(pasted.code, 0, pasted.stderr);
  t.regex(pasted.stdout, /allow 'cargo' and 'cargo \*'/);
  t.regex(pasted.stdout, /read "cargo \*" as --prefix "cargo"/);
  for (const command of ['cargo', 'cargo build --release', 'cargo test -p x -- --nocapture /tmp/y']) t.is((await check(command)).action, 'allow', command);
  t.is((await check('cargo publish --dry-run')).message, 'releases go through CI', 'the deny still wins');
  t.is((await check('cargo build; make')).action, 'deny', 'make is not covered by the prefix');
  t.is((await check('cargo-audit')).action, 'deny', 'the prefix is a whole word');
});

test('a deny still wins: the command says so and rampart test keeps denying', async (t) => {
  const { dir, allow, check } = setup();
  const builtin = await allow(['rm -rf /']);
  t.is(builtin.code, 0, builtin.stderr);
  t.regex(builtin.stdout, /-> deny: a deny in any policy still wins over a user override/);
  t.regex(builtin.stdout, /deny message: Destructive command blocked/);
  t.is((await check('rm -rf /')).action, 'deny');

  // A user's own deny in another file wins the same way.
  fs.writeFileSync(
    path.join(dir, 'team.yaml'),
    'version: "1"\npolicies:\n  - name: team\n    match: { tool: exec }\n    rules:\n      - action: deny\n        when: { command_matches: ["make deploy"] }\n        message: deploys go through CI\n',
  );
  const added = await allow(['make deploy']);
  t.is(added.code, 0, added.stderr);
  t.regex(added.stdout, /deny message: deploys go through CI/);
  const after = await check('make deploy');
  t.is(after.action, 'deny');
  t.is(after.code, 1);
});

test('idempotent: the same allow twice, or one already covered by a prefix, changes nothing', async (t) => {
  const { overrides, allow } = setup();
  t.is((await allow(['npm run deploy:staging'])).code, 0);
  const once = fs.readFileSync(overrides, 'utf8');
  const again = await allow(['npm run deploy:staging']);
  t.is(again.code, 0, again.stderr);
  t.regex(again.stdout, /Already allowed by ~\/\.rampart\/policies\/user-overrides\.yaml line \d+; nothing changed/);
  t.is(fs.readFileSync(overrides, 'utf8'), once);

  t.is((await allow(['--prefix', 'docker compose'])).code, 0);
  const withPrefix = fs.readFileSync(overrides, 'utf8');
  for (const args of [['--prefix', 'docker compose'], ['docker compose *'], ['docker compose up -d'], ['docker  compose "ps"']]) {
    const result = await allow(args);
    t.is(result.code, 0, result.stderr);
    t.regex(result.stdout, /Already allowed/, args.join(' '));
  }
  t.is(fs.readFileSync(overrides, 'utf8'), withPrefix);
  t.is(parse(withPrefix).policies[0].rules.length, 2);
});

test('concurrent runs each add their rule (none lost), and leave no lock or temp file', async (t) => {
  const { dir, overrides, allow, check } = setup();
  const commands = ['make a', 'make b', 'make c', 'make d', 'make e', 'make f'];
  const results = await Promise.all(commands.map((command) => allow([command])));
  for (const result of results) t.is(result.code, 0, result.stdout + result.stderr);
  const rules = parse(fs.readFileSync(overrides, 'utf8')).policies[0].rules as Array<{ when: { command_matches: string[] } }>;
  t.deepEqual(rules.map((r) => r.when.command_matches[0]).sort(), commands);
  t.deepEqual(fs.readdirSync(dir), ['user-overrides.yaml']);
  t.is((await check('sudo make f')).action, 'ask');
});

test('an existing file keeps its comments, its other policies and its mode', async (t) => {
  const { dir, overrides, allow, check } = setup();
  fs.mkdirSync(dir, { recursive: true });
  const original = [
    '# my own notes about this machine',
    'version: "1"',
    'policies:',
    '  - name: mine # reviewed 2026-01',
    '    match: { tool: exec }',
    '    rules:',
    '      - action: allow',
    '        when: { command_matches: ["terraform plan"] }',
    '',
  ].join('\n');
  fs.writeFileSync(overrides, original, { mode: 0o640 });
  fs.chmodSync(overrides, 0o640);
  const added = await allow(['git commit -m "fix the build"']);
  t.is(added.code, 0, added.stderr);
  // Allow rules see the command as the engine does (quotes removed): the rule is written that way.
  t.regex(added.stdout, /written as the engine sees the command/);
  const text = fs.readFileSync(overrides, 'utf8');
  t.true(text.startsWith('# my own notes about this machine\n'), text);
  t.regex(text, /- name: mine # reviewed 2026-01/);
  const doc = parse(text);
  t.deepEqual(
    doc.policies.map((p: { name: string }) => p.name),
    ['mine', 'user-overrides'],
  );
  t.deepEqual(doc.policies[1].rules[0].when.command_matches, ['git commit -m fix the build']);
  t.is(fs.statSync(overrides).mode & 0o777, 0o640);
  t.is((await check('git commit -m "fix the build"')).action, 'allow');
  t.is((await check('terraform plan')).action, 'allow');
  t.deepEqual(fs.readdirSync(dir), ['user-overrides.yaml'], 'no temp file left behind');
});

test('--file writes another file (own policy name, ordinary allow) and leaves ~/.rampart alone', async (t) => {
  const { home, dir, allow } = setup();
  const team = path.join(tempDir('rampart-team-'), 'team.yaml');
  const added = await allow(['--file', team, 'make lint']);
  t.is(added.code, 0, added.stderr);
  t.regex(added.stdout, /only allows in files named user-overrides\.yaml beat ask and watch rules/);
  t.regex(added.stdout, /A rampart serve started with --config-dir .* reloads it/);
  const doc = parse(fs.readFileSync(team, 'utf8'));
  t.is(doc.policies[0].name, 'team-allows');
  t.deepEqual(doc.policies[0].rules[0].when.command_matches, ['make lint']);
  // A second file in the same directory does not clash with the first one's policy name.
  const second = await allow(['--file', path.join(path.dirname(team), 'user-overrides.yaml'), 'make lint']);
  t.is(second.code, 0, second.stderr);
  t.false(fs.existsSync(dir));
  const served = await runCli(['test', '--config', team, 'make lint'], { HOME: home, RAMPART_TOKEN: '' });
  t.is(served.code, 0, served.stdout + served.stderr);
  t.regex(served.stdout, /Decision: allow/);
});

test('bad input is refused with a clear reason and nothing is written', async (t) => {
  const { dir, overrides, allow } = setup();
  const refused = async (args: string[], reason: RegExp, code = 1) => {
    const result = await allow(args);
    t.is(result.code, code, `${args.join(' ')}: ${result.stdout}${result.stderr}`);
    // Clipanion prints usage errors on stdout; file problems go to stderr.
    t.regex(result.stdout + result.stderr, reason, args.join(' '));
    return result;
  };
  await refused([''], /the command is empty/);
  await refused(['   '], /the command is empty/);
  await refused(['ls *.txt'], /glob character "\*".*rampart allow --prefix 'ls'/s);
  await refused(['cat file?.log'], /glob character "\?"/);
  await refused(['cat [ab].txt'], /glob character "\["/);
  await refused(['*'], /would allow every command/);
  await refused(['--prefix', 'git*'], /glob character "\*"/);
  await refused(['make\nrm -rf ~'], /newline or another control character/);
  await refused(['--tool', 'read', '/etc/hosts'], /only exec is supported/);
  t.false(fs.existsSync(dir), 'nothing was created');

  // An agent's process (librampart.so preloaded) may not grant itself anything.
  const preloaded = await runCli(['allow', '--port', '1', 'make'], {
    HOME: path.dirname(path.dirname(dir)),
    RAMPART_TOKEN: '',
    LD_PRELOAD: '/nonexistent/librampart.so',
  });
  t.is(preloaded.code, 1);
  t.regex(preloaded.stderr, /refused inside a rampart-protected session/);
  t.false(fs.existsSync(dir));

  // A broken existing file: file and line named, the file left exactly as it was.
  fs.mkdirSync(dir, { recursive: true });
  const corrupt = 'version: "1"\npolicies:\n  - name: x\n    rules:\n      - action: allow\n        when: {command_matches: [a]\n';
  fs.writeFileSync(overrides, corrupt);
  await refused(['make'], new RegExp(`${escape(overrides)}:\\d+: invalid YAML.*\\nNothing was written`, 's'), 2);
  t.is(fs.readFileSync(overrides, 'utf8'), corrupt);

  const unknownKey = 'version: "1"\npolicies:\n  - name: x\n    rules:\n      - action: allow\n        bogus: 1\n';
  fs.writeFileSync(overrides, unknownKey);
  await refused(['make'], new RegExp(`${escape(overrides)}:6: unknown key "bogus"`), 2);
  t.is(fs.readFileSync(overrides, 'utf8'), unknownKey);

  // Unreadable: a directory in its place (and, when not root, a file without read permission).
  fs.rmSync(overrides);
  fs.mkdirSync(overrides);
  await refused(['make'], new RegExp(`${escape(overrides)}: not a regular file`), 2);
  fs.rmdirSync(overrides);
  if (process.getuid?.() !== 0) {
    fs.writeFileSync(overrides, 'version: "1"\n', { mode: 0o000 });
    await refused(['make'], new RegExp(`${escape(overrides)}: cannot read the file`), 2);
    fs.rmSync(overrides);
  }

  // A valid file whose edit would break the directory (policy name taken by another file):
  // the server would reject that reload, so nothing is written.
  fs.writeFileSync(path.join(dir, 'other.yaml'), 'version: "1"\npolicies:\n  - name: user-overrides\n    rules: []\n');
  await refused(['make'], /policies would no longer load.*duplicate policy name "user-overrides"/s, 2);
  t.false(fs.existsSync(overrides));
  t.deepEqual(fs.readdirSync(dir), ['other.yaml']);
});

test('a running rampart serve picks the new rule up (reload request, then its file watcher)', async (t) => {
  const { home, env, allow } = setup();
  const port = await freePort();
  const server = await startServe(t, ['--port', String(port)], env);
  const token = fs.readFileSync(path.join(home, '.rampart', 'token'), 'utf8').trim();
  const preflight = async (command: string) => {
    const reply = await fetch(`http://127.0.0.1:${port}/v1/preflight/exec`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ agent: 'test', session: 'allow', command }),
    });
    return (await reply.json()) as { allowed: boolean; decision: string };
  };
  const becomesAllowed = async (command: string) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const reply = await preflight(command);
      if (reply.allowed) return reply;
      if (Date.now() > deadline) return reply;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };

  // No ~/.rampart/policies when the server started: the reload request is what brings the rule in.
  t.is((await preflight('sudo systemctl restart nginx')).decision, 'ask');
  const added = await allow(['sudo systemctl restart nginx'], String(port));
  t.is(added.code, 0, added.stderr);
  t.regex(added.stdout, new RegExp(`Server on 127\\.0\\.0\\.1:${port}: reloaded now \\(\\d+ policies, \\d+ rules\\)`));
  t.is((await becomesAllowed('sudo systemctl restart nginx')).decision, 'allow');

  // Not asked to reload this time: the server's watch on the directory picks up the change.
  t.is((await preflight('sudo apt update')).decision, 'ask');
  const quiet = await allow(['sudo apt update']);
  t.is(quiet.code, 0, quiet.stderr);
  t.is((await becomesAllowed('sudo apt update')).decision, 'allow');
  t.is((await preflight('sudo apt upgrade')).decision, 'ask');
  t.false(server.stderr().includes('reload failed'), server.stderr());
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `rampart serve` in the foreground, stopped (SIGTERM to this one child) when the test ends. */
async function startServe(t: ExecutionContext, args: string[], env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; stderr: () => string }> {
  const child = spawn(process.execPath, [cliPath, 'serve', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const closed = new Promise((resolve) => child.on('close', resolve));
  t.teardown(async () => {
    child.kill('SIGTERM');
    await closed;
  });
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 30_000);
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', () => {
      clearTimeout(timer);
      reject(new Error(`serve exited: ${stderr}`));
    });
  });
  return { child, stderr: () => stderr };
}
