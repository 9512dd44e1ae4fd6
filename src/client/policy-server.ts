// Talking to `rampart serve`: is it there (GET /healthz), what does it say about a command
// (POST /v1/preflight/exec), and starting one in the background when nobody answers.
import { runCapturingStderr } from '../util/process.ts';
import { request, parseObject, ReplyTooLargeError, topLevelKeys, TransportError } from './http.ts';
import { endpoint } from './settings.ts';

export type Health = { state: 'ok'; mode: string; version: string } | { state: 'unreachable'; reason: string } | { state: 'not-rampart'; reason: string };

export async function checkHealth(baseUrl: URL, timeoutMs = 3000): Promise<Health> {
  let reply;
  try {
    reply = await request(endpoint(baseUrl, '/healthz'), { timeoutMs });
  } catch (err) {
    if (err instanceof TransportError) return { state: 'unreachable', reason: err.message };
    if (err instanceof ReplyTooLargeError) return { state: 'not-rampart', reason: err.message };
    throw err;
  }
  const body = parseObject(reply.body);
  if (reply.status !== 200 || body?.service !== 'rampart') {
    const what = reply.status === 200 ? 'a reply that is not from rampart' : `HTTP ${reply.status}`;
    return { state: 'not-rampart', reason: `${endpoint(baseUrl, '/healthz').href} gave ${what}` };
  }
  return { state: 'ok', mode: String(body.mode ?? 'unknown'), version: String(body.version ?? 'unknown') };
}

export interface PreflightRequest {
  command: string;
  agent: string;
  session: string;
  token?: string;
  /** false asks without consuming anything (doctor's probes); the launcher sends true like the library. */
  enforce?: boolean;
}

/**
 * The server's answer, classified the way librampart.so classifies it (docs/library.md LIB-ANS-1, LIB-FAIL):
 * only a 200 carrying one JSON object with a boolean `allowed` decides; transport failures and
 * 5xx are "unreachable" (fail-open applies); anything else is "invalid" (denies in enforce).
 */
export type Verdict =
  | { kind: 'decided'; allowed: boolean; message: string; decision: string }
  | { kind: 'unreachable'; reason: string }
  | { kind: 'invalid'; status: number; reason: string };

export async function preflight(baseUrl: URL, req: PreflightRequest, timeoutMs = 5000): Promise<Verdict> {
  const headers: Record<string, string> = {};
  if (req.token) headers.authorization = `Bearer ${req.token}`;
  let reply;
  try {
    reply = await request(endpoint(baseUrl, '/v1/preflight/exec'), {
      method: 'POST',
      headers,
      timeoutMs,
      json: { agent: req.agent, session: req.session, params: { command: req.command }, enforce: req.enforce ?? true },
    });
  } catch (err) {
    if (err instanceof TransportError) return { kind: 'unreachable', reason: err.message };
    if (err instanceof ReplyTooLargeError) return { kind: 'invalid', status: 0, reason: err.message };
    throw err;
  }
  const body = parseObject(reply.body);
  if (reply.status >= 500) return { kind: 'unreachable', reason: `HTTP ${reply.status}${errorText(body)}` };
  if (reply.status === 401 || reply.status === 403) {
    return {
      kind: 'invalid',
      status: reply.status,
      reason: `the policy server refused the token (HTTP ${reply.status}${errorText(body)}); pass --token or set RAMPART_TOKEN to the server's token (~/.rampart/token)`,
    };
  }
  if (reply.status !== 200 || !body || typeof body.allowed !== 'boolean') {
    return { kind: 'invalid', status: reply.status, reason: `unexpected reply from the policy server (HTTP ${reply.status}${errorText(body)})` };
  }
  // JSON.parse keeps the last of duplicated keys; the library refuses such an answer, and so must
  // we, or {"allowed":false,"allowed":true} would let the command start that the library would deny.
  if (topLevelKeys(reply.body).filter((key) => key === 'allowed').length !== 1) {
    return { kind: 'invalid', status: reply.status, reason: 'unexpected reply from the policy server (HTTP 200: "allowed" appears more than once)' };
  }
  return {
    kind: 'decided',
    allowed: body.allowed,
    message: typeof body.message === 'string' && body.message !== '' ? body.message : 'denied by policy',
    decision: typeof body.decision === 'string' ? body.decision : body.allowed ? 'allow' : 'deny',
  };
}

function errorText(body: Record<string, unknown> | undefined): string {
  return typeof body?.error === 'string' ? `: ${body.error}` : '';
}

/**
 * Starts `rampart serve --background --port <port>` with the same CLI entry that is running now,
 * waits for it to return (it returns once /healthz answers), then confirms health ourselves.
 * The server is a detached process by design: it outlives this command.
 */
export async function startBackgroundServer(
  baseUrl: URL,
  port: number,
  timeoutMs = 20_000,
): Promise<Extract<Health, { state: 'ok' }> | { state: 'failed'; details: string[] }> {
  const entry = process.argv[1];
  if (!entry) throw new Error('cannot tell which rampart CLI is running (process.argv[1] is empty)');
  const output = await runCapturingStderr(process.execPath, [entry, 'serve', '--background', '--port', String(port)], { timeoutMs });
  const health = await checkHealth(baseUrl);
  if (health.state === 'ok') return health;
  // The server's own last lines say why (a policy file error names file and line): one per line.
  const details = output.stderr.trim().split('\n').filter(Boolean).slice(-3);
  details.push(`rampart serve --background exited with ${output.code ?? 'no exit code'}; ${health.reason}`);
  return { state: 'failed', details };
}
