// The kinds of `when:` condition (POL-WHEN-1..6), one registry entry each: the YAML keys
// it owns, how it parses and validates them, how it matches a call, what the exec prefilter may
// skip rules on, and whether its result may be cached. The loader, evaluate()'s rule loop and
// the prefilter know no kind by name (the command-matching helpers of evaluate.ts are called from
// the entries here): a new kind is one entry in CONDITION_KINDS, in its place in the order, plus
// its tests. Leave out `gate` unless the prefilter's argument (prefilter.ts) covers what the kind
// tests; set `uncacheable` when it reads anything outside the decision cache key.
//
// A condition is compiled once at load into the list of its present kinds with their parsed
// values (Condition.terms), so evaluate() loops over those only. Semantics kept from POL-WHEN-1..6:
// - `default: true` matches every call; the other fields are still validated, and ignored.
// - Every present kind must pass (AND); registry order is the evaluation order, the reference's:
//   command, env-assignments, path, url, domain, agent_depth, tool_param, call_count, session.
// - The condition matches only if at least one present kind is positive (isPositive); veto-only
//   kinds (command_not_matches alone, path_not_matches, session_not_matches) and response_*
//   (validated, not checked at request time: no match()) never make a rule match on their own.
// - A `when` whose fields are all absent, null or empty lists is no condition: the rule is
//   unconditional.
import type { Node } from 'yaml';
import type { CallView } from './evaluate.ts';
import { analysisOf, assignedNames, grantingCommandMatch, pathSpellings, restrictiveCommandMatch, toolParamsMatch } from './evaluate.ts';
import { checkedGlob, globList, parseGoDuration } from './fields.ts';
import { compileDomainGlob, compileGlob, compilePathGlob, GlobSet, type Glob } from './glob.ts';
import { RULE_EXCLUSIONS } from './prefilter.ts';
import type { YamlReader } from './yaml-reader.ts';

/**
 * Whether a call passes one present kind. `restrictive`: the rule is deny/ask (POL-GRANT-1 vs POL-RESTR-1).
 * `groups`: the RULE_GLOBS / RULE_EXCLUSIONS bits of the glob groups (globGroups) the prefilter
 * could not rule out; a clear bit means none of those globs can match any spelling of the command.
 * Called on every check: no allocation here beyond what the helpers do.
 */
export type Matcher<V> = (value: V, view: CallView, restrictive: boolean, groups: number) => boolean;

/**
 * What the prefilter may skip a rule on (exec calls with a command): a promise that match(),
 * for restrictive and granting rules alike, can pass only if one of `globs` matches some
 * spelling of the command (or a name it assigns), or one of `substrings` occurs in one (POL-SHELL; see
 * prefilter.ts for the spellings this holds for). The prefilter takes the literal runs of each;
 * an entry without runs makes the gate unusable, and the rule is evaluated.
 */
export interface CommandGate {
  readonly globs: readonly Glob[];
  readonly substrings: readonly string[];
}

/**
 * The globs behind the RULE_GLOBS / RULE_EXCLUSIONS bits match() receives (united over the kinds
 * of a rule): a bit is clear only when none of them can match any spelling of the command.
 */
export interface GlobGroups {
  readonly globs?: readonly Glob[];
  readonly exclusions?: readonly Glob[];
}

export interface ConditionKind<V> {
  /** For messages and tests. */
  readonly name: string;
  /** The `when:` keys it owns; the loader accepts exactly these (of every kind) and `default`. */
  readonly keys: readonly string[];
  /** Its parsed value; undefined when none of its keys is set (absent, null or empty). */
  parse(fields: WhenFields): V | undefined;
  /** A positive group (POL-WHEN-1..6): some present kind must be one for the condition to match. */
  isPositive(value: V): boolean;
  /** Absent: not checked at request time (response_*). */
  readonly match?: Matcher<V>;
  /** Absent or undefined: the prefilter never skips a rule on this kind (the safe default). */
  gate?(value: V): CommandGate | undefined;
  /** Absent: this kind contributes no globs to either bit. */
  globGroups?(value: V): GlobGroups;
  /**
   * The result depends on more than the decision cache key (agent, session, tool, command, path,
   * url, domain, workdir): call history, agent depth, other params. A scope with such a rule is
   * never answered from the decision cache.
   */
  readonly uncacheable?: boolean;
}

