// Deciding on one tool call (POL-EVAL, POL-SHELL-6, POL-GRANT, POL-RESTR, POL-EXCL, POL-ENVA in docs/policy.md). Pure: no I/O; the only state is
// the EngineState the caller passes in (call_count windows, consumed `once` rules).
import path from 'node:path';
import type { GlobSet } from './glob.ts';
import type { PolicySet } from './load.ts';
import type { CommandGroup, Condition } from './conditions.ts';
import type { Policy, Rule } from './model.ts';
import { Prefilter, RULE_EXCLUSIONS, RULE_GLOBS } from './prefilter.ts';
import { alternates, analyze, clearShellCaches, envAssignments, normalize, posixBody, rmAliases, sanitize, splitCommand, type Analysis } from './shell.ts';
import type { Action, Decision, EvaluateOptions, ToolCall } from './types.ts';
import { singleQuote } from '../util/quote.ts';

/** Longest value (UTF-8 bytes) of a matched field; longer calls are denied before matching. */
export const MAX_FIELD_BYTES = 8192;

/** Runtime memory of the engine. Keep one per server and pass it across reloads. */
export class EngineState {
  /** Lower-cased tool name -> timestamps (ms) of enforced calls, oldest first. */
  private readonly calls = new Map<string, number[]>();
  /** Keys of `once` rules already consumed. */
  private readonly consumed = new Set<string>();
  /** Longest call_count window seen, to bound memory. */
  private horizonMs = 720 * 3600_000;

  countCalls(tool: string, windowMs: number, now: number): number {
    const times = this.calls.get(tool.toLowerCase());
    if (!times) return 0;
    let count = 0;
    for (let i = times.length - 1; i >= 0 && times[i]! > now - windowMs; i--) count++;
    return count;
  }

  recordCall(tool: string, now: number): void {
    const key = tool.toLowerCase();
    const times = this.calls.get(key) ?? [];
    times.push(now);
    const cutoff = now - this.horizonMs;
    while (times.length > 0 && times[0]! <= cutoff) times.shift();
    // Bound memory: nobody counts past 1000 (call_count gte <= 1000).
    if (times.length > 2000) times.splice(0, times.length - 2000);
    this.calls.set(key, times);
  }

  isConsumed(rule: Rule): boolean {
    return this.consumed.has(rule.key);
  }

  consume(rule: Rule): void {
    this.consumed.add(rule.key);
  }
}

/** Bounded per-command caches: analysis is a pure function of the command text. */
const CACHE_LIMIT = 2048;
const containsSpellingsCache = new Map<string, string[]>();
const restrictiveSubjectsCache = new Map<string, RestrictiveSubjects>();
const envAssignmentsCache = new Map<string, string[]>();
const componentCandidatesCache = new Map<string, string[]>();

function memo<T>(cache: Map<string, T>, key: string, compute: () => T): T {
  let value = cache.get(key);
  if (value === undefined) {
    value = compute();
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(key, value);
  }
  return value;
}

/** Basenames of files whose allows are durable human decisions (POL-EVAL-8). */
// A Map, not an object literal: a policy file named __proto__ or toString must not count as durable.
const DURABLE_FILES = new Map<string, string>([
  ['user-overrides.yaml', 'allowed by durable user override'],
  ['auto-allowed.yaml', 'auto-allowed by user rule'],
]);

const RANK: Record<Action, number> = { deny: 5, webhook: 4, ask: 3, watch: 2, allow: 1 };

/** The call as the matcher sees it: extracted fields, analysis computed lazily and once. */
export interface CallView {
  call: ToolCall;
  tool: string;
  isExec: boolean;
  command: string;
  path: string;
  url: string;
  domain: string;
  now: number;
  state: EngineState | undefined;
  analysis?: Analysis;
  restrictiveSubjects?: RestrictiveSubjects;
  /** Which rules the exec command can possibly match (undefined: evaluate every rule). */
  prefilter?: Prefilter;
  /** Token of the prefilter's scan of this command. */
  scan?: number;
}

