// `action: webhook` rules: ask an external URL for allow/deny, bounded by the rule's timeout,
// failing closed unless the rule says fail_open (POL-FILE-2, docs/server-api.md).
import type { ToolCall } from '../policy/types.ts';

export interface WebhookConfig {
  url: string;
  timeoutMs: number;
  failOpen: boolean;
}

/** Upper bound whatever the policy says: an exec waits on this answer. */
const MAX_TIMEOUT_MS = 30_000;
const MAX_REPLY_BYTES = 64 * 1024;

export interface WebhookVerdict {
  action: 'allow' | 'deny';
  message: string;
}

export async function askWebhook(hook: WebhookConfig, call: ToolCall, policyMessage: string): Promise<WebhookVerdict> {
  const failure = (why: string): WebhookVerdict =>
    hook.failOpen
      ? { action: 'allow', message: `webhook ${hook.url} failed (${why}); fail_open allows` }
      : { action: 'deny', message: `webhook ${hook.url} failed (${why}); failing closed` };
  try {
    const reply = await fetch(hook.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tool: call.tool, agent: call.agent, session: call.session, params: call.params, message: policyMessage }),
      redirect: 'manual',
      signal: AbortSignal.timeout(Math.min(Math.max(hook.timeoutMs, 1), MAX_TIMEOUT_MS)),
    });
    if (reply.status !== 200) return failure(`HTTP ${reply.status}`);
    const text = await reply.text();
    if (text.length > MAX_REPLY_BYTES) return failure('reply too large');
    const body = JSON.parse(text) as { decision?: unknown; reason?: unknown; message?: unknown };
    const reason = typeof body.reason === 'string' ? body.reason : typeof body.message === 'string' ? body.message : '';
    if (body.decision === 'allow' || body.decision === 'deny') {
      return { action: body.decision, message: reason || policyMessage || `webhook decided ${body.decision}` };
    }
    return failure('reply has no "decision": "allow" | "deny"');
  } catch (err) {
    const e = err as Error;
    return failure(e.name === 'TimeoutError' ? 'timed out' : e instanceof SyntaxError ? 'reply is not JSON' : e.message);
  }
}