/** One present kind of a compiled condition. */
export interface ConditionTerm {
  readonly kind: ConditionKind<unknown>;
  readonly value: unknown;
}

/** A present kind checked at request time. */
export interface ConditionCheck {
  readonly value: unknown;
  readonly match: Matcher<unknown>;
}

/** A `when:` block after validation. */
export interface Condition {
  /** `default: true` matches every call. */
  readonly default: boolean;
  /** Some present kind is positive: without one the condition matches no request. */
  readonly positive: boolean;
  /** Some present kind is uncacheable. */
  readonly uncacheable: boolean;
  /** The present kinds, in registry order. */
  readonly terms: readonly ConditionTerm[];
  /** The terms with a match(), in the same order: what evaluate() runs. */
  readonly checks: readonly ConditionCheck[];
}

/** The keys of one `when:` mapping, for the kinds' parse(). */
export class WhenFields {
  private readonly globSets = new Map<string, GlobSet | undefined>();

  constructor(
    readonly reader: YamlReader,
    private readonly fields: Map<string, Node | null>,
    /** `... rules[i] when`, for messages. */
    readonly where: string,
  ) {}

  /** Set and not null. */
  has(key: string): boolean {
    return this.fields.has(key) && !this.reader.isNull(this.fields.get(key));
  }

  node(key: string): Node | null | undefined {
    return this.fields.get(key);
  }

  /** `where.key`, for messages. */
  at(key: string): string {
    return `${this.where}.${key}`;
  }

  /**
   * A list of globs (undefined when absent or empty), read once: a kind may read another's key
   * (command_env_assignments uses command_not_matches) and gets the same set. A key is always
   * compiled the same way.
   */
  globs(key: string, compile: (source: string) => Glob = compileGlob): GlobSet | undefined {
    if (this.globSets.has(key)) return this.globSets.get(key);
    const list = this.has(key) ? globList(this.reader, this.node(key), this.at(key), compile) : [];
    const set = list.length > 0 ? new GlobSet(list) : undefined;
    this.globSets.set(key, set);
    return set;
  }
}

/** Erases a kind's value type for the registry (each entry is type-checked where it is defined). */
export function defineKind<V>(definition: ConditionKind<V>): ConditionKind<unknown> {
  return definition as unknown as ConditionKind<unknown>;
}

/** The command group: command_matches OR command_contains, command_not_matches as exclusions. */
export interface CommandGroup {
  readonly commandMatches: GlobSet | undefined;
  readonly commandNotMatches: GlobSet | undefined;
  readonly commandContains: readonly string[] | undefined;
  /** commandContains lower-cased once (restrictive rules compare case-insensitively). */
  readonly commandContainsLower: readonly string[] | undefined;
}

const COMMAND = defineKind<CommandGroup>({
  name: 'command',
  keys: ['command_matches', 'command_not_matches', 'command_contains'],
  parse(f) {
    const commandMatches = f.globs('command_matches');
    const commandNotMatches = f.globs('command_not_matches');
    let commandContains: string[] | undefined;
    if (f.has('command_contains')) {
      const entries = f.reader.stringList(f.node('command_contains'), f.at('command_contains'));
      for (const e of entries) if (e.value.trim() === '') f.reader.fail(e.node ?? f.node('command_contains'), `${f.at('command_contains')} has a blank entry`);
      if (entries.length > 0) commandContains = entries.map((e) => e.value);
    }
    if (!commandMatches && !commandNotMatches && !commandContains) return undefined;
    return { commandMatches, commandNotMatches, commandContains, commandContainsLower: commandContains?.map((e) => e.toLowerCase()) };
  },
  isPositive: (g) => g.commandMatches !== undefined || g.commandContains !== undefined,
  match(g, view, restrictive, groups) {
    if (g.commandMatches || g.commandContains) {
      if (view.command === '') return false;
      return restrictive ? restrictiveCommandMatch(g, view, groups) : grantingCommandMatch(g, view, (groups & RULE_EXCLUSIONS) !== 0);
    }
    // Exclusions without a positive command group still veto the rule.
    if (view.command === '') return true;
    const a = analysisOf(view);
    return !g.commandNotMatches!.testAny([a.raw, a.normalized, ...a.components]);
  },
  gate: (g) => (g.commandMatches || g.commandContains ? { globs: g.commandMatches?.globs ?? [], substrings: g.commandContains ?? [] } : undefined),
  globGroups: (g) => ({ globs: g.commandMatches?.globs, exclusions: g.commandNotMatches?.globs }),
});

