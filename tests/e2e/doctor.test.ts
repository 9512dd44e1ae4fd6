// `rampart doctor` end to end: every check really run (library, server, token, policy, live
// allowed and denied probes under preload), ✓/✗ lines, exit 1 when anything fails.
import test from 'ava';
import { freePort, runCli } from '../helpers.ts';
import { homeAndServerForFile } from './preload-fixtures.ts';

const shared = homeAndServerForFile();

test('with a library and a running server every check passes (exit 0)', async (t) => {
  const result = await runCli(['doctor', '--port', String(shared.server.port)], shared.home.env);
  t.is(result.code, 0, result.stdout + result.stderr);
  for (const title of ['library', 'policy server', 'token accepted', 'policy', 'allowed probe', 'denied probe']) {
    t.regex(result.stdout, new RegExp(`^✓ ${title}: `, 'm'), result.stdout);
  }
  t.notRegex(result.stdout, /^✗/m);
  t.regex(result.stdout, /^✓ denied probe: .*rampart: blocked — /m);
  t.false(result.stdout.includes(shared.server.token), 'the token is never printed');
});

test('no server at the port: ✗ with how to start it, the dependent checks are not run, exit 1', async (t) => {
  const port = await freePort();
  const result = await runCli(['doctor', '--port', String(port)], shared.home.env);
  t.is(result.code, 1);
  t.regex(result.stdout, /^✓ library: /m);
  t.regex(result.stdout, new RegExp(`^✗ policy server: connection refused by 127\\.0\\.0\\.1:${port}`, 'm'));
  t.regex(result.stdout, new RegExp(`fix: start it: rampart serve --background --port ${port}`));
  t.regex(result.stdout, /^✗ denied probe: not checked: /m);
});

test('a wrong token: ✗ token accepted, saying the server refused it', async (t) => {
  const result = await runCli(['doctor', '--port', String(shared.server.port), '--token', 'not-the-token'], shared.home.env);
  t.is(result.code, 1);
  t.regex(result.stdout, /^✓ policy server: /m);
  t.regex(result.stdout, /^✗ token accepted: the policy server refused the token \(HTTP 401/m);
});
