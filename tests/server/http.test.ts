// The serve HTTP contract (docs/server-api.md) against a real server on 127.0.0.1.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import test from 'ava';
import { verifyAuditDir } from '../../src/audit/verify.ts';
import { auditRecords, BASE_POLICY, eventually, startTestServer, TOKEN } from './support.ts';
import { tempDir } from '../helpers.ts';

const exec = (command: string, extra: Record<string, unknown> = {}) => ({ agent: 'a1', session: 's1', params: { command }, enforce: true, ...extra });

test('GET /healthz answers without a token', async (t) => {
  const { server, call } = await startTestServer(t);
  const reply = await call('/healthz', undefined, { token: null });
  t.is(reply.status, 200);
  t.like(reply.json, { service: 'rampart', status: 'ok', mode: 'enforce' });
  t.is(typeof reply.json.uptime_seconds, 'number');
  t.is(typeof reply.json.version, 'string');
});

test('preflight: deny, ask, watch and allow are all 200 with the contract fields', async (t) => {
  const { server, call } = await startTestServer(t);
  const deny = await call('/v1/preflight/exec', exec('rm -rf /home'));
  t.is(deny.status, 200);
  t.like(deny.json, { allowed: false, decision: 'deny', message: 'Destructive command blocked', enforced: true, enforcement_requested: true });
  t.deepEqual(deny.json.matched_policies.slice(0, 1), ['no-destruction']);
  t.is(typeof deny.json.eval_duration_us, 'number');
  t.regex(deny.json.audit_id, /^[0-9A-HJKMNP-TV-Z]{26}$/);

  const ask = await call('/v1/preflight/exec', exec('sudo reboot'));
  t.like(ask.json, { allowed: false, decision: 'ask', message: 'Privileged command needs approval' });
  const watch = await call('/v1/preflight/exec', exec('curl https://example.com'));
  t.like(watch.json, { allowed: true, decision: 'watch' });
  const allow = await call('/v1/preflight/exec', exec('ls -la'));
  t.like(allow.json, { allowed: true, decision: 'allow', matched_policies: null });
  t.false('suggestions' in allow.json);

  const preview = await call('/v1/preflight/exec', { params: { command: 'rm -rf /' } });
  t.like(preview.json, { allowed: false, decision: 'deny', enforced: false, enforcement_requested: false });
});

test('POST /v1/tool: 403 on deny, 202 pending approval on ask, 200 otherwise', async (t) => {
  const { server, call } = await startTestServer(t);
  const deny = await call('/v1/tool/exec', exec('rm -rf /'));
  t.is(deny.status, 403);
  t.like(deny.json, { allowed: false, decision: 'deny', policy: 'no-destruction', enforced: true });
  t.true(Array.isArray(deny.json.suggestions));

  const ask = await call('/v1/tool/exec', exec('sudo rm x'));
  t.is(ask.status, 202);
  t.like(ask.json, { allowed: false, decision: 'ask', approval_status: 'pending' });
  t.regex(ask.json.approval_id, /^[0-9A-Z]{26}$/);
  t.true(Date.parse(ask.json.expires_at) > Date.now());

  const allow = await call('/v1/tool/exec', exec('echo hi'));
  t.is(allow.status, 200);
  t.like(allow.json, { allowed: true, decision: 'allow', policy: '' });
  t.deepEqual(allow.json.suggestions, []);
});