/** POL-ENVA-1..2: globs over the names of the variables the command assigns. */
interface EnvAssignments {
  readonly names: GlobSet;
  /** The command group's command_not_matches, tested on the raw and normalized command. */
  readonly exclusions: GlobSet | undefined;
}

const ENV_ASSIGNMENTS = defineKind<EnvAssignments>({
  name: 'command_env_assignments',
  keys: ['command_env_assignments'],
  parse(f) {
    const names = f.globs('command_env_assignments');
    return names && { names, exclusions: f.globs('command_not_matches') };
  },
  isPositive: () => true,
  match(e, view) {
    if (view.command === '') return false;
    const assigned = assignedNames(view.command);
    let hit = false;
    for (let i = 0; i < assigned.length && !hit; i++) hit = e.names.test(assigned[i]!);
    if (!hit) return false;
    return !(e.exclusions && e.exclusions.testAny([view.command, analysisOf(view).normalized]));
  },
  gate: (e) => ({ globs: e.names.globs, substrings: [] }),
});

/** Path globs (POL-GLOB-5) on the raw and the cleaned, workdir-joined path. */
interface PathGlobs {
  readonly matches: GlobSet | undefined;
  readonly notMatches: GlobSet | undefined;
}

const PATH = defineKind<PathGlobs>({
  name: 'path',
  keys: ['path_matches', 'path_not_matches'],
  parse(f) {
    const matches = f.globs('path_matches', compilePathGlob);
    const notMatches = f.globs('path_not_matches', compilePathGlob);
    return matches || notMatches ? { matches, notMatches } : undefined;
  },
  isPositive: (p) => p.matches !== undefined,
  match(p, view, restrictive) {
    const spellings = pathSpellings(view);
    if (p.matches) {
      if (spellings.length === 0) return false;
      if (!(restrictive ? p.matches.testAny(spellings) : testsAll(p.matches, spellings))) return false;
    }
    if (p.notMatches && spellings.length > 0) {
      if (restrictive ? testsAll(p.notMatches, spellings) : p.notMatches.testAny(spellings)) return false;
    }
    return true;
  },
});

function testsAll(globs: GlobSet, subjects: readonly string[]): boolean {
  for (let i = 0; i < subjects.length; i++) if (!globs.test(subjects[i]!)) return false;
  return true;
}

const URL_MATCHES = defineKind<GlobSet>({
  name: 'url',
  keys: ['url_matches'],
  parse: (f) => f.globs('url_matches'),
  isPositive: () => true,
  match: (globs, view) => view.url !== '' && globs.test(view.url),
});

/** Domain globs (POL-GLOB-6) are tested one by one: GlobSet's index is case-sensitive, they are not. */
const DOMAIN_MATCHES = defineKind<readonly Glob[]>({
  name: 'domain',
  keys: ['domain_matches'],
  parse: (f) => f.globs('domain_matches', compileDomainGlob)?.globs,
  isPositive: () => true,
  match(globs, view) {
    if (view.domain === '') return false;
    for (let i = 0; i < globs.length; i++) if (globs[i]!.test(view.domain)) return true;
    return false;
  },
});

interface DepthBounds {
  gte?: number;
  lte?: number;
  eq?: number;
}