/** Engine-internal options (the server passes `state`; tests and benchmarks the rest). */
export interface ExtraOptions extends EvaluateOptions {
  state?: EngineState;
  /** Skip rules the command cannot match (default true). Off only to check it changes nothing. */
  prefilter?: boolean;
  /** Remember and reuse whole decisions (default true). */
  decisionCache?: boolean;
}

export function evaluate(set: PolicySet, call: ToolCall, opts: ExtraOptions = {}): Decision {
  const started = performance.now();
  const decision = decide(set, call, opts);
  const evalDurationUs = Math.floor((performance.now() - started) * 1000);
  // Copies: decisions may be cached, callers may mutate what they get. Built field by field
  // (same key order as before) rather than spread: this runs on every call.
  const result: Decision = { action: decision.action, message: decision.message, matchedPolicies: decision.matchedPolicies.slice() } as Decision;
  if (decision.webhook) result.webhook = decision.webhook;
  if (decision.suggestions) result.suggestions = decision.suggestions.slice();
  result.evalDurationUs = evalDurationUs;
  return result;
}

const COMMAND_KEYS = ['command', 'cmd', 'input'];
const PATH_KEYS = ['path', 'file_path'];
const URL_KEYS = ['url'];
const DOMAIN_KEYS = ['domain'];

function decide(set: PolicySet, call: ToolCall, opts: ExtraOptions): Omit<Decision, 'evalDurationUs'> {
  const tool = (call.tool ?? '').trim();
  const isExec = tool.toLowerCase() === 'exec';
  const now = opts.now !== undefined ? opts.now.getTime() : Date.now();
  const params = asRecord(call.params);
  const input = asRecord(call.input);

  const conflict = firstConflict(params, input, isExec);
  if (conflict) return deny(`ambiguous tool input (${conflict}); failing closed`, []);
  const command = isExec ? firstString(params, input, COMMAND_KEYS) : '';
  const pathValue = firstString(params, input, PATH_KEYS);
  const url = firstString(params, input, URL_KEYS);
  const domain = firstString(params, input, DOMAIN_KEYS) || hostOf(url);
  // A UTF-16 string of n units is at most 3n UTF-8 bytes: only measure when it could be over.
  const longest = Math.max((call.agent ?? '').length, (call.session ?? '').length, tool.length, command.length, pathValue.length, url.length, domain.length);
  if (longest * 3 > MAX_FIELD_BYTES) {
    const fields: Array<[string, string]> = [
      ['agent', call.agent ?? ''],
      ['session', call.session ?? ''],
      ['tool', tool],
      ['command', command],
      ['path', pathValue],
      ['url', url],
      ['domain', domain],
    ];
    for (const [name, value] of fields) {
      const bytes = value.length * 3 > MAX_FIELD_BYTES ? Buffer.byteLength(value) : 0;
      if (bytes > MAX_FIELD_BYTES) {
        return deny(`${name} is ${bytes} bytes and exceeds the ${MAX_FIELD_BYTES}-byte policy matching limit; failing closed`, []);
      }
    }
  }

  const { policies: inScope, info } = policiesInScope(set, call.agent ?? '', call.session ?? '', tool);
  // A decision that depends only on these fields (no rule in scope with once, expiry or an
  // uncacheable condition kind: call counts, params, depth; see ConditionKind.uncacheable) is
  // remembered: agents repeat commands, and the work is in the analysis.
  const workdir = typeof params.workdir === 'string' ? params.workdir : typeof params.cwd === 'string' ? params.cwd : '';
  const cacheKey =
    opts.decisionCache !== false && info.stateless
      ? `${call.agent ?? ''}\0${call.session ?? ''}\0${tool}\0${command}\0${pathValue}\0${url}\0${domain}\0${workdir}`
      : undefined;
  if (cacheKey !== undefined) {
    const cached = decisionsFor(set).get(cacheKey);
    if (cached) {
      if (opts.enforce && opts.state) opts.state.recordCall(tool, now);
      return cached;
    }
  }
  const view: CallView = { call, tool, isExec, command, path: pathValue, url, domain, now, state: opts.state };
  if (isExec && command !== '' && opts.prefilter !== false && inScope.length > 0) {
    view.prefilter = info.prefilter ??= new Prefilter(inScope);
    view.scan = view.prefilter.scan(command);
  }
  const decision = decideInScope(set, inScope, info, view, opts);
  if (cacheKey !== undefined) memo(decisionsFor(set), cacheKey, () => decision);
  return decision;
}

