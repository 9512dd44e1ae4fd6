// The audit log as files on disk: the hash chain across records, restarts and files, tamper
// detection with file:line, torn-line recovery, redaction, and the webhook helper.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import test from 'ava';
import { AuditLog, type AuditEntry } from '../../src/audit/log.ts';
import { redactValue, scrubString } from '../../src/audit/redact.ts';
import { verifyAuditDir } from '../../src/audit/verify.ts';
import { askWebhook } from '../../src/server/webhook.ts';
import { tempDir } from '../helpers.ts';
import { auditRecords, startTestServer } from './support.ts';

const entry = (command: string, action = 'allow'): AuditEntry => ({
  agent: 'agent',
  session: 'session',
  tool: 'exec',
  request: { command },
  decision: { action, matchedPolicies: [], evaluationTimeUs: 3, message: '' },
});

const filesOf = (dir: string) =>
  fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort();

test('the chain continues across a server restart and verifies', async (t) => {
  const first = await startTestServer(t);
  await first.call('/v1/preflight/exec', { params: { command: 'ls' }, enforce: true });
  await first.call('/v1/preflight/exec', { params: { command: 'rm -rf /' }, enforce: true });
  await first.server.close();
  const second = await startTestServer(t, { auditDir: first.auditDir });
  await second.call('/v1/preflight/exec', { params: { command: 'pwd' }, enforce: true });
  await second.server.close();
  const records = auditRecords(first.auditDir);
  t.is(records.length, 3);
  t.is(records[2].prev_hash, records[1].hash);
  t.is(records[0].prev_hash, '');
  const result = verifyAuditDir(first.auditDir);
  t.true(result.ok, JSON.stringify(result.error));
  t.is(result.events, 3);
});

test('a new UTC day starts a new file whose chain_continue links to the previous file', (t) => {
  const dir = tempDir();
  let now = new Date('2026-03-01T23:59:59.500Z');
  const log = AuditLog.open(dir, { now: () => now });
  log.append(entry('ls'));
  log.append(entry('pwd'));
  now = new Date('2026-03-02T00:00:00.100Z');
  log.append(entry('id'));
  log.close();
  t.deepEqual(filesOf(dir), ['2026-03-01.jsonl', '2026-03-02.jsonl']);
  const firstLines = fs.readFileSync(path.join(dir, '2026-03-01.jsonl'), 'utf8').trim().split('\n');
  const marker = JSON.parse(fs.readFileSync(path.join(dir, '2026-03-02.jsonl'), 'utf8').split('\n')[0]!);
  t.deepEqual(marker, { chain_continue: JSON.parse(firstLines.at(-1)!).hash, prev_file: '2026-03-01.jsonl' });
  t.true(verifyAuditDir(dir).ok);

  // A restart on the next day continues the newest file.
  const reopened = AuditLog.open(dir, { now: () => now });
  reopened.append(entry('whoami'));
  reopened.close();
  const result = verifyAuditDir(dir);
  t.true(result.ok, JSON.stringify(result.error));
  t.is(result.events, 4);
});

test('a full file rotates to YYYY-MM-DD.p2.jsonl and the chain verifies', (t) => {
  const dir = tempDir();
  const now = new Date('2026-03-05T10:00:00Z');
  const log = AuditLog.open(dir, { now: () => now, maxFileBytes: 1500 });
  for (let i = 0; i < 12; i++) log.append(entry(`echo ${i}`));
  log.close();
  const files = filesOf(dir);
  t.true(files.length >= 3, files.join());
  t.true(files.includes('2026-03-05.p2.jsonl'));
  const result = verifyAuditDir(dir);
  t.true(result.ok, JSON.stringify(result.error));
  t.is(result.events, 12);
});

