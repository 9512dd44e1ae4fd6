// `rampart wrap` (docs/cli.md CLI-WRAP-1..5): a statically linked agent
// that runs commands through `$SHELL -c` is checked by the shim: allowed commands run, denied ones
// print `rampart: blocked — <message>`, exit 126 and have no effect; a server that does not answer
// properly blocks (fail-closed); the token never appears on a command line.
import test from 'ava';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { forbiddenMarkerPolicy, freePort, run, runCli, tempDir } from '../helpers.ts';

const work = tempDir('rampart-wrap-test-');

// A static program: runs each argument with `$SHELL -c`, prints each exit code, returns the last.
const AGENT_C = String.raw`
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>
int main(int argc, char **argv) {
  const char *shell = getenv("SHELL");
  if (!shell) { fprintf(stderr, "static-agent: no SHELL\n"); return 2; }
  int status = 0;
  for (int i = 1; i < argc; i++) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) { execl(shell, shell, "-c", argv[i], (char *)0); _exit(127); }
    waitpid(pid, &status, 0);
    printf("static-agent: exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
`;

const POLICY = forbiddenMarkerPolicy('wrap');

let agent: string;
let policy: string;

test.before(async () => {
  fs.writeFileSync(path.join(work, 'agent.c'), AGENT_C);
  agent = path.join(work, 'static-agent');
  const built = await run('gcc', ['-static', '-O1', '-o', agent, path.join(work, 'agent.c')]);
  if (built.code !== 0) throw new Error(`gcc -static failed: ${built.stderr}`);
  const ldd = await run('ldd', [agent]);
  if (!/not a dynamic executable|statically linked/.test(ldd.stdout + ldd.stderr)) {
    throw new Error(`the test agent is not static: ${ldd.stdout}`);
  }
  policy = path.join(work, 'policy.yaml');
  fs.writeFileSync(policy, POLICY);
});

function wrap(args: string[], home = tempDir()) {
  return runCli(['wrap', ...args], { HOME: home, SHELL: '/bin/bash' }, { cwd: work });
}

test('an allowed command runs, a denied one is blocked with exit 126 and no side effect, and the summary counts both', async (t) => {
  const dir = tempDir();
  const allowed = path.join(dir, 'allowed-ran');
  const forbidden = path.join(dir, 'forbidden-marker');
  const result = await wrap(['--config', policy, '--', agent, `touch '${allowed}'`, `touch '${forbidden}'`]);
  t.true(fs.existsSync(allowed), result.stderr);
  t.false(fs.existsSync(forbidden), 'the denied command must not run');
  t.is(result.code, 126, result.stderr);
  t.regex(result.stdout, /static-agent: exit 0\nstatic-agent: exit 126\n/);
  t.true(result.stderr.split('\n').includes('rampart: blocked — wrap test forbids this'), result.stderr);
  // With librampart.so preloaded into the shells, what they run is checked too: at least the 2 shell commands.
  const [, checked] = /^rampart: (\d+) commands? checked, 1 blocked$/m.exec(result.stderr) ?? [];
  t.true(Number(checked) >= 2, result.stderr);
});

test('bash and sh found on PATH are checked too, with their flags, and the audit log records the decisions', async (t) => {
  const home = tempDir();
  const dir = tempDir();
  const forbidden = path.join(dir, 'forbidden-marker');
  const result = await wrap(
    [
      '--config',
      policy,
      '--',
      agent,
      // the outer command must not show the marker: only the inner shell's command does
      `m=forbidden; bash -lc "touch '${dir}/$m-marker-bash'"; echo bash=$?`,
      `m=forbidden; sh -e -c "touch '${dir}/$m-marker-sh'"; echo sh=$?`,
      `bash -o pipefail -c 'echo "quoted \\"ok\\" $((6*7)) é"'`,
    ],
    home,
  );
  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, /bash=126\n/);
  t.regex(result.stdout, /sh=126\n/);
  t.regex(result.stdout, /quoted "ok" 42 é\n/);
  t.false(fs.existsSync(`${forbidden}-bash`));
  t.false(fs.existsSync(`${forbidden}-sh`));
  // Blocked by the shim, or earlier by librampart.so preloaded into the outer shell: either way once each.
  t.is(result.stderr.split('\n').filter((l) => l === 'rampart: blocked — wrap test forbids this').length, 2, result.stderr);
  const [, checked] = /^rampart: (\d+) commands? checked, 2 blocked$/m.exec(result.stderr) ?? [];
  t.true(Number(checked) >= 5, result.stderr);
  const auditDirs = fs.readdirSync(path.join(home, '.rampart', 'audit')).filter((d) => d.startsWith('wrap-'));
  t.is(auditDirs.length, 1);
  const auditDir = path.join(home, '.rampart', 'audit', auditDirs[0]!);
  const lines = fs
    .readdirSync(auditDir)
    .filter((f) => f.endsWith('.jsonl'))
    .flatMap((f) => fs.readFileSync(path.join(auditDir, f), 'utf8').trim().split('\n'));
  t.true(
    lines.some((l) => l.includes('"agent":"wrap"') && l.includes('forbidden-marker-sh') && l.includes('"deny"')),
    lines.join('\n'),
  );
});