const AGENT_DEPTH = defineKind<DepthBounds>({
  name: 'agent_depth',
  keys: ['agent_depth'],
  parse(f) {
    if (!f.has('agent_depth')) return undefined;
    const d = f.reader.mapping(f.node('agent_depth'), f.at('agent_depth'), ['gte', 'lte', 'eq']);
    const bounds: DepthBounds = {};
    for (const k of ['gte', 'lte', 'eq'] as const)
      if (d.has(k) && !f.reader.isNull(d.get(k))) bounds[k] = f.reader.int(d.get(k), `${f.at('agent_depth')}.${k}`);
    return bounds;
  },
  isPositive: () => true,
  match(bounds, view) {
    const depth = view.call.agentDepth ?? 0;
    const { gte, lte, eq } = bounds;
    return !((gte !== undefined && depth < gte) || (lte !== undefined && depth > lte) || (eq !== undefined && depth !== eq));
  },
  uncacheable: true,
});

/** Param name (lower-cased) -> glob over the stringified, lower-cased value. */
type ParamGlobs = ReadonlyArray<readonly [string, Glob]>;

const TOOL_PARAM = defineKind<ParamGlobs>({
  name: 'tool_param',
  keys: ['tool_param_matches'],
  parse(f) {
    if (!f.has('tool_param_matches')) return undefined;
    const entries = f.reader.pairs(f.node('tool_param_matches'), f.at('tool_param_matches'));
    if (entries.length === 0) return undefined;
    return entries.map((e) => {
      const where = `${f.at('tool_param_matches')}.${e.key}`;
      const pattern = f.reader.string(e.value, where);
      return [e.key.toLowerCase(), checkedGlob(f.reader, e.value, pattern.toLowerCase(), where)] as const;
    });
  },
  isPositive: () => true,
  match: (entries, view) => toolParamsMatch(entries, view.call),
  uncacheable: true,
});

interface CallCount {
  readonly tool: string | undefined;
  readonly gte: number;
  readonly windowMs: number;
}

const CALL_COUNT = defineKind<CallCount>({
  name: 'call_count',
  keys: ['call_count'],
  parse(f) {
    if (!f.has('call_count')) return undefined;
    const reader: YamlReader = f.reader;
    const where = f.at('call_count');
    const c = reader.mapping(f.node('call_count'), where, ['tool', 'gte', 'window']);
    const gte = reader.int(c.get('gte'), `${where}.gte`);
    if (gte < 0 || gte > 1000) reader.fail(c.get('gte') ?? f.node('call_count'), `${where}.gte must be between 0 and 1000 (got ${gte})`);
    const windowText = reader.string(c.get('window'), `${where}.window`).trim();
    const windowMs = parseGoDuration(windowText);
    if (windowMs === undefined || windowMs <= 0 || windowMs > 720 * 3600_000) {
      reader.fail(c.get('window') ?? f.node('call_count'), `${where}.window "${windowText}" must be a duration above 0 and at most 720h (e.g. 1h, 30m)`);
    }
    const tool = reader.string(c.get('tool'), `${where}.tool`).trim();
    return { tool: tool !== '' ? tool : undefined, gte, windowMs };
  },
  isPositive: () => true,
  match({ tool, gte, windowMs }, view) {
    if (gte <= 0) return true;
    const count = view.state ? view.state.countCalls(tool ?? view.tool, windowMs, view.now) : 0;
    return count >= gte;
  },
  uncacheable: true,
});

/** Globs on call.session. */
interface SessionGlobs {
  readonly matches: GlobSet | undefined;
  readonly notMatches: GlobSet | undefined;
}

const SESSION = defineKind<SessionGlobs>({
  name: 'session',
  keys: ['session_matches', 'session_not_matches'],
  parse(f) {
    const matches = f.globs('session_matches');
    const notMatches = f.globs('session_not_matches');
    return matches || notMatches ? { matches, notMatches } : undefined;
  },
  isPositive: (s) => s.matches !== undefined,
  match(s, view) {
    const session = view.call.session ?? '';
    if (s.matches && !s.matches.test(session)) return false;
    return !(s.notMatches && s.notMatches.test(session));
  },
});

