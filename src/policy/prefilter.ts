// A conservative prefilter for exec commands: before a rule's command condition is evaluated
// (shell analysis, hundreds of globs), check that the command could possibly match it at all.
//
// Every spelling the matcher tests (raw text, components, normalizations, POSIX bodies,
// alternates, rm/find aliases, subcommand bodies, assigned variable names) is built from the
// raw command by only these edits: cutting it into pieces, dropping whole words, trimming
// the ends of words, joining words with " ", " && " or "/", lower-casing, deleting quoting
// characters (' " \ ^ ` and backslash-newline) inside a word, and, for rm/find aliases,
// writing "rm -rf " in front of an operand. So a run of "stable" characters (see isStable)
// found in any tested spelling is also found in the raw command, lower-cased, with the
// quoting characters deleted ("the haystack") — or is "rm"/"-rf" from an alias.
//
// A glob (or contains entry, or env-name glob) can only match a spelling that contains each
// of its literal stable runs, so a rule whose every alternative has a run missing from the
// haystack cannot match: it is skipped. What a rule is gated on comes from its condition kinds
// (conditions.ts): only a kind that declares a `gate` (today the command group, and the env-name
// globs) can get a rule skipped; a rule without one is always evaluated. When in doubt (control
// or non-ASCII characters, `find -exec ... {}` substitutions, alias floods) the prefilter says
// "maybe" and the rule is evaluated in full. The same test on the glob groups the kinds declare
// (`globGroups`) tells when none of a surviving rule's `command_matches` can hold (RULE_GLOBS
// clear: only its contains entries are tried) and when none of its `command_not_matches` can
// (RULE_EXCLUSIONS clear: exclusion checks, which can only veto, are skipped). A
// command with no components matches no granting rule (evaluate.ts), so empty subcommands
// need no special case. The differential test (__tests__/prefilter.test.ts)
// checks decisions are identical with and without it.
import type { GlobGroups } from './conditions.ts';
import type { Glob } from './glob.ts';
import type { Policy, Rule } from './model.ts';

/** Characters that no analysis step creates or deletes inside a word (besides case). */
function isStable(code: number): boolean {
  // Printable ASCII without space and: & . / \ ' " ^ ` (created or deleted by the analysis:
  // " && " joins, "." for find's default start directory, "/" from "\" and path cleaning)
  // and * ? [ ] (glob syntax). "-" is stable: only the rm alias prefix "rm -rf " creates one,
  // and that prefix is added to the haystack whenever aliases are possible.
  if (code <= 0x20 || code >= 0x7f) return false;
  return !UNSTABLE.has(code);
}
const UNSTABLE = new Set(Array.from('&./\\\'"^`*?[]', (c) => c.charCodeAt(0)));

/** One way a rule's command (or env-name) condition can hold: its literal runs. */
type Alternative = string[];
/** The same, as run ids (see Prefilter.runId). */
type RunIds = number[];

/**
 * Lower-cased literal stable runs of a pattern. Globs: `\` reads as `/`, `*` `?` and `[...]`
 * are wildcards. Contains entries have no wildcards (their `*?[]` just end a run, which only
 * weakens the filter).
 */
export function literalRuns(text: string, glob: boolean): string[] {
  const source = glob ? text.replaceAll('\\', '/') : text;
  const runs: string[] = [];
  let run = '';
  for (let i = 0; i < source.length; i++) {
    const code = source.charCodeAt(i);
    if (glob && code === 0x5b /* [ */) {
      const end = source.indexOf(']', i + 2);
      if (end !== -1) i = end;
    }
    if (isStable(code)) run += source[i]!.toLowerCase();
    else {
      if (run !== '') runs.push(run);
      run = '';
    }
  }
  if (run !== '') runs.push(run);
  return runs;
}

/**
 * The alternatives of the first of a rule's condition kinds that declares a gate with literal
 * runs in every alternative; undefined when the rule must always be evaluated (no such kind, or
 * `default: true`). Sound because every present kind must pass (POL-WHEN-1..6): a kind the command cannot
 * pass rules the rule out whatever the others do.
 */
