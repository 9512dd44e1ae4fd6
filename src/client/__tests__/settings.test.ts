// The client kit's pure pieces: quoting (must match librampart.so), the RAMPART_* settings (read
// exactly as the library reads them), flag parsing, the child's LD_PRELOAD, the server URL.
import { spawnSync } from 'node:child_process';
import test from 'ava';
import { preloadValue } from '../environment.ts';
import { shellQuote, singleQuote } from '../../util/quote.ts';
import { librarySettings as nativeLibrarySettings, librarySettingsTable } from '../../native/index.ts';
import { endpoint, LIBRARY_SETTINGS, librarySettings, resolveFailOpen, serverAddress } from '../settings.ts';
import { oneLine } from '../../util/text.ts';
import { topLevelKeys } from '../http.ts';

test('argv is quoted the way librampart.so quotes it (LIB-REQ-3: /bin/bash -c "ls -la")', (t) => {
  t.is(shellQuote(['/bin/bash', '-c', 'ls -la']), '/bin/bash -c "ls -la"');
  t.is(shellQuote(['rm', '-rf', '/']), 'rm -rf /');
  t.is(shellQuote(['echo', '']), 'echo ""');
  t.is(shellQuote(['sh', '-c', 'echo $HOME']), "sh -c 'echo $HOME'");
  t.is(shellQuote(['sh', '-c', "it's $x"]), `sh -c 'it'\\''s $x'`);
  t.is(shellQuote(['a=b', 'c=d']), '"a=b" c=d');
});

test('generated scripts single-quote values; a shell reads them back unchanged', (t) => {
  t.is(singleQuote(''), "''");
  t.is(singleQuote('it\'s $x `y` \\ "z"'), `'it'\\''s $x \`y\` \\ "z"'`);
  for (const value of ["it's", '$(id) `id` \\n', 'a\nb', "''"]) {
    const echoed = spawnSync('/bin/sh', ['-c', `printf %s ${singleQuote(value)}`], { encoding: 'utf8' });
    t.is(echoed.stdout, value);
  }
});

test('--fail-open: every spelling, and a bad value is a usage error', (t) => {
  t.deepEqual(resolveFailOpen(undefined, ['x']), { failOpen: true, command: ['x'] });
  t.deepEqual(resolveFailOpen('false', ['x']), { failOpen: false, command: ['x'] });
  t.deepEqual(resolveFailOpen('true', ['x']), { failOpen: true, command: ['x'] });
  t.deepEqual(resolveFailOpen(false, ['x']), { failOpen: false, command: ['x'] });
  t.deepEqual(resolveFailOpen(true, ['x']), { failOpen: true, command: ['x'] });
  t.deepEqual(resolveFailOpen(true, ['false', '--', 'x']), { failOpen: false, command: ['x'] });
  t.deepEqual(resolveFailOpen(true, ['false']), { failOpen: false, command: [] });
  t.throws(() => resolveFailOpen('maybe', ['x']), { message: /expected 1, true, yes, on or 0, false, no, off \(got "maybe"\)/ });
});

test('LD_PRELOAD: ours first, others kept, no second librampart.so', (t) => {
  t.is(preloadValue('/h/librampart.so', undefined), '/h/librampart.so');
  t.is(preloadValue('/h/librampart.so', '/a.so /old/librampart.so:/b.so'), '/h/librampart.so:/a.so:/b.so');
  t.is(preloadValue('/h/librampart.so', '/h/librampart.so'), '/h/librampart.so');
});

test('server URL precedence: --port, then RAMPART_URL, then the default (the only autostart case)', (t) => {
  t.is(serverAddress(8080, { RAMPART_URL: 'http://127.0.0.1:1' }).url.href, 'http://127.0.0.1:8080/');
  const fromEnv = serverAddress(undefined, { RAMPART_URL: 'http://127.0.0.1:1234' });
  t.is(fromEnv.source, 'env');
  t.is(fromEnv.port, 1234);
  t.deepEqual({ ...serverAddress(undefined, {}), url: undefined }, { url: undefined, childUrl: 'http://127.0.0.1:9090', source: 'default', port: 9090 });
  t.throws(() => serverAddress(undefined, { RAMPART_URL: 'http://u:p@127.0.0.1:1' }), { message: /must not contain user:password@/ });
  t.throws(() => serverAddress(undefined, { RAMPART_URL: 'not a url' }), { message: /RAMPART_URL is invalid: contains whitespace/ });
});

test('endpoints are appended to the server URL like librampart.so does (a path prefix is kept)', (t) => {
  t.is(endpoint(new URL('http://127.0.0.1:9090'), '/healthz').href, 'http://127.0.0.1:9090/healthz');
  t.is(endpoint(new URL('http://127.0.0.1:9090/'), '/v1/preflight/exec').href, 'http://127.0.0.1:9090/v1/preflight/exec');
  t.is(endpoint(new URL('http://h:1/rampart/'), '/v1/preflight/exec').href, 'http://h:1/rampart/v1/preflight/exec');
});