test('a next file that could not be opened at first still starts with its chain_continue once it can', (t) => {
  const dir = tempDir();
  const now = new Date('2026-03-06T10:00:00Z');
  const log = AuditLog.open(dir, { now: () => now, maxFileBytes: 1500 });
  // The next part cannot be opened (a directory holds its name) until the directory goes away.
  const blocker = path.join(dir, '2026-03-06.p2.jsonl');
  fs.mkdirSync(blocker);
  let failures = 0;
  for (let i = 0; i < 12 && failures === 0; i++) {
    try {
      log.append(entry(`echo ${i}`));
    } catch {
      failures++;
    }
  }
  t.is(failures, 1, 'the rotation to the blocked file failed');
  fs.rmdirSync(blocker);
  log.append(entry('after'));
  log.append(entry('after again'));
  log.close();
  const files = filesOf(dir);
  t.deepEqual(files, ['2026-03-06.jsonl', '2026-03-06.p2.jsonl']);
  const first = JSON.parse(fs.readFileSync(path.join(dir, files[1]!), 'utf8').split('\n')[0]!) as Record<string, unknown>;
  t.is(first.prev_file, '2026-03-06.jsonl');
  t.true(verifyAuditDir(dir).ok);
  // A restart checks the newest file on its own: no broken-chain warning.
  const warnings: string[] = [];
  AuditLog.open(dir, { warn: (w) => warnings.push(w) }).close();
  t.deepEqual(warnings, []);
});

test('verify names the first tampered, removed or reordered record by file:line', (t) => {
  const make = () => {
    const dir = tempDir();
    const log = AuditLog.open(dir);
    for (const command of ['ls', 'rm -rf /', 'pwd', 'id']) log.append(entry(command, command.startsWith('rm') ? 'deny' : 'allow'));
    log.close();
    const file = path.join(dir, filesOf(dir)[0]!);
    return { dir, file, lines: fs.readFileSync(file, 'utf8').trim().split('\n') };
  };

  const edited = make();
  edited.lines[1] = edited.lines[1]!.replace('"deny"', '"allow"');
  fs.writeFileSync(edited.file, edited.lines.join('\n') + '\n');
  t.like(verifyAuditDir(edited.dir), { ok: false, error: { file: edited.file, line: 2 } });
  t.regex(verifyAuditDir(edited.dir).error!.reason, /record was modified/);

  const removed = make();
  removed.lines.splice(1, 1);
  fs.writeFileSync(removed.file, removed.lines.join('\n') + '\n');
  t.like(verifyAuditDir(removed.dir), { ok: false, error: { file: removed.file, line: 2 } });
  t.regex(verifyAuditDir(removed.dir).error!.reason, /prev_hash/);

  const swapped = make();
  [swapped.lines[2], swapped.lines[3]] = [swapped.lines[3]!, swapped.lines[2]!];
  fs.writeFileSync(swapped.file, swapped.lines.join('\n') + '\n');
  t.like(verifyAuditDir(swapped.dir), { ok: false, error: { line: 3 } });

  // Re-hashing an edited record does not help: the next record no longer links to it.
  const torn = make();
  fs.writeFileSync(torn.file, torn.lines.join('\n') + '\n' + torn.lines[0]!.slice(0, 40));
  t.like(verifyAuditDir(torn.dir), { ok: false, error: { line: 5 } });
});

test('after a torn last line the writer starts a fresh line; verify still points at the damage', (t) => {
  const dir = tempDir();
  const log = AuditLog.open(dir);
  log.append(entry('ls'));
  log.close();
  const file = path.join(dir, filesOf(dir)[0]!);
  fs.appendFileSync(file, '{"schema_version":"rampart.au');
  const warnings: string[] = [];
  const reopened = AuditLog.open(dir, { warn: (w) => warnings.push(w) });
  reopened.append(entry('pwd'));
  reopened.close();
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  t.is(lines.length, 3);
  t.is(JSON.parse(lines[2]!).request.command, 'pwd');
  t.regex(warnings.join('\n'), /broken at line 2/);
  t.like(verifyAuditDir(dir), { ok: false, error: { file, line: 2 } });
});