function gateOf(rule: Rule): Alternative[] | undefined {
  const cond = rule.when;
  if (cond === undefined || cond.default) return undefined;
  for (const term of cond.terms) {
    const gate = term.kind.gate?.(term.value);
    if (gate === undefined) continue;
    const alternatives = [...gate.globs.map((glob) => literalRuns(glob.source, true)), ...gate.substrings.map((entry) => literalRuns(entry, false))];
    // No alternative at all would skip the rule for every command: never trusted.
    if (alternatives.length > 0 && alternatives.every((runs) => runs.length > 0)) return alternatives;
  }
  return undefined;
}

/** The globs of one glob group (GlobGroups key) over all kinds of a rule's condition. */
function groupGlobs(rule: Rule, group: keyof GlobGroups): Glob[] {
  const globs: Glob[] = [];
  for (const term of rule.when?.terms ?? []) {
    const list = term.kind.globGroups?.(term.value)[group];
    if (list !== undefined) globs.push(...list);
  }
  return globs;
}

/** Bits of Prefilter.globGroupsMayMatch(). */
export const RULE_GLOBS = 1;
export const RULE_EXCLUSIONS = 2;

/** The alternatives of a group of globs; undefined when there are none or one has no runs. */
function globGateOf(globs: readonly Glob[]): Alternative[] | undefined {
  if (globs.length === 0) return undefined;
  const alternatives = globs.map((glob) => literalRuns(glob.source, true));
  return alternatives.some((runs) => runs.length === 0) ? undefined : alternatives;
}

/**
 * The prefilter for one ordered list of in-scope policies. scan() marks the rules a command may
 * match; the marks stay valid until the next scan() (evaluation is synchronous).
 */
export class Prefilter {
  /** Flat rule index of each policy's first rule. */
  private readonly firstRule: number[] = [];
  /** Per flat rule: 1 = evaluate whatever the command. */
  private readonly always: Uint8Array;
  /** Run text -> id. Every literal run of every gate has one, so a scan marks all present runs. */
  private readonly runIds = new Map<string, number>();
  /** Per run id: the alternatives it is the longest run of (rule + ids of the other runs). */
  private readonly keyUses: Array<Array<{ rule: number; others: RunIds }>> = [];
  /**
   * [first char code << 7 | second char code] -> runs of two or more characters: id, text and
   * third char code (-1 for two-character runs), compared before anything else.
   */
  private readonly pairs: Array<Array<{ id: number; key: string; third: number }> | undefined> = new Array(128 * 128).fill(undefined);
  /** [char code] -> ids of one-character keys. */
  private readonly singles: Array<number[] | undefined> = new Array(128).fill(undefined);
  private readonly seen: Uint32Array;
  private readonly found: Int32Array;
  private readonly ruleMarks: Uint8Array;
  private readonly policyMarks: Uint8Array;
  /** Per flat rule: index of its policy. */
  private readonly policyOf: Uint32Array;
  /** Per policy: 1 = has a rule evaluated whatever the command. */
  private readonly alwaysPolicies: Uint8Array;
  private generation = 0;
  /** Per flat rule: the alternatives of its exclusion / command_matches globs; undefined = maybe. */
  private readonly exclusionGates: Array<RunIds[] | undefined> = [];
  private readonly matchGates: Array<RunIds[] | undefined> = [];

