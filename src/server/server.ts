// `rampart serve` transport: node:http, the routes of docs/server-api.md, limits and timeouts.
// Decisions come from src/policy, records go to src/audit; this file only wires them together.
// Used by `rampart serve` and, in-process, by `rampart wrap`.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { AuditLog, type AuditEntry } from '../audit/log.ts';
import { ulid } from '../audit/ulid.ts';
import { EngineState, evaluate } from '../policy/evaluate.ts';
import { loadServePolicies, missingWatchTargets, watchTargets, type PolicySet, type ServeStoreOptions } from '../policy/load.ts';
import type { Decision, ToolCall } from '../policy/types.ts';
import type { Mode } from '../mode.ts';
import { VERSION } from '../version.ts';
import { bearerAuth } from './auth.ts';
import { badRequest, errorResponse, notFound, tooManyRequests } from './errors.ts';
import { askWebhook } from './webhook.ts';
import {
  MAX_BODY_BYTES,
  parseRequest,
  toToolCall,
  validateToolName,
  type HealthResponseV1,
  type PreflightRequestV1,
  type PreflightResponseV1,
  type ReloadResponseV1,
  type ToolResponseV1,
} from './wire.ts';

export interface ServerOptions {
  /** IP literal to bind, e.g. 127.0.0.1. */
  addr: string;
  /** 0 = a random free port. */
  port: number;
  mode: Mode;
  /** Bearer token every /v1 route requires. */
  token: string;
  policy: ServeStoreOptions;
  auditDir: string;
  /** fdatasync every audit record (default false: written before the reply, page cache only). */
  auditFsync?: boolean;
  /** Operational messages (reloads, audit trouble), one line each. */
  log?: (line: string) => void;
}

export type ReloadResult = ReloadResponseV1;

export interface RunningServer {
  url: string;
  port: number;
  /** Policies currently loaded (changes on reload). */
  readonly policyCount: number;
  close(): Promise<void>;
  /** Reloads the policies now; on failure the old ones stay. */
  reload(): ReloadResult;
}

/** listen() failed; `code` is the errno name (EADDRINUSE, EACCES, ...). */
export class ListenError extends Error {
  constructor(
    readonly code: string,
    readonly addr: string,
    readonly port: number,
    message: string,
  ) {
    super(message);
    this.name = 'ListenError';
  }
}

const APPROVAL_TIMEOUT_MS = 2 * 60_000;
const RELOAD_COOLDOWN_MS = 1000;
const RELOAD_DEBOUNCE_MS = 500;
/** A body over the limit is read and dropped up to this much (so the client sees the 400). */
const MAX_DISCARD_BYTES = 64 * 1024 * 1024;

/** What a decision looks like after the mode and any webhook were applied. */
interface Outcome {
  action: string;
  message: string;
  matchedPolicies: string[];
  suggestions: string[];
  evalDurationUs: number;
  /** Set when monitor mode rewrote the policy's decision. */
  policyAction?: string;
  policyMessage?: string;
}

const ALLOWING = new Set(['allow', 'watch']);

/** The outcome with a webhook's answer (webhooks only run in enforce mode: no monitor rewrite). */
function withVerdict(outcome: Outcome, verdict: { action: string; message: string }): Outcome {
  outcome.action = verdict.action;
  outcome.message = verdict.message;
  return outcome;
}

class Service {
  private policies: PolicySet;
  private readonly engine = new EngineState();
  private readonly audit: AuditLog;
  private readonly checkToken: (authorization: string | undefined) => void;
  private readonly startedAt = Date.now();
  private lastHttpReload = 0;
  private readonly counts: Record<string, number> = { allow: 0, deny: 0, ask: 0, watch: 0, webhook: 0 };
  private auditFailures = 0;
  private watchers: fs.FSWatcher[] = [];
  private reloadTimer: NodeJS.Timeout | undefined;
  private readonly log: (line: string) => void;

  constructor(private readonly options: ServerOptions) {
    this.log = options.log ?? (() => {});
    this.checkToken = bearerAuth(options.token);
    this.policies = loadServePolicies(options.policy);
    this.audit = AuditLog.open(options.auditDir, { fsync: options.auditFsync, warn: this.log });
  }

