// Versioned wire types of the serve HTTP API (docs/server-api.md) and the validators that turn
// an untrusted body into a ToolCall. Anything malformed is an HttpError(400) that says what.
import type { ToolCall } from '../policy/types.ts';
import { badRequest } from './errors.ts';

export const MAX_BODY_BYTES = 1024 * 1024;
const MAX_JSON_DEPTH = 64;

export interface PreflightRequestV1 {
  agent: string;
  session: string;
  runId?: string;
  toolCallId?: string;
  approvalOwner?: string;
  params: Record<string, unknown>;
  input?: Record<string, unknown>;
  command?: string;
  commandB64?: string;
  path?: string;
  url?: string;
  workdir?: string;
  cwd?: string;
  response?: string;
  enforce: boolean;
  verification: boolean;
}

export interface PreflightResponseV1 {
  allowed: boolean;
  decision: string;
  message: string;
  matched_policies: string[] | null;
  eval_duration_us: number;
  enforced: boolean;
  enforcement_requested: boolean;
  audit_id?: string;
  suggestions?: string[];
  policy_decision?: string;
  policy_message?: string;
}

export interface ToolResponseV1 {
  allowed: boolean;
  decision: string;
  message: string;
  eval_duration_us: number;
  enforced: boolean;
  audit_id?: string;
  policy: string;
  suggestions: string[];
  policy_decision?: string;
  policy_message?: string;
  approval_id?: string;
  approval_status?: 'pending';
  expires_at?: string;
}

export interface HealthResponseV1 {
  service: 'rampart';
  status: 'ok';
  mode: string;
  uptime_seconds: number;
  version: string;
}

export type ReloadResponseV1 = { success: true; policies_loaded: number; rules_total: number; reload_time_ms: number } | { success: false; error: string };

export interface ErrorV1 {
  error: string;
}

/** Names that must be written lower-case (docs/server-api.md). */
const RESERVED_TOOLS = new Set(['exec', 'read', 'write', 'edit', 'fetch', 'http', 'web_fetch', 'browser', 'mcp', 'mcp-dangerous', 'mcp-destructive']);
const TOOL_NAME = /^[A-Za-z0-9_.:-]{1,128}$/;

/** The `{tool}` path segment, validated. */
export function validateToolName(segment: string): string {
  if (!TOOL_NAME.test(segment)) {
    const shown = JSON.stringify(segment.length > 64 ? segment.slice(0, 64) + '…' : segment);
    throw badRequest(`invalid tool name ${shown}: must be 1-128 characters of A-Z a-z 0-9 _ . : -`);
  }
  if (RESERVED_TOOLS.has(segment.toLowerCase()) && segment !== segment.toLowerCase()) {
    throw badRequest(`invalid tool name "${segment}": reserved tool names must be lower-case ("${segment.toLowerCase()}")`);
  }
  return segment;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Nesting depth, iteratively (a hostile body must not blow the stack later on). */
function tooDeep(value: unknown): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (item === null || typeof item !== 'object') continue;
    if (depth > MAX_JSON_DEPTH) return true;
    for (const child of Object.values(item)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return false;
}

/** Exactly one JSON object. */
export function parseJsonObject(body: Buffer): Record<string, unknown> {
  const text = body.toString('utf8');
  if (text.trim() === '') throw badRequest('invalid request body: empty body (expected a JSON object)');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw badRequest(`invalid request body: ${(err as Error).message}`);
  }
  if (!isObject(value))
    throw badRequest(`invalid request body: expected a JSON object, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`);
  if (tooDeep(value)) throw badRequest(`invalid request body: nested deeper than ${MAX_JSON_DEPTH} levels`);
  return value;
}

function optional<T>(body: Record<string, unknown>, key: string, type: 'string' | 'boolean' | 'object'): T | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  const ok = type === 'object' ? isObject(value) : typeof value === type;
  if (!ok) throw badRequest(`invalid request body: field "${key}" must be ${type === 'object' ? 'an object' : `a ${type}`}`);
  return value as T;
}

/** Validates the fields of a preflight / tool request body. Unknown fields are ignored. */
export function parseRequest(body: Buffer): PreflightRequestV1 {
  const json = parseJsonObject(body);
  const str = (key: string) => optional<string>(json, key, 'string');
  optional<boolean>(json, 'openclaw_hosted', 'boolean');
  optional<boolean>(json, 'skip_pending_approval', 'boolean');
  return {
    agent: str('agent') ?? '',
    session: str('session') ?? '',
    runId: str('run_id'),
    toolCallId: str('tool_call_id'),
    approvalOwner: str('approval_owner'),
    // Freshly parsed and never changed (toToolCall copies before editing): no copy needed.
    params: optional<Record<string, unknown>>(json, 'params', 'object') ?? {},
    input: optional<Record<string, unknown>>(json, 'input', 'object'),
    command: str('command'),
    commandB64: str('command_b64'),
    path: str('path'),
    url: str('url'),
    workdir: str('workdir'),
    cwd: str('cwd'),
    response: str('response'),
    enforce: optional<boolean>(json, 'enforce', 'boolean') ?? false,
    verification: optional<boolean>(json, 'verification', 'boolean') ?? false,
  };
}