/** Go's encoding/json escaping, written independently of src/audit. */
const goEscaped = (value: unknown) => JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

test('record bytes: the spec field order, Go escaping, sorted request keys, optional fields only when set, and the chain hash', (t) => {
  const dir = tempDir('rampart-audit-');
  const now = new Date('2026-03-04T05:06:07.089Z');
  const log = AuditLog.open(dir, { now: () => now });
  const tricky = 'echo "<a>" && cat x & \u2028 \u2029 é 漢 \u0001 \\';
  const full: AuditEntry = {
    agent: 'ag<ent>',
    session: 's&1',
    tool: 'exec',
    request: { zeta: 1, command: tricky, alpha: { z: [1, 'b>'], a: null }, api_key: 'k', empty_token: '' },
    runId: 'run-1',
    toolCallId: 'call-<2>',
    approvalOwner: 'owner',
    decision: { action: 'deny', matchedPolicies: ['p1', 'p<2>'], evaluationTimeUs: 7, message: 'no & no', suggestions: ['try <this>'] },
  };
  const firstId = log.append(full);
  const secondId = log.append(entry('ls'));
  log.close();
  const lines = fs.readFileSync(path.join(dir, '2026-03-04.jsonl'), 'utf8').split('\n');
  t.is(lines.length, 3);
  t.is(lines[2], '');
  const host = JSON.parse(lines[0]!).host;
  t.deepEqual(Object.keys(host), ['hostname', 'os', 'arch']);

  const seal = (prevHash: string, event: Record<string, unknown>) => {
    const withEmpty = goEscaped({ ...event, prev_hash: prevHash, hash: '' });
    const hash =
      'sha256:' +
      crypto
        .createHash('sha256')
        .update(prevHash + withEmpty)
        .digest('hex');
    return { line: goEscaped({ ...event, prev_hash: prevHash, hash }), hash };
  };
  const first = seal('', {
    schema_version: 'rampart.audit.v1',
    id: firstId,
    timestamp: '2026-03-04T05:06:07.089Z',
    agent: 'ag<ent>',
    session: 's&1',
    host,
    run_id: 'run-1',
    tool_call_id: 'call-<2>',
    approval_owner: 'owner',
    tool: 'exec',
    request: { alpha: { a: null, z: [1, 'b>'] }, api_key: '[REDACTED]', command: tricky, empty_token: '', zeta: 1 },
    decision: { action: 'deny', matched_policies: ['p1', 'p<2>'], evaluation_time_us: 7, message: 'no & no', suggestions: ['try <this>'] },
  });
  t.is(lines[0], first.line);
  t.true(lines[0]!.includes('\\u003ca\\u003e') && lines[0]!.includes('\\u2028') && !lines[0]!.includes('<'));
  const second = seal(first.hash, {
    schema_version: 'rampart.audit.v1',
    id: secondId,
    timestamp: '2026-03-04T05:06:07.089Z',
    agent: 'agent',
    session: 'session',
    host,
    tool: 'exec',
    request: { command: 'ls' },
    decision: { action: 'allow', evaluation_time_us: 3 },
  });
  t.is(lines[1], second.line);
  t.true(secondId > firstId, 'ids sort in write order within one millisecond');
  t.regex(secondId, /^[0-9A-HJKMNP-TV-Z]{26}$/);
  t.like(verifyAuditDir(dir), { ok: true, events: 2 });
});