/** Per set: remembered decisions, emptied (lazily) when clearCommandCaches() moves the epoch on. */
const decisionCache = new WeakMap<PolicySet, { epoch: number; decisions: Map<string, Omit<Decision, 'evalDurationUs'>> }>();
let commandCacheEpoch = 0;

function decisionsFor(set: PolicySet): Map<string, Omit<Decision, 'evalDurationUs'>> {
  let entry = decisionCache.get(set);
  if (entry === undefined) decisionCache.set(set, (entry = { epoch: commandCacheEpoch, decisions: new Map() }));
  else if (entry.epoch !== commandCacheEpoch) {
    entry.decisions.clear();
    entry.epoch = commandCacheEpoch;
  }
  return entry.decisions;
}

/**
 * Forgets everything remembered about commands (decisions, analyses); keeps what was
 * precomputed per policy set. The benchmark uses it to time never-seen commands.
 */
export function clearCommandCaches(): void {
  for (const cache of [containsSpellingsCache, restrictiveSubjectsCache, envAssignmentsCache, componentCandidatesCache]) cache.clear();
  commandCacheEpoch++;
  clearShellCaches();
}

/** What is worked out once per in-scope policy list. */
interface ScopeInfo {
  /** No in-scope rule depends on anything but the call's text fields: decisions can be cached. */
  stateless: boolean;
  names: string[];
  /** The names are distinct: matched-policy lists need no dedupe. */
  uniqueNames: boolean;
  /** Per policy: the default message of allows from a durable-allow file (POL-EVAL-8), else undefined. */
  durable: Array<string | undefined>;
  /** Built on the first exec call. */
  prefilter?: Prefilter;
}

function scopeInfoOf(policies: Policy[]): ScopeInfo {
  const names = policies.map((p) => p.name);
  return {
    stateless: policies.every((p) => p.rules.every((r) => !r.once && r.expiresAt === undefined && r.when?.uncacheable !== true)),
    names,
    uniqueNames: new Set(names).size === names.length,
    durable: policies.map((p) => DURABLE_FILES.get(path.basename(p.source))),
  };
}

function decideInScope(set: PolicySet, inScope: Policy[], info: ScopeInfo, view: CallView, opts: ExtraOptions): Omit<Decision, 'evalDurationUs'> {
  const { command, tool, now } = view;
  if (inScope.length === 0) return { action: set.defaultAction, message: 'no matching policy; using default action', matchedPolicies: [] };

  const fired: Array<{ policy: Policy; rule: Rule }> = [];
  let durableAllow: { rule: Rule; message: string } | undefined;
  for (let i = 0; i < inScope.length; i++) {
    const policy = inScope[i]!;
    if (view.scan !== undefined && !view.prefilter!.mayMatchPolicy(view.scan, i)) continue;
    const rule = firstMatchingRule(policy, i, view);
    if (!rule) continue;
    if (rule.action === 'deny') {
      const names = fired.map((f) => f.policy.name);
      for (let k = i; k < info.names.length; k++) names.push(info.names[k]!);
      return deny(rule.message, info.uniqueNames ? names : dedupe(names), command);
    }
    fired.push({ policy, rule });
    if (rule.action === 'allow' && !durableAllow && info.durable[i] !== undefined) {
      durableAllow = { rule, message: rule.message || info.durable[i]! };
    }
  }
  const firedNames = fired.map((f) => f.policy.name);
  const matchedPolicies = info.uniqueNames ? firedNames : dedupe(firedNames);

  let winner: { action: Action; message: string; rule?: Rule };
  if (durableAllow) {
    winner = { action: 'allow', message: durableAllow.message, rule: durableAllow.rule };
  } else if (fired.length === 0) {
    const message = set.defaultAction === 'allow' ? 'no matching rule; using default action' : `no matching rule; default action is ${set.defaultAction}`;
    winner = { action: set.defaultAction, message };
  } else {
    const best = Math.max(...fired.map((f) => RANK[f.rule.action]));
    const candidates = fired.filter((f) => RANK[f.rule.action] === best);
    const chosen = best === RANK.allow ? (candidates.find((f) => f.rule.message !== '') ?? candidates[0]!) : candidates[0]!;
    winner = { action: chosen.rule.action, message: chosen.rule.message, rule: chosen.rule };
  }

  if (opts.enforce && opts.state) {
    if (winner.rule?.once && winner.action === 'allow') opts.state.consume(winner.rule);
    opts.state.recordCall(tool, now);
  }
  const decision: Omit<Decision, 'evalDurationUs'> = { action: winner.action, message: winner.message, matchedPolicies };
  if (winner.action === 'webhook' && winner.rule?.webhook) decision.webhook = winner.rule.webhook;
  return decision;
}