const COMMAND_KEYS = ['command', 'cmd', 'input'] as const;
const NESTED_KEYS = ['arguments', 'tool_input'] as const;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decodeBase64(where: string, value: string): string {
  const compact = value.replace(/\s+/g, '');
  if (compact.length % 4 === 1 || !BASE64.test(compact)) throw badRequest(`invalid tool input: ${where} is not valid base64`);
  return Buffer.from(compact, 'base64').toString('utf8');
}

/** A first character that is neither white space (as trim() sees it) nor `#`. */
const STARTS_WITH_COMMAND = /^[^\s#]/;

/** Drops leading lines that are blank or comments (`#!/bin/sh`, `# explain`), HTTP path only. */
export function stripLeadingComments(command: string): string {
  if (STARTS_WITH_COMMAND.test(command)) return command; // the usual case: nothing to strip, no split
  const lines = command.split('\n');
  let first = 0;
  while (first < lines.length && (lines[first]!.trim() === '' || lines[first]!.trimStart().startsWith('#'))) first++;
  return lines.slice(first).join('\n');
}

/**
 * The exec command from every spelling a client may use. All non-blank spellings must agree:
 * a client that sends `ls` in one field and `rm -rf /` in another gets a 400, never a decision
 * on the harmless one.
 */
function canonicalCommand(req: PreflightRequestV1): string | undefined {
  const found: Array<[string, string]> = [];
  const take = (where: string, value: unknown, base64 = false) => {
    if (value === undefined || value === null) return;
    if (typeof value !== 'string') throw badRequest(`invalid tool input: ${where} must be a string`);
    const text = base64 ? decodeBase64(where, value) : value;
    if (text.trim() !== '') found.push([where, text]);
  };
  take('command', req.command);
  take('command_b64', req.commandB64, true);
  for (const [name, container] of [
    ['params', req.params],
    ['input', req.input],
  ] as const) {
    if (!container) continue;
    for (const key of COMMAND_KEYS) take(`${name}.${key}`, container[key]);
    take(`${name}.command_b64`, container.command_b64, true);
    for (const nestedKey of NESTED_KEYS) {
      const nested = container[nestedKey];
      if (!isObject(nested)) continue;
      for (const key of COMMAND_KEYS) take(`${name}.${nestedKey}.${key}`, nested[key]);
    }
  }
  const distinct = new Set(found.map(([, text]) => text));
  if (distinct.size > 1) {
    throw badRequest(`invalid tool input: conflicting command aliases (${found.map(([where]) => where).join(', ')})`);
  }
  return found[0]?.[1];
}

const ALIAS_KEYS = [...COMMAND_KEYS, 'command_b64'] as const;
const LOCATION_KEYS = ['path', 'url', 'workdir', 'cwd'] as const;

/**
 * A copy of `map` without the command aliases, except `keep`. Keys are only deleted when present
 * (a delete turns the object into a slow dictionary-mode one).
 */
function withoutAliases(map: Record<string, unknown>, keep?: string): Record<string, unknown> {
  const out = { ...map };
  for (const key of ALIAS_KEYS) if (key !== keep && Object.hasOwn(out, key)) delete out[key];
  return out;
}

/** The call the engine decides on; for exec, the canonical command is `params.command`. */
export function toToolCall(tool: string, req: PreflightRequestV1): ToolCall {
  let params: Record<string, unknown>;
  let input = req.input;
  if (tool.trim().toLowerCase() === 'exec') {
    const command = canonicalCommand(req);
    // `command` stays (and is overwritten below) when there is a canonical command.
    params = withoutAliases(req.params, command === undefined ? undefined : 'command');
    if (input) input = withoutAliases(input);
    if (command !== undefined) params.command = stripLeadingComments(command);
  } else {
    params = { ...req.params };
    if (input) input = { ...input };
    if (req.command !== undefined && params.command === undefined) params.command = req.command;
  }
  for (const key of LOCATION_KEYS) {
    if (req[key] !== undefined && params[key] === undefined) params[key] = req[key];
  }
  return { agent: req.agent, session: req.session, tool, params, ...(input ? { input } : {}), agentDepth: 0 };
}