test('every line is one line: control characters become spaces, a capped message ends with …', (t) => {
  t.is(oneLine('\u001b[31mred\nsecond\r\tline\u0007'), ' [31mred second  line ');
  t.is(oneLine('ü日本 \u202e'), 'ü日本 \u202e');
  t.is(oneLine('x'.repeat(1001), 1000), `${'x'.repeat(1000)}…`);
  t.is(oneLine('x'.repeat(1000), 1000), 'x'.repeat(1000));
});

test('topLevelKeys sees the duplicated keys JSON.parse collapses, and only top-level ones', (t) => {
  t.deepEqual(topLevelKeys('{"allowed":false,"allowed":true}'), ['allowed', 'allowed']);
  t.deepEqual(topLevelKeys('{ "a" : {"allowed":true}, "b":["allowed", {"c":1}], "\\u0061llowed" :1, "m":"x\\"y:"}'), ['a', 'b', 'allowed', 'm']);
  t.deepEqual(topLevelKeys('{"allowed":true,"message":"\\"allowed\\": false"}'), ['allowed', 'message']);
  t.deepEqual(topLevelKeys('{"unterminated'), []);
});

// The CLI reads RAMPART_* exactly as librampart.so does: the same inputs through both parsers
// (the library's, crates/settings, through the addon) give the same settings, notes included.
const SPELLINGS: Record<string, string[]> = {
  RAMPART_URL: [
    'http://127.0.0.1:9090',
    'http://127.0.0.1:9090/',
    'HTTP://[::1]:9090/rampart',
    'http://localhost',
    'http://127.0.0.1:9090/?x',
    'http://127.0.0.1:9090#f',
    'http://u:p@127.0.0.1:1',
    'http://token@h',
    'https://127.0.0.1:9443',
    'ftp://h',
    'unix:///run/r.sock',
    '127.0.0.1:9090',
    'http://:9090',
    'http://h:0',
    'http://h:65535',
    'http://h:65536',
    'http://h:x',
    'http://h:',
    'http://[::1',
    'http://[::1]x',
    'http://h /x',
    'http://h\u00a0',
    'http://h\u200b',
    'http://h\ufeff',
    'http://h\t',
  ],
  RAMPART_TOKEN: ['tok', ' spaced ', 'ünïcode'],
  RAMPART_MODE: ['enforce', 'Monitor', 'DISABLED', 'off', ' enforce', 'audit', 'ENFORCE'],
  RAMPART_FAIL_OPEN: ['1', '0', 'true', 'FALSE', 'yes', 'No', 'on', 'OFF', 'maybe', ' 1', '2', 'tRuE'],
  RAMPART_AGENT: ['codex', ' ', 'a b'],
  RAMPART_SESSION: ['run-1', ' ', 'x'],
  RAMPART_DEBUG: ['1', '0', 'true', 'yes', 'verbose', 'ON'],
};

function environments(): NodeJS.ProcessEnv[] {
  const envs: NodeJS.ProcessEnv[] = [{}];
  for (const [name, values] of Object.entries(SPELLINGS)) for (const value of ['', ...values]) envs.push({ [name]: value });
  // Combinations, from a fixed seed: every variable set at once, each to one of its spellings.
  let seed = 7;
  const next = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  for (let i = 0; i < 300; i++) {
    const env: NodeJS.ProcessEnv = {};
    for (const [name, values] of Object.entries(SPELLINGS)) if (next(3) > 0) env[name] = values[next(values.length)];
    envs.push(env);
  }
  return envs;
}

test('the CLI and librampart.so read every RAMPART_* value the same way (good and bad values, notes included)', (t) => {
  const differences: string[] = [];
  const envs = environments();
  for (const env of envs) {
    const entries = Object.entries(env).map(([name, value]) => `${name}=${value}`);
    const ours = librarySettings(env, 4242);
    const library = nativeLibrarySettings(entries, 4242);
    if (JSON.stringify(ours) !== JSON.stringify(library))
      differences.push(`${JSON.stringify(env)}\n  cli:     ${JSON.stringify(ours)}\n  library: ${JSON.stringify(library)}`);
  }
  t.true(envs.length > 350);
  t.deepEqual(differences.slice(0, 5), []);
});

test("the settings table is the library's: the same variables, order and defaults", (t) => {
  t.deepEqual(
    LIBRARY_SETTINGS.map((row) => ({ name: row.variable, default: row.default })),
    librarySettingsTable(),
  );
});

test("a RAMPART_URL the library refuses is refused by the CLI with the library's reason", (t) => {
  for (const url of SPELLINGS.RAMPART_URL!) {
    const problem = nativeLibrarySettings([`RAMPART_URL=${url}`], 1).urlProblem;
    if (problem === null) t.is(serverAddress(undefined, { RAMPART_URL: url }).childUrl, url.replace(/\/+$/, ''));
    else t.throws(() => serverAddress(undefined, { RAMPART_URL: url }), { message: `${problem} (got ${JSON.stringify(url)})` }, url);
  }
});