  get policyCount(): number {
    return this.policies.policyCount;
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const url = req.url ?? '/';
      const query = url.indexOf('?');
      const pathname = query < 0 ? url : url.slice(0, query);
      if (pathname === '/healthz' && req.method === 'GET') return send(res, 200, this.health());
      const route = matchRoute(req.method ?? '', pathname);
      if (!route) throw notFound();
      this.checkToken(req.headers.authorization);
      switch (route.name) {
        case 'preflight':
        case 'tool': {
          const tool = validateToolName(route.tool);
          const request = parseRequest(await readBody(req, res));
          const call = toToolCall(tool, request);
          const deciding = this.decide(call, route.name === 'tool' || request.enforce);
          // Only a webhook rule makes the decision asynchronous: no extra await on the hot path.
          const outcome = deciding instanceof Promise ? await deciding : deciding;
          return route.name === 'preflight' ? this.preflight(res, call, request, outcome) : this.tool(res, call, request, outcome);
        }
        case 'reload':
          await readBody(req, res); // any body is accepted and ignored, within the limit
          return this.httpReload(res);
        case 'status':
          return send(res, 200, this.status());
      }
    } catch (err) {
      const { status, message } = errorResponse(err);
      if (status >= 500) this.log(`${req.method} ${req.url}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      if (!res.headersSent) send(res, status, { error: message });
    }
  }

  private health(): HealthResponseV1 {
    return { service: 'rampart', status: 'ok', mode: this.options.mode, uptime_seconds: this.uptimeSeconds(), version: VERSION };
  }

  private uptimeSeconds(): number {
    return Math.floor((Date.now() - this.startedAt) / 1000);
  }

  /**
   * Evaluates under the server mode; `enforcing` = the caller asked for enforcement (always on
   * /v1/tool). A promise only when a webhook has to be asked.
   */
  private decide(call: ToolCall, enforcing: boolean): Outcome | Promise<Outcome> {
    const { mode } = this.options;
    if (mode === 'disabled') {
      return { action: 'allow', message: 'policy evaluation disabled', matchedPolicies: [], suggestions: [], evalDurationUs: 0 };
    }
    const enforced = enforcing && mode === 'enforce';
    const decision: Decision = evaluate(this.policies, call, { enforce: enforced, state: this.engine });
    const outcome: Outcome = {
      action: decision.action,
      message: decision.message,
      matchedPolicies: decision.matchedPolicies,
      suggestions: decision.suggestions ?? [],
      evalDurationUs: decision.evalDurationUs,
    };
    if (decision.action === 'webhook' && enforced) {
      const hook = decision.webhook;
      if (!hook) return withVerdict(outcome, { action: 'deny', message: 'webhook rule has no URL; failing closed' });
      return askWebhook(hook, call, decision.message).then((verdict) => withVerdict(outcome, verdict));
    }
    if (enforcing && mode === 'monitor' && outcome.action !== 'allow') {
      outcome.policyAction = outcome.action;
      outcome.policyMessage = outcome.message;
      outcome.message = `monitor mode observed ${outcome.action}; action allowed${outcome.message ? `: ${outcome.message}` : ''}`;
      outcome.action = 'allow';
    }
    return outcome;
  }

  /**
   * Writes the audit record before anything is answered. When the caller is enforcing, a
   * decision that cannot be logged is not given (the AuditWriteError becomes a 503); otherwise
   * the failure is logged and the answer goes out without an audit_id.
   */
  private record(call: ToolCall, request: PreflightRequestV1, outcome: Outcome, enforced: boolean): string | undefined {
    this.counts[outcome.action] = (this.counts[outcome.action] ?? 0) + 1;
    const entry: AuditEntry = {
      agent: call.agent,
      session: call.session,
      tool: call.tool,
      request: call.params,
      runId: request.runId,
      toolCallId: request.toolCallId,
      approvalOwner: request.approvalOwner,
      decision: {
        action: outcome.action,
        enforced,
        matchedPolicies: outcome.matchedPolicies,
        evaluationTimeUs: outcome.evalDurationUs,
        message: outcome.message,
        suggestions: outcome.suggestions,
      },
    };
    try {
      return this.audit.append(entry);
    } catch (err) {
      this.auditFailures++;
      this.log(`audit write failed: ${(err as Error).message}`);
      if (enforced) throw err;
      return undefined;
    }
  }

  private preflight(res: http.ServerResponse, call: ToolCall, request: PreflightRequestV1, outcome: Outcome): void {
    const enforced = request.enforce && this.options.mode === 'enforce';
    const auditId = request.verification ? undefined : this.record(call, request, outcome, enforced);
    const body: PreflightResponseV1 = {
      allowed: ALLOWING.has(outcome.action),
      decision: outcome.action,
      message: outcome.message,
      matched_policies: outcome.matchedPolicies.length ? outcome.matchedPolicies : null,
      eval_duration_us: outcome.evalDurationUs,
      enforced,
      enforcement_requested: request.enforce,
    };
    // Optional fields added in place (spreads of temporary objects cost on every decision).
    if (auditId) body.audit_id = auditId;
    if (outcome.suggestions.length) body.suggestions = outcome.suggestions;
    if (outcome.policyAction) {
      body.policy_decision = outcome.policyAction;
      body.policy_message = outcome.policyMessage;
    }
    send(res, 200, body);
  }

  private tool(res: http.ServerResponse, call: ToolCall, request: PreflightRequestV1, outcome: Outcome): void {
    const enforced = this.options.mode === 'enforce';
    const auditId = this.record(call, request, outcome, enforced);
    const body: ToolResponseV1 = {
      allowed: ALLOWING.has(outcome.action),
      decision: outcome.action,
      message: outcome.message,
      eval_duration_us: outcome.evalDurationUs,
      enforced,
      audit_id: auditId, // undefined (not audited) is left out by JSON.stringify
      policy: outcome.matchedPolicies[0] ?? '',
      suggestions: outcome.suggestions,
    };
    if (outcome.policyAction) {
      body.policy_decision = outcome.policyAction;
      body.policy_message = outcome.policyMessage;
    }
    let status = 200;
    if (enforced && outcome.action === 'deny') status = 403;
    if (enforced && outcome.action === 'ask') {
      status = 202;
      body.approval_id = ulid();
      body.approval_status = 'pending';
      body.expires_at = new Date(Date.now() + APPROVAL_TIMEOUT_MS).toISOString();
    }
    send(res, status, body);
  }

  private httpReload(res: http.ServerResponse): void {
    const now = Date.now();
    const wait = this.lastHttpReload + RELOAD_COOLDOWN_MS - now;
    if (wait > 0) throw tooManyRequests(`policy reload rate limited: retry in ${Math.ceil(wait)} ms`);
    this.lastHttpReload = now;
    const result = this.reload('HTTP request');
    send(res, result.success ? 200 : 500, result);
  }

  /** Loads the policies again; a load error, or a reload that would drop every policy, keeps the old set. */
  reload(trigger: string): ReloadResult {
    const started = performance.now();
    try {
      const next = loadServePolicies(this.options.policy);
      if (next.policyCount === 0 && this.policies.policyCount > 0) {
        throw new Error('the new configuration has no policies');
      }
      this.policies = next;
      const result: ReloadResult = {
        success: true,
        policies_loaded: next.policyCount,
        rules_total: next.ruleCount,
        reload_time_ms: Math.round((performance.now() - started) * 1000) / 1000,
      };
      this.log(`policies reloaded (${trigger}): ${next.policyCount} policies, ${next.ruleCount} rules`);
      return result;
    } catch (err) {
      const error = `policy reload failed, keeping the old policies: ${(err as Error).message}`;
      this.log(`${error} (${trigger})`);
      return { success: false, error };
    } finally {
      // Editors replace files by rename: watch the (possibly new) inodes again.
      if (this.watchers.length > 0) this.watch();
    }
  }

  /** Watches the policy files and directories; changes reload after a short debounce. */
  watch(): void {
    this.unwatch();
    for (const target of watchTargets(this.options.policy)) {
      try {
        const isDir = fs.statSync(target).isDirectory();
        const watcher = fs.watch(target, { persistent: false }, (_event, filename) => {
          if (isDir && filename && !/\.ya?ml$/i.test(filename.toString())) return;
          this.scheduleReload(`change in ${isDir && filename ? path.join(target, filename.toString()) : target}`);
        });
        watcher.on('error', () => {}); // a vanished target is picked up again after the next reload
        this.watchers.push(watcher);
      } catch (err) {
        this.log(`cannot watch ${target} for policy changes: ${(err as Error).message}`);
      }
    }
    // A policy directory created later (mkdir ~/.rampart/policies) is noticed through its nearest
    // existing parent; the reload then watches the directory itself.
    for (const missing of missingWatchTargets(this.options.policy)) {
      let child = missing;
      let parent = path.dirname(child);
      while (!fs.existsSync(parent) && path.dirname(parent) !== parent) [child, parent] = [parent, path.dirname(parent)];
      try {
        const watcher = fs.watch(parent, { persistent: false }, (_event, filename) => {
          if (filename?.toString() === path.basename(child)) this.scheduleReload(`${missing} created`);
        });
        watcher.on('error', () => {});
        this.watchers.push(watcher);
      } catch (err) {
        this.log(`cannot watch ${parent} for ${missing} to appear: ${(err as Error).message}`);
      }
    }
  }

  /** Reloads once things settle: editors write a file in several steps. */
  private scheduleReload(trigger: string): void {
    clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => this.reload(trigger), RELOAD_DEBOUNCE_MS);
    this.reloadTimer.unref();
  }

  private unwatch(): void {
    for (const watcher of this.watchers) watcher.close();
    this.watchers = [];
  }

  private status() {
    return {
      service: 'rampart',
      mode: this.options.mode,
      version: VERSION,
      uptime_seconds: this.uptimeSeconds(),
      started_at: new Date(this.startedAt).toISOString(),
      policies: { loaded: this.policies.policyCount, rules: this.policies.ruleCount, sources: this.policies.sources },
      audit: { dir: this.options.auditDir, file: this.audit.file ?? null, events: this.audit.count, failures: this.auditFailures },
      decisions: { total: Object.values(this.counts).reduce((a, b) => a + b, 0), ...this.counts },
    };
  }

  shutdown(): void {
    clearTimeout(this.reloadTimer);
    this.unwatch();
    this.audit.close();
  }
}

type Route = { name: 'preflight' | 'tool'; tool: string } | { name: 'reload' | 'status' };

const TOOL_ROUTES = [
  ['preflight', '/v1/preflight/'],
  ['tool', '/v1/tool/'],
] as const;

function matchRoute(method: string, pathname: string): Route | undefined {
  if (method === 'POST') {
    for (const [name, prefix] of TOOL_ROUTES) {
      if (pathname.startsWith(prefix) && !pathname.includes('/', prefix.length)) return { name, tool: pathname.slice(prefix.length) };
    }
    if (pathname === '/v1/policy/reload') return { name: 'reload' };
  }
  if (method === 'GET' && pathname === '/v1/status') return { name: 'status' };
  return undefined;
}

/**
 * One JSON answer: serialized once, headers as a flat array (node:http's cheapest form), and
 * end() with the whole body so headers and body leave in one write.
 */
function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(text))]);
  res.end(text);
}

/** The request body, at most MAX_BODY_BYTES; a larger one is drained and answered with 400. */
function readBody(req: http.IncomingMessage, res: http.ServerResponse): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let overflow = false;
    const tooLarge = () => badRequest(`invalid request body: larger than ${MAX_BODY_BYTES} bytes`);
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        overflow = true;
        chunks.length = 0;
        if (size > MAX_DISCARD_BYTES) {
          req.destroy();
          reject(tooLarge());
        }
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!overflow) return resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
      res.setHeader('connection', 'close');
      reject(tooLarge());
    });
    req.on('error', reject);
  });
}

/** Parse-level errors (bad request line, huge headers, timeouts) still get a JSON error. */
function answerClientError(err: NodeJS.ErrnoException, socket: net.Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const [status, text] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout']
        : [400, 'Bad Request'];
  const body = JSON.stringify({ error: `${text.toLowerCase()}: ${err.code ?? err.message}` });
  socket.end(`HTTP/1.1 ${status} ${text}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

/** Loads the policies, opens the audit log and listens; rejects with PolicyLoadError / ListenError. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  if (net.isIP(options.addr) === 0) throw new Error(`--addr must be an IP address literal, got "${options.addr}"`);
  const service = new Service(options);
  // noDelay (node's default, stated here): an answer must not wait for Nagle's algorithm.
  const server = http.createServer({ maxHeaderSize: 64 * 1024, noDelay: true }, (req, res) => void service.handle(req, res));
  server.headersTimeout = 5_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 30_000;
  server.on('clientError', answerClientError);

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: options.addr, port: options.port, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    service.shutdown();
    const code = (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
    const where = `${options.addr}:${options.port}`;
    const why =
      code === 'EADDRINUSE'
        ? `port ${options.port} on ${options.addr} is already in use`
        : code === 'EACCES'
          ? `no permission to listen on ${where}`
          : code === 'EADDRNOTAVAIL'
            ? `address ${options.addr} is not available on this machine`
            : `cannot listen on ${where}: ${(err as Error).message}`;
    throw new ListenError(code, options.addr, options.port, why);
  }
  server.on('error', (err) => options.log?.(`server error: ${err.message}`));
  service.watch();

  const { port } = server.address() as net.AddressInfo;
  const host = net.isIPv6(options.addr) ? `[${options.addr}]` : options.addr;
  let closing: Promise<void> | undefined;
  const running: RunningServer = {
    url: `http://${host}:${port}`,
    port,
    get policyCount() {
      return service.policyCount;
    },
    reload: () => service.reload('API call'),
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => {
          service.shutdown();
          resolve();
        });
        server.closeIdleConnections();
        // In-flight requests finish (their audit records are written synchronously); idle
        // keep-alive sockets go now, stragglers after a grace period.
        setTimeout(() => server.closeAllConnections(), 2_000).unref();
      })),
  };
  return running;
}