/** Post-call regexes: validated and kept, never checked on a request. */
interface ResponseRegexes {
  readonly matches: RegExp[] | undefined;
  readonly notMatches: RegExp[] | undefined;
}

const RESPONSE = defineKind<ResponseRegexes>({
  name: 'response',
  keys: ['response_matches', 'response_not_matches'],
  parse(f) {
    const regexes = (key: string) => {
      if (!f.has(key)) return undefined;
      const list = f.reader.stringList(f.node(key), f.at(key)).map((e) => compileResponseRegex(f.reader, e.node, e.value, f.at(key)));
      return list.length > 0 ? list : undefined;
    };
    const matches = regexes('response_matches');
    const notMatches = regexes('response_not_matches');
    return matches || notMatches ? { matches, notMatches } : undefined;
  },
  isPositive: () => false,
});

/** RE2 syntax mostly maps onto JS; we reject what the reference rejects and what JS cannot read. */
function compileResponseRegex(reader: YamlReader, node: Node | null, source: string, where: string): RegExp {
  if (source.length > 500) reader.fail(node, `${where}: regex is ${source.length} characters; the limit is 500`);
  // Nested quantifiers such as (a+)+ are rejected (catastrophic backtracking in JS engines).
  if (/\([^()]*[+*}][^()]*\)\s*[+*{]/.test(source)) reader.fail(node, `${where}: regex "${source}" has nested quantifiers`);
  let pattern = source;
  let flags = '';
  const inline = /^\(\?([imsU]+)\)/.exec(pattern);
  if (inline) {
    pattern = pattern.slice(inline[0].length);
    for (const f of inline[1]!) if (f !== 'U' && !flags.includes(f)) flags += f;
  }
  try {
    return new RegExp(pattern, flags);
  } catch (err) {
    reader.fail(node, `${where}: invalid regex "${source}": ${(err as Error).message}`);
  }
}

/** Every condition kind, in evaluation order (the reference's). */
export const CONDITION_KINDS: readonly ConditionKind<unknown>[] = [
  COMMAND,
  ENV_ASSIGNMENTS,
  PATH,
  URL_MATCHES,
  DOMAIN_MATCHES,
  AGENT_DEPTH,
  TOOL_PARAM,
  CALL_COUNT,
  SESSION,
  RESPONSE,
];

/** The keys a `when:` mapping may have: the kinds' keys and `default`. */
export function whenKeys(kinds: readonly ConditionKind<unknown>[] = CONDITION_KINDS): string[] {
  return [...kinds.flatMap((k) => k.keys), 'default'];
}

/**
 * Validates and compiles a `when:` mapping; undefined when it sets nothing (the rule is
 * unconditional). `kinds` is the registry (tests pass their own).
 */
export function compileCondition(reader: YamlReader, node: Node | null | undefined, where: string, kinds = CONDITION_KINDS): Condition | undefined {
  const fields = new WhenFields(reader, reader.mapping(node, where, whenKeys(kinds)), where);
  const isDefault = reader.bool(fields.node('default'), `${where}.default`);
  const terms: ConditionTerm[] = [];
  for (const k of kinds) {
    const value = k.parse(fields);
    if (value !== undefined) terms.push({ kind: k, value });
  }
  if (!isDefault && terms.length === 0) return undefined;
  return {
    default: isDefault,
    positive: terms.some((t) => t.kind.isPositive(t.value)),
    uncacheable: terms.some((t) => t.kind.uncacheable === true),
    terms,
    checks: terms.flatMap((t) => (t.kind.match ? [{ value: t.value, match: t.kind.match }] : [])),
  };
}

/** The command group of a condition, if it has one (`rampart allow` reads its globs). */
export function commandGroupOf(cond: Condition | undefined): CommandGroup | undefined {
  return cond?.terms.find((t) => t.kind === COMMAND)?.value as CommandGroup | undefined;
}