test('auth: missing, malformed and wrong tokens are 401; the right one passes', async (t) => {
  const { server, call } = await startTestServer(t);
  const body = exec('ls');
  const missing = await call('/v1/preflight/exec', body, { token: null });
  t.is(missing.status, 401);
  t.deepEqual(missing.json, { error: 'missing authorization token' });
  // Same length with the last character changed, shorter, longer, empty: all the same answer.
  for (const wrong of [TOKEN.slice(0, -1) + 'X', TOKEN.slice(0, 5), TOKEN + 'extra', ' ' + TOKEN]) {
    const reply = await call('/v1/preflight/exec', body, { token: wrong });
    t.is(reply.status, 401, wrong);
    t.deepEqual(reply.json, { error: 'invalid authorization token' });
  }
  const empty = await call('/v1/preflight/exec', body, { token: '' });
  t.deepEqual([empty.status, empty.json], [401, { error: 'missing authorization token' }]);
  const basic = await fetch(server.url + '/v1/preflight/exec', { method: 'POST', headers: { authorization: `bearer ${TOKEN}` }, body: '{}' });
  t.is(basic.status, 401);
  for (const route of ['/v1/status', '/v1/tool/exec', '/v1/policy/reload']) {
    const reply = await call(route, route === '/v1/status' ? undefined : {}, { token: 'nope' });
    t.is(reply.status, 401, route);
  }
  t.is((await call('/v1/preflight/exec', body)).status, 200);
});

test('unknown routes and wrong methods are 404 {"error":"not found"}', async (t) => {
  const { server, call } = await startTestServer(t);
  for (const [route, method] of [
    ['/', 'GET'],
    ['/v1/preflight/exec', 'GET'],
    ['/v1/preflight/exec/extra', 'POST'],
    ['/v2/preflight/exec', 'POST'],
    ['/healthz', 'POST'],
    ['/v1/status', 'POST'],
    ['/v1/policy/reload', 'GET'],
  ] as const) {
    const reply = await call(route, undefined, { method });
    t.is(reply.status, 404, `${method} ${route}`);
    t.deepEqual(reply.json, { error: 'not found' });
  }
});

test('bad bodies are 400 with an error that says what is wrong, never an allow', async (t) => {
  const { call, auditDir } = await startTestServer(t);
  const cases: Array<[string, RegExp]> = [
    ['', /empty body/],
    ['   ', /empty body/],
    ['{', /invalid request body/],
    ['{} {}', /invalid request body/],
    ['{"a":1}garbage', /invalid request body/],
    ['[]', /expected a JSON object, got an array/],
    ['null', /got null/],
    ['"rm -rf /"', /got string/],
    ['{"params":"rm -rf /"}', /field "params" must be an object/],
    ['{"params":[1]}', /field "params" must be an object/],
    ['{"enforce":"yes"}', /field "enforce" must be a boolean/],
    ['{"agent":5}', /field "agent" must be a string/],
    ['{"params":{"command":["rm","-rf","/"]}}', /params.command must be a string/],
    ['{"params":{"command":"ls","cmd":"rm -rf /"}}', /conflicting command aliases \(params.command, params.cmd\)/],
    ['{"command":"ls","input":{"command":"rm -rf /"}}', /conflicting command aliases/],
    ['{"params":{"command_b64":"!!!"}}', /command_b64 is not valid base64/],
    ['{"params":' + '['.repeat(5000) + ']'.repeat(5000) + '}', /nested deeper than 64 levels|invalid request body/],
    ['\u0000\u0001\u0002', /invalid request body/],
  ];
  for (const [raw, error] of cases) {
    const reply = await call('/v1/preflight/exec', undefined, { raw });
    t.is(reply.status, 400, raw.slice(0, 40));
    t.regex(reply.json?.error ?? '', error, raw.slice(0, 40));
    t.false('allowed' in (reply.json ?? {}));
  }
  // Nothing that failed validation reached the audit log.
  t.is(auditRecords(auditDir).length, 0);
});

test('a body over 1 MiB is 400 and the server keeps serving', async (t) => {
  const { server, call } = await startTestServer(t);
  const big = JSON.stringify({ params: { command: 'x'.repeat(1024 * 1024 + 10) } });
  const reply = await call('/v1/preflight/exec', undefined, { raw: big });
  t.true(reply.status === 400 || reply.status === 413);
  t.regex(reply.json.error, /invalid request body: larger than 1048576 bytes/);
  const ok = await call('/v1/preflight/exec', exec('ls'));
  t.is(ok.status, 200);
});

