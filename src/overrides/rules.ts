// Durable human allows (POL-EVAL-8): the rules `rampart allow` adds to
// user-overrides.yaml. Pure: text in, text out; the caller reads and writes the file.
//
// A rule is written as a literal command glob. The glob dialect (POL-GLOB) has no escape syntax, so a
// command holding `*`, `?` or `[` cannot be written literally and is refused. Allow rules are
// matched against the command *as the engine sees it* (POL-GRANT-1: quotes removed, leading VAR=value
// and launchers dropped), so when the command as typed would not match itself, its normalized
// spelling is used; every candidate is proven through evaluate() before it is offered.
import path from 'node:path';
import { isMap, isScalar, isSeq, parseDocument, type Document, type YAMLMap, type YAMLSeq } from 'yaml';
import { commandGroupOf } from '../policy/conditions.ts';
import { evaluate } from '../policy/evaluate.ts';
import type { PolicySet } from '../policy/load.ts';
import { parsePolicyDocument } from '../policy/load.ts';
import type { Policy, PolicyFile, Rule } from '../policy/model.ts';
import { normalize } from '../policy/shell.ts';
import { YamlReader } from '../policy/yaml-reader.ts';

export const OVERRIDES_FILE_NAME = 'user-overrides.yaml';
export const OVERRIDES_POLICY_NAME = 'user-overrides';

/**
 * The policy the rules go to: `user-overrides` in user-overrides.yaml; in another file (--file)
 * `<file stem>-allows`, so two such files in one directory never clash on the name.
 */
export function allowPolicyName(file: string): string {
  const base = path.basename(file);
  return base === OVERRIDES_FILE_NAME ? OVERRIDES_POLICY_NAME : `${base.replace(/\.ya?ml$/i, '')}-allows`;
}

/** The command cannot become a safe allow rule; the message says why and what to do. */
export class AllowInputError extends Error {}

export interface AllowRequest {
  /** The command as the user typed it. */
  command: string;
  /** Allow every command starting with these words (`<words> *`). */
  prefix: boolean;
  message?: string;
}

/** The rule to add, once proven to allow what was asked. */
export interface AllowRule {
  patterns: string[];
  prefix: boolean;
  /** Commands the rule must allow (the command itself; for a prefix also `<prefix> x`). */
  probes: string[];
  /** Set when the command was rewritten to the engine's spelling or a trailing ` *` read as --prefix. */
  notes: string[];
}