  constructor(policies: readonly Policy[]) {
    let flat = 0;
    const always: number[] = [];
    for (const policy of policies) {
      this.firstRule.push(flat);
      for (const rule of policy.rules) {
        this.exclusionGates.push(this.idsOf(globGateOf(groupGlobs(rule, 'exclusions'))));
        this.matchGates.push(this.idsOf(globGateOf(groupGlobs(rule, 'globs'))));
        const gate = gateOf(rule);
        if (gate === undefined) always.push(flat);
        else {
          for (const runs of gate) {
            // The longest run is the key whose discovery triggers the check; the others are
            // looked up in the scan's marks.
            const [key, ...others] = [...new Set(runs)].sort((a, b) => b.length - a.length);
            this.keyUses[this.runId(key!)]!.push({ rule: flat, others: others.map((run) => this.runId(run)) });
          }
        }
        flat++;
      }
    }
    this.always = new Uint8Array(flat);
    for (const index of always) this.always[index] = 1;
    this.ruleMarks = new Uint8Array(flat);
    this.policyMarks = new Uint8Array(policies.length);
    this.policyOf = new Uint32Array(flat);
    this.alwaysPolicies = new Uint8Array(policies.length);
    for (let p = 0; p < policies.length; p++) {
      const end = p + 1 < policies.length ? this.firstRule[p + 1]! : flat;
      for (let r = this.firstRule[p]!; r < end; r++) {
        this.policyOf[r] = p;
        if (this.always[r] === 1) this.alwaysPolicies[p] = 1;
      }
    }
    this.seen = new Uint32Array(this.runIds.size);
    this.found = new Int32Array(this.runIds.size);
  }

  private runId(run: string): number {
    let id = this.runIds.get(run);
    if (id === undefined) {
      this.runIds.set(run, (id = this.runIds.size));
      this.keyUses.push([]);
      // Runs are printable ASCII (see isStable), so codes are < 128.
      if (run.length === 1) (this.singles[run.charCodeAt(0)] ??= []).push(id);
      else {
        const third = run.length > 2 ? run.charCodeAt(2) : -1;
        (this.pairs[(run.charCodeAt(0) << 7) | run.charCodeAt(1)] ??= []).push({ id, key: run, third });
      }
    }
    return id;
  }

  private idsOf(gate: Alternative[] | undefined): RunIds[] | undefined {
    return gate?.map((runs) => runs.map((run) => this.runId(run)));
  }

  /**
   * Marks the rules the command may match and returns a token for mayMatch*(); undefined when
   * the prefilter cannot be trusted for this command (then every rule is evaluated).
   */
  scan(command: string): number | undefined {
    // Control characters (sanitize deletes them, ANSI sequences included) and non-ASCII
    // (lower-casing may change lengths): evaluate everything.
    if (NOT_PLAIN.test(command)) return undefined;
    let mayAlias = false;
    let haystack = command.toLowerCase().replace(QUOTING, '');
    const find = haystack.includes('find');
    if (find || haystack.includes('rm')) mayAlias = mayHaveAliases(command, haystack);
    if (mayAlias) {
      // `find ... -exec rm -rf {} +` substitutes start directories into words, and more than
      // 256 aliases count as a match: both are rare enough to evaluate in full.
      if ((find && haystack.includes('{}')) || command.length > 256) return undefined;
      haystack += ' rm -rf';
    }
    if (this.generation === 0xfffffffe) {
      this.seen.fill(0);
      this.generation = 0;
    }
    const gen = ++this.generation;
    const { singles, pairs, seen, found } = this;
    let foundCount = 0;
    // The haystack is printable ASCII plus tab/newline here, so codes are < 128.
    const last = haystack.length - 1;
    let c1 = haystack.charCodeAt(0);
    for (let i = 0; i <= last; i++) {
      const c0 = c1;
      const single = singles[c0];
      if (single !== undefined) {
        for (let k = 0; k < single.length; k++) {
          const id = single[k]!;
          if (seen[id] !== gen) {
            seen[id] = gen;
            found[foundCount++] = id;
          }
        }
      }
      if (i === last) break;
      c1 = haystack.charCodeAt(i + 1);
      const pair = pairs[(c0 << 7) | c1];
      if (pair === undefined) continue;
      const c2 = haystack.charCodeAt(i + 2); // NaN past the end: no longer run fits
      for (let k = 0; k < pair.length; k++) {
        const entry = pair[k]!;
        if (entry.third !== -1 && entry.third !== c2) continue;
        const id = entry.id;
        if (seen[id] === gen) continue;
        const key = entry.key;
        if (key.length <= 3 || haystack.startsWith(key, i)) {
          seen[id] = gen;
          found[foundCount++] = id;
        }
      }
    }
    // Policy marks are kept as rules are marked: no pass over all rules afterwards.
    const { ruleMarks, policyMarks, policyOf, keyUses } = this;
    // Every run is registered, so "run present" is a look-up in the marks of this scan.
    ruleMarks.set(this.always);
    policyMarks.set(this.alwaysPolicies);
    for (let k = 0; k < foundCount; k++) {
      const uses = keyUses[found[k]!]!;
      for (let u = 0; u < uses.length; u++) {
        const { rule, others } = uses[u]!;
        if (ruleMarks[rule] === 1) continue;
        let all = true;
        for (let o = 0; o < others.length && all; o++) all = seen[others[o]!] === gen;
        if (all) {
          ruleMarks[rule] = 1;
          policyMarks[policyOf[rule]!] = 1;
        }
      }
    }
    return gen;
  }