function deny(message: string, matchedPolicies: string[], command = ''): Omit<Decision, 'evalDurationUs'> {
  const decision: Omit<Decision, 'evalDurationUs'> = { action: 'deny', message, matchedPolicies };
  const suggestions = suggestionsFor(command);
  if (suggestions.length > 0) decision.suggestions = suggestions;
  return decision;
}

/** `rampart allow "<cmd>"` hints; a warning instead for commands nobody should blanket-allow. */
function suggestionsFor(command: string): string[] {
  const trimmed = command.trim();
  if (trimmed === '' || trimmed.length > 200) return [];
  if (/\brm\s+-\S*[rR]|\bmkfs|\bdd\s|:\(\)\s*\{|\bsudo\b|\/dev\/(sd|nvme|hd)/.test(trimmed)) {
    return ['this command is high-risk; review it instead of adding an allow rule'];
  }
  // Single quotes: a suggestion pasted into a shell must not expand `$(...)` or backticks.
  const words = trimmed.split(/\s+/);
  const out = [allowHint(trimmed)];
  if (words.length > 1) out.push(allowHint(`${words[0]} *`));
  return out;
}

function allowHint(text: string): string {
  return `rampart allow ${singleQuote(text)}`;
}

function dedupe(names: string[]): string[] {
  return [...new Set(names)];
}

/** Shared stand-in for a missing map: read only, one shape for every call. */
const NO_RECORD: Record<string, unknown> = Object.freeze({});

function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : NO_RECORD;
}

function firstString(params: Record<string, unknown>, input: Record<string, unknown>, keys: readonly string[]): string {
  for (const key of keys) {
    const value = params[key];
    if (typeof value === 'string' && isNonBlank(value)) return value;
  }
  for (const key of keys) {
    const value = input[key];
    if (typeof value === 'string' && isNonBlank(value)) return value;
  }
  return '';
}

/** value.trim() !== '' without allocating for the usual non-blank first character. */
function isNonBlank(value: string): boolean {
  const first = value.charCodeAt(0);
  if (first > 0x20 && first < 0x7f) return true;
  return value.trim() !== '';
}

const ALIAS_GROUPS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['command', ['command', 'cmd', 'input']],
  ['workdir', ['workdir', 'cwd']],
  ['domain', ['domain']],
  ['scheme', ['scheme']],
];

/** POL-EVAL-1..3 pre-check 1: aliases that disagree (or are not strings) make the call ambiguous. */
function firstConflict(params: Record<string, unknown>, input: Record<string, unknown>, isExec: boolean): string | undefined {
  for (let g = isExec ? 0 : 1; g < ALIAS_GROUPS.length; g++) {
    const [label, keys] = ALIAS_GROUPS[g]!;
    let first: string | undefined;
    let conflicting = false;
    for (let s = 0; s < 2; s++) {
      const source = s === 0 ? params : input;
      for (const key of keys) {
        const value = source[key];
        if (value === undefined || value === null) continue;
        if (typeof value !== 'string') return `${label} alias "${key}" is not a string`;
        if (!isNonBlank(value)) continue;
        if (first === undefined) first = value;
        else if (value !== first) conflicting = true;
      }
    }
    if (conflicting) return `conflicting ${label} aliases ${keys.join('/')}`;
  }
  return undefined;
}