const GLOB_CHARS = /[*?[]/;
// Newlines split a command in two and escape sequences disappear before matching: neither
// belongs in a one-command allow rule.
const CONTROL_CHARS = /[\u0000-\u0008\u000a-\u001f\u007f]/;
const MAX_PATTERN_BYTES = 8192;

/** Checks the request and returns the spellings to try, best first (throws AllowInputError). */
export function allowCandidates(request: AllowRequest): { prefix: boolean; texts: string[]; notes: string[] } {
  let text = request.command.trim();
  let prefix = request.prefix;
  const notes: string[] = [];
  if (text === '') throw new AllowInputError('the command is empty; say which command to allow, e.g. rampart allow "npm test"');
  if (CONTROL_CHARS.test(text)) {
    throw new AllowInputError('the command contains a newline or another control character; allow one command per line, each with its own rampart allow');
  }
  // Deny suggestions read `rampart allow '<word> *'`: a trailing ` *` is the prefix form.
  if (/\s\*$/.test(text)) {
    text = text.replace(/\s+\*$/, '');
    if (!prefix) notes.push(`read "${request.command.trim()}" as --prefix "${text}"`);
    prefix = true;
  }
  if (text === '*') throw new AllowInputError('"*" would allow every command; name the command (or --prefix its first words)');
  const glob = GLOB_CHARS.exec(text);
  if (glob) {
    const before = text.slice(0, glob.index).split(/\s+/).slice(0, -1).join(' ');
    throw new AllowInputError(
      `the command contains the glob character "${glob[0]}" (column ${glob.index + 1}); rampart's globs have no escape syntax, ` +
        `so a rule for it would also allow other commands` +
        (before !== '' ? `. Allow its first words instead: rampart allow --prefix '${before}'` : ''),
    );
  }
  const bytes = Buffer.byteLength(text) + (prefix ? 2 : 0);
  if (bytes > MAX_PATTERN_BYTES) throw new AllowInputError(`the command is ${bytes} bytes; a policy glob may hold at most ${MAX_PATTERN_BYTES}`);
  const normalized = normalize(text);
  const texts = [text];
  if (normalized !== text && normalized !== '' && !GLOB_CHARS.test(normalized)) texts.push(normalized);
  return { prefix, texts, notes };
}

export function patternsFor(text: string, prefix: boolean): string[] {
  // `git *` does not match a bare `git`: a prefix rule allows both.
  return prefix ? [text, `${text} *`] : [text];
}

export function probesFor(command: string, prefix: boolean): string[] {
  return prefix ? [command, `${command} x`] : [command];
}

/** A PolicySet over already-parsed policies (default deny: only a rule can allow). */
export function setOf(policies: Policy[], source: string): PolicySet {
  return {
    defaultAction: 'deny',
    policyCount: policies.length,
    ruleCount: policies.reduce((n, p) => n + p.rules.length, 0),
    sources: [source],
    policies,
    tests: [],
  };
}

/** Preview decision on an exec command (as `rampart test` asks: empty agent and session). */
export function decideExec(set: PolicySet, command: string) {
  return evaluate(set, { agent: '', session: '', tool: 'exec', params: { command } }, { decisionCache: false });
}

export function allowsAll(set: PolicySet, probes: string[]): boolean {
  return probes.every((probe) => decideExec(set, probe).action === 'allow');
}

/** Parses policy file text with the real loader (throws PolicyLoadError naming file and line). */
export function parseOverridesText(file: string, text: string): PolicyFile {
  const { reader, root } = YamlReader.parse(file, text);
  return parsePolicyDocument(reader, root, file, ['version', 'default_action', 'policies', 'notify', 'tests']);
}

/** The allow rule in an existing file that already allows what is asked, if any. */
export function findExistingAllow(existing: PolicyFile, rule: Pick<AllowRule, 'patterns' | 'prefix' | 'probes'>): Rule | undefined {
  const allowRules = existing.policies.flatMap((policy) => policy.rules.filter((r) => r.action === 'allow').map((r) => ({ policy, rule: r })));
  if (rule.prefix) {
    // A prefix means "every command starting with it": only the same patterns prove that.
    const written = new Set(allowRules.flatMap(({ rule: r }) => commandGroupOf(r.when)?.commandMatches?.globs.map((g) => g.source) ?? []));
    if (!rule.patterns.every((p) => written.has(p))) return undefined;
    return allowRules.find(({ rule: r }) => commandGroupOf(r.when)?.commandMatches?.globs.some((g) => g.source === rule.patterns.at(-1)))?.rule;
  }
  if (!allowsAll(setOf(existing.policies, existing.source), rule.probes)) return undefined;
  return allowRules.find(({ policy, rule: r }) => allowsAll(setOf([{ ...policy, rules: [r] }], existing.source), rule.probes))?.rule;
}

export interface Edit {
  text: string;
  /** Line of the new rule in `text`. */
  line: number | undefined;
  parsed: PolicyFile;
}

function fileHeader(file: string): string {
  const durable = allowPolicyName(file) === OVERRIDES_POLICY_NAME;
  return [
    ` ${durable ? 'Durable allow' : 'Allow'} rules written by \`rampart allow\` (you may edit this file by hand).`,
    durable
      ? ' An allow here beats ask, watch and the default action, but a deny in any policy still wins.'
      : ' Only files named user-overrides.yaml beat ask and watch; here an allow is an ordinary rule.',
    ' `rampart serve` watches its policy directories and reloads a file when it changes.',
  ].join('\n');
}

/**
 * Appends an allow rule to the `user-overrides` policy of the file text (creating the file,
 * the policies list or the policy as needed), keeping every other line and comment.
 */
export function appendAllowRule(file: string, existingText: string | undefined, patterns: string[], message: string | undefined, now: Date): Edit {
  const name = allowPolicyName(file);
  const doc: Document = existingText !== undefined && existingText.trim() !== '' ? parseDocument(existingText) : parseDocument('');
  if (doc.contents === null || doc.contents === undefined) {
    if (doc.commentBefore === null || doc.commentBefore === undefined) doc.commentBefore = fileHeader(file);
    doc.contents = doc.createNode({ version: '1', policies: [] }) as YAMLMap;
  }
  const top = doc.contents;
  if (!isMap(top)) throw new AllowInputError(`${file}: the top level is not a mapping; fix the file by hand first`);
  const policies = seqAt(doc, top, 'policies');
  const rule = {
    action: 'allow',
    when: { command_matches: patterns },
    ...(message !== undefined && message !== '' ? { message } : {}),
    added: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
  const existing = policies.items.find((item): item is YAMLMap => isMap(item) && scalarValue(item.get('name', true)) === name);
  if (existing) {
    appendBlock(seqAt(doc, existing, 'rules'), doc.createNode(rule));
  } else {
    const policy = doc.createNode({
      name,
      description: 'Commands a human allowed with rampart allow',
      match: { tool: ['exec'] },
      rules: [rule],
    });
    (policy.getIn(['match', 'tool'], true) as YAMLSeq).flow = true;
    appendBlock(policies, policy);
  }
  const text = doc.toString({ lineWidth: 0 });
  const parsed = parseOverridesText(file, text);
  const policy = parsed.policies.find((p) => p.name === name);
  return { text, line: policy?.rules.at(-1)?.line, parsed };
}

/** The rule just appended, alone in its policy (proves the patterns match, whatever else the file holds). */
export function newRuleAlone(edit: Edit): PolicySet {
  const policy = edit.parsed.policies.find((p) => p.name === allowPolicyName(edit.parsed.source));
  if (!policy || policy.rules.length === 0) throw new Error(`policy ${allowPolicyName(edit.parsed.source)} vanished from the edited file`);
  return setOf([{ ...policy, rules: [policy.rules.at(-1)!] }], edit.parsed.source);
}

/** The sequence under `key`, created when absent or null (the loader accepted the file, so nothing else is there). */
function seqAt(doc: Document, map: YAMLMap, key: string): YAMLSeq {
  const node: unknown = map.get(key, true);
  if (isSeq(node)) return node;
  const created = doc.createNode([]) as YAMLSeq;
  map.set(key, created);
  return created;
}

function appendBlock(seq: YAMLSeq, node: unknown): void {
  // `rules: []` is a flow sequence: written items would otherwise come out inline.
  if (seq.items.length === 0) seq.flow = false;
  seq.items.push(node as never);
}

function scalarValue(node: unknown): unknown {
  return isScalar(node) ? node.value : undefined;
}
