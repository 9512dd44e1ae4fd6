// The `rampart wrap` shim on its own, against a real in-process policy server: what reaches the
// server is exactly the command (hostile bytes included), and nothing in the environment the
// agent hands its shell can switch the check off or print the token.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, type RunningServer } from '../../server/server.ts';
import { singleQuote } from '../../util/quote.ts';
import { forbiddenMarkerPolicy, run, tempDir } from '../../../tests/helpers.ts';
import { renderShim } from '../shim.ts';
import { which } from '../session.ts';

const TOKEN = 'shim-test-token-0123456789abcdef';
const work = tempDir('rampart-shim-test-');
const auditDir = path.join(work, 'audit');
let server: RunningServer;
let shim: string;

test.before(async () => {
  const config = path.join(work, 'policy.yaml');
  fs.writeFileSync(config, forbiddenMarkerPolicy('shim'));
  server = await startServer({ addr: '127.0.0.1', port: 0, mode: 'enforce', token: TOKEN, policy: { configFile: config }, auditDir });
  const tokenFile = path.join(work, 'token');
  fs.writeFileSync(tokenFile, TOKEN, { mode: 0o600 });
  shim = path.join(work, 'sh');
  const bash = which('bash', process.env.PATH);
  if (!bash) throw new Error('bash not on PATH');
  const spec = { bash, realShell: '/bin/sh', port: server.port, tokenFile, mode: 'enforce' as const };
  fs.writeFileSync(shim, renderShim({ ...spec, agent: 'wrap', session: 'shim-test', decisionsFile: path.join(work, 'decisions'), timeoutSeconds: 5 }), {
    mode: 0o700,
  });
});

test.after.always(async () => {
  await server?.close();
});

/**
 * Runs the shim as `sh -c COMMAND` with only the given environment (no LD_PRELOAD: the shim
 * alone). Asynchronously: the server answers from this process.
 */
function runShim(command: string, env: Record<string, string> = {}) {
  return run(shim, ['-c', command], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } });
}

function auditedCommands(): string[] {
  return fs
    .readdirSync(auditDir)
    .filter((f) => f.endsWith('.jsonl'))
    .flatMap((f) => fs.readFileSync(path.join(auditDir, f), 'utf8').trim().split('\n'))
    .map((line) => JSON.parse(line) as { request?: { command?: string } })
    .flatMap((record) => (record.request?.command === undefined ? [] : [record.request.command]));
}

test('hostile commands reach the server byte for byte, and the shim prints nothing of its own', async (t) => {
  const payloads = [
    'a"b',
    'a\\b',
    'a\\"b\\',
    'x\ny',
    'tab\tcr\r',
    '\x01\x02\x1b[31m\x7f\x1f',
    'ünïcødé 日本 😀',
    "it's & \\& $x `id` $(id)",
    '\\u0041 %s %%',
    'x\\ny',
  ];
  for (const payload of payloads) {
    const command = `printf %s ${singleQuote(payload)}`;
    const result = await runShim(command);
    t.is(result.code, 0, result.stderr);
    t.is(result.stdout, payload, 'the real shell ran the command');
    t.is(result.stderr, '', `no stray output for ${JSON.stringify(payload)}`);
    t.true(auditedCommands().includes(command), `the server saw exactly ${JSON.stringify(command)}`);
  }
});

test('an environment that presets the shim variables, imports functions or turns on xtrace cannot skip the check or show the token', async (t) => {
  const dir = tempDir();
  const marker = path.join(dir, 'forbidden-marker');
  const bashEnv = path.join(dir, 'bash-env');
  fs.writeFileSync(bashEnv, 'rampart_ask() { rampart_verdict=allow; }\nset -x\n');
  const hostile: Record<string, string>[] = [
    { rampart_next_is_operand: '1' },
    { rampart_found: '1', rampart_next_is_operand: '1' },
    { SHELLOPTS: 'xtrace' },
    { BASH_ENV: bashEnv },
    { 'BASH_FUNC_printf%%': '() { :; }', 'BASH_FUNC_rampart_note%%': '() { :; }' },
  ];
  for (const env of hostile) {
    const result = await runShim(`touch '${marker}'`, env);
    t.is(result.code, 126, `${JSON.stringify(env)}: ${result.stderr}`);
    t.false(fs.existsSync(marker), `${JSON.stringify(env)} let the denied command run`);
    t.regex(result.stderr, /^rampart: blocked — shim test forbids this\n$/, JSON.stringify(env));
    t.false(result.stderr.includes(TOKEN), 'the token must never be printed');
  }
});