  /** False only when no rule of policy `policyIndex` can match the command scanned as `token`. */
  mayMatchPolicy(token: number, policyIndex: number): boolean {
    return token !== this.generation || this.policyMarks[policyIndex] === 1;
  }

  /**
   * Which glob groups of a rule may match some spelling of the command scanned as `token`:
   * RULE_GLOBS (its `command_matches`) and RULE_EXCLUSIONS (its `command_not_matches`); a bit
   * is clear only when every glob of that group lacks one of its literal runs.
   */
  globGroupsMayMatch(token: number, policyIndex: number, ruleIndex: number): number {
    if (token !== this.generation) return RULE_GLOBS | RULE_EXCLUSIONS;
    const flat = this.firstRule[policyIndex]! + ruleIndex;
    return (this.gatePasses(this.matchGates[flat]) ? RULE_GLOBS : 0) | (this.gatePasses(this.exclusionGates[flat]) ? RULE_EXCLUSIONS : 0);
  }

  /** Some alternative has all its runs in the last scan (the caller checked the token). */
  private gatePasses(gate: RunIds[] | undefined): boolean {
    if (gate === undefined) return true;
    const { seen, generation } = this;
    for (let a = 0; a < gate.length; a++) {
      const ids = gate[a]!;
      let all = true;
      for (let k = 0; k < ids.length && all; k++) all = seen[ids[k]!] === generation;
      if (all) return true;
    }
    return false;
  }

  /** False only when rule `ruleIndex` of policy `policyIndex` cannot match the command scanned as `token`. */
  mayMatchRule(token: number, policyIndex: number, ruleIndex: number): boolean {
    return token !== this.generation || this.ruleMarks[this.firstRule[policyIndex]! + ruleIndex] === 1;
  }
}

/**
 * Whether some spelling may have an `rm` or `find` head word (then rm aliases may appear). Such
 * a word starts at a word boundary, after a path separator, or after the `-S` (env) or `/c`,
 * `/k` (cmd) prefix the analysis cuts off, and ends at a word boundary. Backslashes, backticks
 * and `^` both join and separate words depending on the dialect: then any `rm`/`find` counts.
 */
function mayHaveAliases(command: string, haystack: string): boolean {
  if (GLUE_OR_SEPARATE.test(command)) return true;
  return ALIAS_HEAD.test(haystack);
}
const GLUE_OR_SEPARATE = /[\\`^]/;
const ALIAS_HEAD = /(?:^|[^a-z0-9_]|-s|\/[ck])(?:rm|find)(?:$|[^a-z0-9_])/;

// eslint-disable-next-line no-control-regex
const NOT_PLAIN = /[^\t\n\x20-\x7e]/;
const QUOTING = /\\\n|['"\\^`]/g;