function hostOf(url: string): string {
  if (url === '') return '';
  try {
    return new URL(url.includes('://') ? url : `http://${url}`).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return '';
  }
}

interface Scope {
  policies: Policy[];
  info: ScopeInfo;
}

/** Per set: (agent, session, tool) -> in-scope policies sorted by priority, and their info. */
const scopeCache = new WeakMap<PolicySet, Map<string, Scope>>();

/** The last lookup: agents send the same agent/session/tool call after call. */
let lastScope: { set: PolicySet; agent: string; session: string; tool: string; scope: Scope } | undefined;

function policiesInScope(set: PolicySet, agent: string, session: string, tool: string): Scope {
  const last = lastScope;
  if (last !== undefined && last.set === set && last.agent === agent && last.session === session && last.tool === tool) return last.scope;
  const scope = computePoliciesInScope(set, agent, session, tool);
  lastScope = { set, agent, session, tool, scope };
  return scope;
}

function computePoliciesInScope(set: PolicySet, agent: string, session: string, tool: string): Scope {
  let bySet = scopeCache.get(set);
  if (!bySet) scopeCache.set(set, (bySet = new Map()));
  return memo(bySet, `${agent}\0${session}\0${tool}`, () => {
    // Stable sort: equal priorities keep file order.
    const policies = set.policies.filter((p) => p.enabled && inPolicyScope(p, agent, session, tool)).sort((a, b) => a.priority - b.priority);
    return { policies, info: scopeInfoOf(policies) };
  });
}

function inPolicyScope(policy: Policy, agent: string, session: string, tool: string): boolean {
  const { match } = policy;
  return match.agent.test(agent) && match.session.test(session) && (match.tools.length === 0 || match.tools.some((g) => g.test(tool)));
}

/** POL-EVAL-5: the first non-expired rule whose condition matches decides the policy. */
function firstMatchingRule(policy: Policy, policyIndex: number, view: CallView): Rule | undefined {
  const { rules } = policy;
  for (let r = 0; r < rules.length; r++) {
    const rule = rules[r]!;
    if (view.scan !== undefined && !view.prefilter!.mayMatchRule(view.scan, policyIndex, r)) continue;
    if (rule.expiresAt !== undefined && view.now > rule.expiresAt.getTime()) continue;
    if (rule.once && view.state?.isConsumed(rule)) continue;
    if (rule.when === undefined) return rule;
    const groups = view.scan === undefined ? RULE_GLOBS | RULE_EXCLUSIONS : view.prefilter!.globGroupsMayMatch(view.scan, policyIndex, r);
    if (conditionMatches(rule.when, rule.action, view, groups)) return rule;
  }
  return undefined;
}

function isRestrictive(action: Action): boolean {
  return action === 'deny' || action === 'ask';
}

/**
 * POL-WHEN-1..6 over the condition's present kinds (conditions.ts), in registry order: each must pass,
 * and one of them must be positive. `groups` (RULE_GLOBS, RULE_EXCLUSIONS): the glob groups the
 * prefilter could not rule out.
 */
function conditionMatches(cond: Condition, action: Action, view: CallView, groups: number): boolean {
  if (cond.default) return true;
  if (!cond.positive) return false;
  const restrictive = isRestrictive(action);
  const { checks } = cond;
  for (let i = 0; i < checks.length; i++) {
    const check = checks[i]!;
    if (!check.match(check.value, view, restrictive, groups)) return false;
  }
  return true;
}

// The helpers below are exported for the condition kinds' match() (conditions.ts).

/** Names of the variables the command assigns (POL-ENVA-1..2), remembered per command. */
export function assignedNames(command: string): string[] {
  return memo(envAssignmentsCache, command, () => envAssignments(command));
}