test('the token is never on a command line, and the shim directory and token file are private', async (t) => {
  const dir = tempDir();
  const dump = path.join(dir, 'dump');
  const command =
    `d=$(dirname "$(dirname "$SHELL")"); stat -c '%a' "$d" "$d/token" > '${dump}.modes'; cat "$d/token" > '${dump}.token'; ` +
    `for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < "$f" 2>/dev/null; echo; done > '${dump}.cmdlines'`;
  const result = await wrap(['--config', policy, '--', agent, command]);
  t.is(result.code, 0, result.stderr);
  const token = fs.readFileSync(`${dump}.token`, 'utf8');
  t.regex(token, /^[0-9a-f]{64}$/, 'a random token was used');
  t.deepEqual(fs.readFileSync(`${dump}.modes`, 'utf8').trim().split('\n'), ['700', '600']);
  const cmdlines = fs.readFileSync(`${dump}.cmdlines`, 'utf8');
  t.true(cmdlines.includes('rampart-shim') || cmdlines.includes(' -c '), 'the dump saw the running shells');
  t.false(cmdlines.includes(token), 'the token must not appear in any process command line');
});

test('monitor mode runs a denied command and says so in the summary', async (t) => {
  const dir = tempDir();
  const forbidden = path.join(dir, 'forbidden-marker');
  const result = await wrap(['--mode', 'monitor', '--config', policy, '--', agent, `touch '${forbidden}'`]);
  t.is(result.code, 0, result.stderr);
  t.true(fs.existsSync(forbidden));
  t.false(result.stderr.includes('rampart: blocked'), result.stderr);
  t.regex(result.stderr, /^rampart: [1-9]\d* commands? checked, 0 blocked \(monitor mode: denied commands ran; see the audit log\)$/m);
});

/** A server on 127.0.0.1 that passes the /healthz check and answers preflights with `reply`. */
async function fakeServer(t: { teardown(fn: () => void): void }, reply: (res: http.ServerResponse) => void) {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ service: 'rampart', status: 'ok', mode: 'enforce', uptime_seconds: 1, version: 'test' }));
      } else reply(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  return (server.address() as AddressInfo).port;
}

const hostileReplies: [string, (res: http.ServerResponse) => void][] = [
  ['a 500', (res) => res.writeHead(500).end('{"error":"boom"}')],
  ['a 401', (res) => res.writeHead(401).end('{"error":"invalid authorization token"}')],
  ['allowed nested twice', (res) => res.writeHead(200).end('{"allowed":true,"x":{"allowed":true}}')],
  ['allowed not a boolean', (res) => res.writeHead(200).end('{"allowed":"yes"}')],
  ['an empty body', (res) => res.writeHead(200).end('')],
  ['a dropped connection', (res) => res.socket?.destroy()],
];

for (const [name, reply] of hostileReplies) {
  test(`enforce blocks when the server gives ${name} (fail-closed)`, async (t) => {
    const port = await fakeServer(t, reply);
    const dir = tempDir();
    const marker = path.join(dir, 'ran');
    const result = await wrap(['--port', String(port), '--token', 'x', '--', agent, `touch '${marker}'`]);
    t.is(result.code, 126, result.stderr);
    t.false(fs.existsSync(marker));
    t.regex(result.stderr, /^rampart: blocked — .+$/m);
  });
}

test('a server that never answers blocks within the shim timeout', async (t) => {
  const port = await fakeServer(t, () => {
    /* never answers */
  });
  const dir = tempDir();
  const marker = path.join(dir, 'ran');
  const result = await wrap(['--port', String(port), '--', agent, `touch '${marker}'`]);
  t.is(result.code, 126, result.stderr);
  t.false(fs.existsSync(marker));
  t.regex(result.stderr, /rampart: blocked — no answer from the rampart server within \d+s \(fail-closed\)/);
});

test('bad input: no command, --port with --config, a port where nothing listens', async (t) => {
  const none = await wrap(['--']);
  t.is(none.code, 1);
  t.regex(none.stdout + none.stderr, /missing the command to run|command not found/i);
  const both = await wrap(['--port', '9', '--config', policy, '--', 'true']);
  t.is(both.code, 1);
  t.regex(both.stdout + both.stderr, /--config and --audit-dir are for the server wrap starts/);
  const closed = await freePort();
  const nobody = await wrap(['--port', String(closed), '--', 'true']);
  t.is(nobody.code, 1);
  t.regex(nobody.stderr, new RegExp(`rampart wrap: no rampart server at http://127.0.0.1:${closed} `));
  // A damaged ~/.rampart/token with --port: the message, not a stack trace.
  const server = await fakeServer(t, (res) => res.end('{}'));
  const home = tempDir();
  fs.mkdirSync(path.join(home, '.rampart'));
  fs.writeFileSync(path.join(home, '.rampart', 'token'), 'two words\n', { mode: 0o600 });
  const damaged = await wrap(['--port', String(server), '--', 'true'], home);
  t.is(damaged.code, 1, damaged.stderr);
  t.regex(damaged.stderr, /^rampart wrap: the token in .*token contains spaces or control or non-ASCII characters; delete /m);
  t.notRegex(damaged.stderr, /\bat .*\.js:\d+/);
  const badConfig = await wrap(['--config', path.join(work, 'missing.yaml'), '--', 'true']);
  t.is(badConfig.code, 1);
  t.regex(badConfig.stderr, /rampart wrap: cannot start the policy server: .*missing\.yaml/);
});