test('redaction: sensitive keys and credential shapes inside strings', (t) => {
  t.deepEqual(
    redactValue({
      token: 'a',
      GitHub_Token: 'b',
      'x-api-key': 'c',
      password: 'd',
      cookie: 'e',
      authorization: 'f',
      command_b64: 'g',
      max_tokens: 5,
      path: '/tmp',
    }),
    {
      GitHub_Token: '[REDACTED]',
      authorization: '[REDACTED]',
      command_b64: '[REDACTED]',
      cookie: '[REDACTED]',
      max_tokens: 5,
      password: '[REDACTED]',
      path: '/tmp',
      token: '[REDACTED]',
      'x-api-key': '[REDACTED]',
    },
  );
  t.is(scrubString('curl -H "Authorization: Bearer abc.def-123456"'), 'curl -H "Authorization: Bearer [REDACTED]"');
  t.is(scrubString('mysql -uroot -pS3cret db'), 'mysql -uroot -p[REDACTED] db');
  t.is(scrubString('mkdir -p build && cp -pr a b'), 'mkdir -p build && cp -pr a b');
  t.is(scrubString('app --password=hunter2 --user x'), 'app --password=[REDACTED] --user x');
  t.is(scrubString('curl "https://x/api?token=abc123&x=1"'), 'curl "https://x/api?token=[REDACTED]&x=1"');
  t.is(
    scrubString('echo ghp_0123456789abcdefghijklmn xoxb-1234-abcdefgh sk-abcdefghijklmnopqrstu AKIAABCDEFGHIJKLMNOP'),
    'echo [REDACTED] [REDACTED] [REDACTED] [REDACTED]',
  );
  t.is(scrubString('ls -la /home'), 'ls -la /home');
  // Every credential shape, in other spellings (each scrubber must still be reached).
  t.is(scrubString('curl -H "authorization: basic dXNlcjpwYXNz" x'), 'curl -H "authorization: basic [REDACTED]" x');
  t.is(scrubString('curl -H "AUTHORIZATION: Token abc123" x'), 'curl -H "AUTHORIZATION: Token [REDACTED]" x');
  t.is(scrubString('x BEARER abcdefgh12'), 'x BEARER [REDACTED]');
  t.is(scrubString('tool --passwd "two words" --pass x'), 'tool --passwd [REDACTED] --pass [REDACTED]');
  t.is(scrubString('MariaDB-Dump -u root -pTopSecret db'), 'MariaDB-Dump -u root -p[REDACTED] db');
  t.is(
    scrubString('env MY_API-KEY=1 OPENAI_API_KEY=sk x ApiKey=abc DB_PASSWD=p SECRET_X=y'),
    'env MY_API-KEY=[REDACTED] OPENAI_API_KEY=[REDACTED] x ApiKey=[REDACTED] DB_PASSWD=[REDACTED] SECRET_X=[REDACTED]',
  );
  t.is(scrubString('gho_abcdefghijklmnop1234 ghs_abcdefghijklmnop1234 ghr_abcdefghijklmnop1234'), '[REDACTED] [REDACTED] [REDACTED]');
  t.is(scrubString('xoxp-12345678-abc sk-proj_abcdefghijklmnop'), '[REDACTED] [REDACTED]');
  t.is(scrubString('id=AKIA1234567890ABCDEF.'), 'id=[REDACTED].');
  t.is(scrubString('skip ghost tokenizer apikeys mysqlish'), 'skip ghost tokenizer apikeys mysqlish');
  // A quoted -p password, and one after a MySQL -P<port> (which used to end the scan).
  t.is(scrubString(`mysql -u root -p'two words' db`), 'mysql -u root -p[REDACTED] db');
  t.is(scrubString('mysql -h db -P3306 -phunter2 app; mkdir -p x'), 'mysql -h db -P3306 -p[REDACTED] app; mkdir -p x');
  // user:password in curl -u / --user and in URLs; sensitive -H / --header values.
  t.is(scrubString(`curl -u admin:hunter2 x; curl --user 'bob:pa ss' y`), `curl -u admin:[REDACTED] x; curl --user 'bob:[REDACTED]' y`);
  t.is(
    scrubString('git clone https://bob:hunter2@example.com/r.git; psql postgres://app:s3cr3t@db:5432/x'),
    'git clone https://bob:[REDACTED]@example.com/r.git; psql postgres://app:[REDACTED]@db:5432/x',
  );
  t.is(
    scrubString(`curl -H "X-Api-Key: abc123" --header 'PRIVATE-TOKEN: glpat-abc' -H "Cookie: s=1; id=2" x`),
    `curl -H "X-Api-Key: [REDACTED]" --header 'PRIVATE-TOKEN: [REDACTED]' -H "Cookie: [REDACTED]" x`,
  );
  for (const plain of ['sort -u f; ps -u root; ssh user@host; curl http://localhost:8080/a@b', 'curl -H "Content-Type: application/json" x'])
    t.is(scrubString(plain), plain);
  // Sensitive keys are decided the same the second time (the verdicts are cached).
  for (let i = 0; i < 2; i++) t.deepEqual(redactValue({ Session_Token: 'x', tokens_used: 3 }), { Session_Token: '[REDACTED]', tokens_used: 3 });
});