export function toolParamsMatch(entries: ReadonlyArray<readonly [string, { test(s: string): boolean }]>, call: ToolCall): boolean {
  const values = new Map<string, unknown>();
  for (const source of [asRecord(call.input), asRecord(call.params)]) {
    for (const [key, value] of Object.entries(source)) if (!values.has(key.toLowerCase())) values.set(key.toLowerCase(), value);
  }
  return entries.some(([name, glob]) => {
    if (!values.has(name)) return false;
    const value = values.get(name);
    const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
    return glob.test(text.toLowerCase());
  });
}

/** POL-GLOB-5 without touching the disk: the raw path and its cleaned, workdir-joined spelling. */
export function pathSpellings(view: CallView): string[] {
  if (view.path === '') return [];
  const params = asRecord(view.call.params);
  const workdir = [params.workdir, params.cwd].find((v): v is string => typeof v === 'string' && v.trim() !== '');
  const slashed = view.path.replaceAll('\\', '/');
  const joined = workdir !== undefined && !path.posix.isAbsolute(slashed) ? path.posix.join(workdir, slashed) : slashed;
  return [...new Set([view.path, path.posix.normalize(joined)])];
}

export function analysisOf(view: CallView): Analysis {
  view.analysis ??= analyze(view.command);
  return view.analysis;
}

/**
 * POL-RESTR-1: every spelling a restrictive rule tests: raw and components, their POSIX bodies,
 * rm/find canonical aliases, normalizations and alternates. Produced lazily, one base text at
 * a time (the raw command first, which needs no analysis), so a rule that matches early
 * stops the work; shared by all rules of one call.
 */
class RestrictiveSubjects {
  /** The spellings produced so far, without duplicates or empty strings. */
  readonly list: string[] = [];
  /** Some spelling had more than MAX_RM_ALIASES aliases: counts as a match. */
  tooManyAliases = false;
  private readonly seen = new Set<string>();
  private bases: string[] | undefined;
  private next = 0;

  constructor(private readonly command: string) {
    // The raw text alone first: most hits need nothing else.
    this.add(command);
  }

  /** Adds the spellings of the next base text; false when there is none left. */
  more(): boolean {
    let base: string;
    if (this.bases === undefined) {
      base = this.command;
      this.bases = [];
    } else {
      if (this.next === 0) this.bases = analyze(this.command).components;
      if (this.next >= this.bases.length) return false;
      base = this.bases[this.next++]!;
    }
    const body = posixBody(base);
    this.addSpellings(base);
    if (body !== base) this.addSpellings(body);
    return true;
  }

  /** Texts already expanded: the spellings of one text are a pure function of it. */
  private readonly expanded = new Set<string>();

  private addSpellings(candidate: string): void {
    // A simple command's only component is usually the raw command itself: nothing new.
    if (this.expanded.has(candidate)) return;
    this.expanded.add(candidate);
    this.add(candidate);
    const aliases = rmAliases(candidate);
    if (aliases === undefined) this.tooManyAliases = true;
    else for (const alias of aliases) this.add(alias);
    this.add(normalize(candidate));
    for (const alt of alternates(candidate)) this.add(alt);
  }

  private add(text: string): void {
    if (text === '' || this.seen.has(text)) return;
    this.seen.add(text);
    this.list.push(text);
  }
}

function restrictiveSubjectsOf(view: CallView): RestrictiveSubjects {
  view.restrictiveSubjects ??= memo(restrictiveSubjectsCache, view.command, () => new RestrictiveSubjects(view.command));
  return view.restrictiveSubjects;
}

/** True if a glob matches any restrictive spelling of the command (producing them as needed). */
function anyRestrictiveSubjectMatches(globs: GlobSet, view: CallView): boolean {
  const subjects = restrictiveSubjectsOf(view);
  const { list } = subjects;
  let i = 0;
  do {
    for (; i < list.length; i++) if (globs.test(list[i]!)) return true;
  } while (subjects.more());
  return subjects.tooManyAliases;
}

/** Candidate spellings of one component (for per-component exclusion checks, POL-EXCL-1 iii). */
function componentCandidates(component: string): string[] {
  return memo(componentCandidatesCache, component, () => computeComponentCandidates(component));
}