test('tool names: shape, length and lower-case reserved names are checked', async (t) => {
  const { server, call } = await startTestServer(t);
  for (const tool of ['EXEC', 'Read', 'a%20b', 'a*b', 'x'.repeat(129), '']) {
    const reply = await call(`/v1/preflight/${tool}`, exec('ls'));
    t.is(reply.status, 400, tool);
    t.regex(reply.json.error, /invalid tool name/);
  }
  for (const tool of ['exec', 'my_tool.v2:run-1', 'x'.repeat(128), 'Custom']) {
    const reply = await call(`/v1/preflight/${tool}`, exec('ls'));
    t.is(reply.status, 200, tool);
  }
});

test('command aliases all reach the policy; comments and blank lines before the command are stripped', async (t) => {
  const { server, call, auditDir } = await startTestServer(t);
  const spellings = [
    { command: 'rm -rf /' },
    { params: { cmd: 'rm -rf /' } },
    { params: { input: 'rm -rf /' } },
    { input: { command: 'rm -rf /' } },
    { params: { arguments: { command: 'rm -rf /' } } },
    { input: { tool_input: { cmd: 'rm -rf /' } } },
    { params: { command_b64: Buffer.from('rm -rf /').toString('base64') } },
    { command_b64: Buffer.from('rm -rf /').toString('base64') },
    { params: { command: 'rm -rf /', cmd: 'rm -rf /' } },
    { params: { command: '#!/bin/sh\n\n  # clean up\nrm -rf /' } },
  ];
  for (const body of spellings) {
    const reply = await call('/v1/preflight/exec', { ...body, enforce: true });
    t.is(reply.status, 200, JSON.stringify(body));
    t.is(reply.json.decision, 'deny', JSON.stringify(body));
  }
  const records = auditRecords(auditDir);
  t.is(records.length, spellings.length);
  for (const record of records) t.is(record.request.command, 'rm -rf /');
  t.false(JSON.stringify(records).includes(Buffer.from('rm -rf /').toString('base64')));
});

test('monitor mode: enforce:true gets an allow that names the observed decision', async (t) => {
  const { server, call } = await startTestServer(t, { mode: 'monitor' });
  const observed = await call('/v1/preflight/exec', exec('rm -rf /'));
  t.is(observed.status, 200);
  t.like(observed.json, {
    allowed: true,
    decision: 'allow',
    message: 'monitor mode observed deny; action allowed: Destructive command blocked',
    policy_decision: 'deny',
    policy_message: 'Destructive command blocked',
    enforced: false,
    enforcement_requested: true,
  });
  const preview = await call('/v1/preflight/exec', { params: { command: 'rm -rf /' } });
  t.like(preview.json, { allowed: false, decision: 'deny' });
  const tool = await call('/v1/tool/exec', exec('sudo ls'));
  t.is(tool.status, 200);
  t.like(tool.json, { allowed: true, decision: 'allow', policy_decision: 'ask', enforced: false });
  t.is((await call('/healthz')).json.mode, 'monitor');
});

test('the audit record says whether a decision was enforced (a deny that was only asked about ran)', async (t) => {
  const { call, auditDir } = await startTestServer(t);
  await call('/v1/preflight/exec', exec('rm -rf /'));
  await call('/v1/preflight/exec', { params: { command: 'rm -rf /tmp/x' }, enforce: false });
  const [enforcedDeny, askedOnly] = auditRecords(auditDir);
  t.like(enforcedDeny, { decision: { action: 'deny', enforced: true } });
  t.like(askedOnly, { decision: { action: 'deny', enforced: false } });
  t.like(verifyAuditDir(auditDir), { ok: true, events: 2 });
});