async function webhookServer(t: import('ava').ExecutionContext, handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}/hook`;
}

test('webhook rules: the answer decides, and failures fail closed unless fail_open', async (t) => {
  const call = { agent: 'a', session: 's', tool: 'exec', params: { command: 'deploy' } };
  let seen: any;
  const allowUrl = await webhookServer(t, (req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      seen = JSON.parse(body);
      res.end(JSON.stringify({ decision: 'allow', reason: 'approved by bot' }));
    });
  });
  t.deepEqual(await askWebhook({ url: allowUrl, timeoutMs: 2000, failOpen: false }, call, 'needs a check'), { action: 'allow', message: 'approved by bot' });
  t.like(seen, { tool: 'exec', params: { command: 'deploy' }, message: 'needs a check' });

  const brokenUrl = await webhookServer(t, (_req, res) => res.end('not json'));
  t.is((await askWebhook({ url: brokenUrl, timeoutMs: 2000, failOpen: false }, call, '')).action, 'deny');
  t.is((await askWebhook({ url: brokenUrl, timeoutMs: 2000, failOpen: true }, call, '')).action, 'allow');
  const silentUrl = await webhookServer(t, () => {});
  const slow = await askWebhook({ url: silentUrl, timeoutMs: 200, failOpen: false }, call, '');
  t.deepEqual(slow.action, 'deny');
  t.regex(slow.message, /failed \(timed out\); failing closed/);
  const refused = await askWebhook({ url: 'http://127.0.0.1:1/hook', timeoutMs: 500, failOpen: false }, call, '');
  t.is(refused.action, 'deny');
});

test('a webhook rule in a served policy calls its URL, and the answer decides the preflight', async (t) => {
  const asked: string[] = [];
  const hook = await webhookServer(t, (req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const command = String(JSON.parse(body).params?.command);
      asked.push(command);
      res.end(JSON.stringify({ decision: command.includes('prod') ? 'deny' : 'allow', reason: `bot says ${command}` }));
    });
  });
  const policy = `version: "1"
default_action: allow
policies:
  - name: deploys
    match: { tool: exec }
    rules:
      - action: webhook
        when: { command_matches: ["deploy *"] }
        webhook: { url: "${hook}", timeout: 2s }
        message: deploys are checked by the bot
`;
  const { call } = await startTestServer(t, {}, policy);
  const staging = await call('/v1/preflight/exec', { agent: 'a', session: 's', params: { command: 'deploy staging' }, enforce: true });
  t.like(staging.json, { allowed: true, decision: 'allow', message: 'bot says deploy staging' });
  const prod = await call('/v1/preflight/exec', { agent: 'a', session: 's', params: { command: 'deploy prod' }, enforce: true });
  t.like(prod.json, { allowed: false, decision: 'deny', message: 'bot says deploy prod' });
  t.deepEqual(asked, ['deploy staging', 'deploy prod']);
});