function computeComponentCandidates(component: string): string[] {
  const out = new Set<string>();
  for (const candidate of new Set([component, posixBody(component)])) {
    out.add(candidate);
    out.add(normalize(candidate));
    for (const alt of alternates(candidate)) out.add(alt);
    for (const alias of rmAliases(candidate) ?? []) out.add(alias);
  }
  out.delete('');
  return [...out];
}

/** POL-CONT-1..2 restrictive contains: case-insensitive on the raw text, retried on the normalized text. */
function containsRestrictive(lowerEntries: readonly string[], text: string): boolean {
  const spellings = memo(containsSpellingsCache, text, () => {
    const lower = text.toLowerCase();
    return /['"\\]/.test(text) ? [lower, normalize(text).toLowerCase()] : [lower];
  });
  return spellings.some((spelling) => lowerEntries.some((e) => spelling.includes(e)));
}

function restrictivePositive(cond: CommandGroup, view: CallView, globsMayMatch: boolean): boolean {
  if (cond.commandMatches && globsMayMatch) {
    if (anyRestrictiveSubjectMatches(cond.commandMatches, view)) return true;
  }
  return cond.commandContains !== undefined && containsRestrictive(cond.commandContainsLower!, view.command);
}

/** POL-RESTR-1 + POL-EXCL-1: any interpretation matching suffices; exclusions apply per component. */
export function restrictiveCommandMatch(cond: CommandGroup, view: CallView, groups: number): boolean {
  if (!restrictivePositive(cond, view, (groups & RULE_GLOBS) !== 0)) return false;
  const exclusions = cond.commandNotMatches;
  // With exclusions that never match, every path below ends in "matched".
  if (!exclusions || (groups & RULE_EXCLUSIONS) === 0) return true;
  const a = analysisOf(view);
  const components = a.composite ? a.components : [a.raw];
  let anyPositive = false;
  for (const component of components) {
    if (cond.commandContainsLower && containsRestrictive(cond.commandContainsLower, component)) {
      anyPositive = true;
      if (cond.commandMatches || !isExcluded(exclusions, component)) return true;
      continue;
    }
    if (cond.commandMatches) {
      const aliases = rmAliases(component);
      if (aliases === undefined) return true;
      const hits = aliases.filter((alias) => cond.commandMatches!.test(alias));
      if (hits.length > 0) {
        anyPositive = true;
        if (hits.some((alias) => !exclusions.test(alias))) return true;
        continue;
      }
      const candidates = componentCandidates(component);
      if (cond.commandMatches.testAny(candidates)) {
        anyPositive = true;
        if (!exclusions.testAny(candidates)) return true;
      }
    }
  }
  // Positive only on the whole string (no component alone): fail closed.
  return !anyPositive;
}

function isExcluded(exclusions: GlobSet, text: string): boolean {
  return exclusions.testAny(componentCandidates(text));
}

/**
 * POL-GRANT-1: granting rules need every executed component covered; raw text is never tested.
 * Deviation (docs/compat.md): a command with no components (e.g. `X='$(;)' ';'`) never
 * satisfies a granting rule — "every one of zero components" would grant it vacuously.
 */
export function grantingCommandMatch(cond: CommandGroup, view: CallView, exclusionsMayMatch: boolean): boolean {
  const a = analysisOf(view);
  if (a.components.length === 0) return false;
  if (exclusionsMayMatch && cond.commandNotMatches && cond.commandNotMatches.testAny([a.raw, a.normalized, ...a.components])) return false;
  if (a.composite && cond.commandMatches) {
    for (const glob of cond.commandMatches.globs) {
      if (compositePattern(glob.source) && (glob.test(a.raw) || glob.test(a.normalized))) return true;
    }
  }
  const contains = cond.commandContains ?? [];
  return a.components.every((component) => (cond.commandMatches?.test(component) ?? false) || contains.some((entry) => component.includes(entry)));
}

const compositeCache = new Map<string, boolean>();
function compositePattern(source: string): boolean {
  let composite = compositeCache.get(source);
  if (composite === undefined) {
    composite = splitCommand(normalize(source) || sanitize(source)).length > 1;
    compositeCache.set(source, composite);
  }
  return composite;
}