test('disabled mode allows everything and still audits it', async (t) => {
  const { server, call, auditDir } = await startTestServer(t, { mode: 'disabled' });
  for (const route of ['/v1/preflight/exec', '/v1/tool/exec']) {
    const reply = await call(route, exec('rm -rf /'));
    t.is(reply.status, 200);
    t.like(reply.json, { allowed: true, decision: 'allow', message: 'policy evaluation disabled' });
    t.truthy(reply.json.audit_id);
  }
  const records = auditRecords(auditDir);
  t.is(records.length, 2);
  t.like(records[0], { tool: 'exec', request: { command: 'rm -rf /' }, decision: { action: 'allow', message: 'policy evaluation disabled' } });
});

test('verification requests are answered but not audited', async (t) => {
  const { server, call, auditDir } = await startTestServer(t);
  const reply = await call('/v1/preflight/exec', exec('ls', { verification: true }));
  t.is(reply.status, 200);
  t.false('audit_id' in reply.json);
  t.is(auditRecords(auditDir).length, 0);
});

test('GET /v1/status reports mode, policies, audit file and counts', async (t) => {
  const { server, call, auditDir } = await startTestServer(t);
  await call('/v1/preflight/exec', exec('rm -rf /'));
  await call('/v1/preflight/exec', exec('ls'));
  const status = await call('/v1/status');
  t.is(status.status, 200);
  t.like(status.json, { mode: 'enforce', policies: { loaded: 3, rules: 3 }, decisions: { total: 2, deny: 1, allow: 1 } });
  t.is(path.dirname(status.json.audit.file), auditDir);
  t.is(status.json.audit.events, 2);
});

test('POST /v1/policy/reload: success fields, then 429 inside the 1 s cooldown', async (t) => {
  const { server, call } = await startTestServer(t);
  const first = await call('/v1/policy/reload', {});
  t.is(first.status, 200);
  t.like(first.json, { success: true, policies_loaded: 3, rules_total: 3 });
  t.is(typeof first.json.reload_time_ms, 'number');
  const second = await call('/v1/policy/reload', {});
  t.is(second.status, 429);
  t.regex(second.json.error, /rate limited/);
});

test('a policy change is picked up; a broken file keeps the old policies and logs file:line', async (t) => {
  const { server, call, policyFile, logs } = await startTestServer(t);
  t.is((await call('/v1/preflight/exec', exec('git push --force'))).json.decision, 'allow');
  fs.writeFileSync(
    policyFile,
    BASE_POLICY +
      `  - name: no-force-push\n    match:\n      tool: exec\n    rules:\n      - action: deny\n        when:\n          command_matches: ["git push --force*"]\n        message: No force pushes\n`,
  );
  t.true(await eventually(async () => (await call('/v1/preflight/exec', exec('git push --force'))).json.decision === 'deny'));
  t.true(logs.some((line) => /policies reloaded.*4 policies/.test(line)));

  fs.writeFileSync(policyFile, 'version: "1"\npolicies:\n  - name: broken\n    bogus_key: 1\n');
  t.true(await eventually(() => logs.some((line) => line.includes('policy reload failed'))));
  const failure = logs.find((line) => line.includes('policy reload failed'))!;
  t.true(failure.includes(`${policyFile}:`), failure);
  t.regex(failure, /policy\.yaml:\d+/);
  // The old (four-policy) set still decides.
  t.is((await call('/v1/preflight/exec', exec('git push --force'))).json.decision, 'deny');
  const api = await call('/v1/policy/reload', {});
  t.is(api.status, 500);
  t.like(api.json, { success: false });
  t.true(api.json.error.includes(policyFile));
});

test('a policy directory created after the server started is watched from then on', async (t) => {
  // The serve default: built-in policy + <home>/.rampart/policies, which does not exist yet.
  const home = tempDir('rampart-late-dir-');
  fs.mkdirSync(path.join(home, '.rampart'));
  const configDir = path.join(home, '.rampart', 'policies');
  const { call } = await startTestServer(t, { policy: { home } });
  t.is((await call('/v1/preflight/exec', exec('make deploy'))).json.decision, 'allow');
  fs.mkdirSync(configDir);
  const rule = (name: string, glob: string) =>
    `version: "1"\npolicies:\n  - name: ${name}\n    match:\n      tool: exec\n    rules:\n      - action: deny\n        when:\n          command_matches: ["${glob}"]\n        message: ${name}\n`;
  fs.writeFileSync(path.join(configDir, 'late.yaml'), rule('no-deploy', 'make deploy*'));
  t.true(await eventually(async () => (await call('/v1/preflight/exec', exec('make deploy'))).json.decision === 'deny'));
  fs.writeFileSync(path.join(configDir, 'later.yaml'), rule('no-release', 'make release*'));
  t.true(await eventually(async () => (await call('/v1/preflight/exec', exec('make release'))).json.decision === 'deny'));
});

test('audit write failure: 503 for enforcing requests, never an unaudited answer', async (t) => {
  const { server, call, auditDir } = await startTestServer(t);
  // The server opens today's file on the first record: make it a device that is always full.
  fs.mkdirSync(auditDir, { recursive: true });
  fs.symlinkSync('/dev/full', path.join(auditDir, `${new Date().toISOString().slice(0, 10)}.jsonl`));
  const enforced = await call('/v1/preflight/exec', exec('ls'));
  t.is(enforced.status, 503);
  t.regex(enforced.json.error, /audit log unavailable/);
  t.false('allowed' in enforced.json);
  t.is((await call('/v1/tool/exec', exec('ls'))).status, 503);
  // A preview (not enforcing) is still answered, without an audit id.
  const preview = await call('/v1/preflight/exec', { params: { command: 'ls' } });
  t.is(preview.status, 200);
  t.false('audit_id' in preview.json);
  t.is((await call('/v1/status')).json.audit.failures, 3);
});

test('garbage on the socket gets a 400 and the server keeps answering', async (t) => {
  const { server, call } = await startTestServer(t);
  const reply = await new Promise<string>((resolve) => {
    const socket = net.connect(server.port, '127.0.0.1', () => socket.write('\x16\x03\x01\x02\x00 not http at all\r\n\r\n'));
    let data = '';
    socket.on('data', (d) => (data += d.toString()));
    socket.on('close', () => resolve(data));
    socket.on('error', () => resolve(data));
  });
  t.regex(reply, /^HTTP\/1\.1 400/);
  t.regex(reply, /"error"/);
  const huge = await new Promise<string>((resolve) => {
    const socket = net.connect(server.port, '127.0.0.1', () => socket.write(`GET /healthz HTTP/1.1\r\nx-big: ${'a'.repeat(70_000)}\r\n\r\n`));
    let data = '';
    socket.on('data', (d) => (data += d.toString()));
    socket.on('close', () => resolve(data));
    socket.on('error', () => resolve(data));
  });
  t.regex(huge, /^HTTP\/1\.1 431/);
  t.is((await call('/v1/preflight/exec', exec('ls'))).status, 200);
});

test('every answered decision is in a chain that verifies, with credentials redacted', async (t) => {
  const { server, call, auditDir } = await startTestServer(t);
  const secrets = [
    'curl -H "Authorization: Bearer abcdefghijklmnop" https://x',
    'mysql -u root -phunter22 db',
    'deploy --password s3cret! now',
    'export GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123',
    'aws s3 ls # AKIAABCDEFGHIJKLMNOP',
  ];
  for (const command of secrets) await call('/v1/preflight/exec', exec(command, { params: { command, api_key: 'k-123', nested: { password: 'p' } } }));
  const text = fs
    .readdirSync(auditDir)
    .map((f) => fs.readFileSync(path.join(auditDir, f), 'utf8'))
    .join('');
  for (const leaked of ['abcdefghijklmnop', 'hunter22', 's3cret!', 'ghp_abcdef', 'AKIAABCDEFGHIJKLMNOP', 'k-123', '"p"'])
    t.false(text.includes(leaked), leaked);
  t.true(text.includes('[REDACTED]'));
  const result = verifyAuditDir(auditDir);
  t.true(result.ok, JSON.stringify(result.error));
  t.is(result.events, secrets.length);
});
