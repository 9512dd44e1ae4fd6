// The condition registry (conditions.ts) is the single source of `when:` kinds: the loader
// accepts exactly its keys, it evaluates them in the reference's order, and a kind registered
// only here (a toy `workdir_matches`) is parsed, matched, left to the prefilter's "always
// evaluate" and kept out of the decision cache exactly as its entry says, with no other file
// knowing it. Plus the POL-WHEN-1..6 combination rules on real policy files.
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { tempDir } from '../../../tests/helpers.ts';
import { CONDITION_KINDS, compileCondition, defineKind, whenKeys, type Condition, type ConditionKind } from '../conditions.ts';
import { evaluate } from '../evaluate.ts';
import { compileGlob, compilePathGlob, type GlobSet } from '../glob.ts';
import { loadPolicyFile, PolicyLoadError, type PolicySet, type ToolCall } from '../index.ts';
import type { Rule } from '../model.ts';
import { Prefilter } from '../prefilter.ts';
import type { Action } from '../types.ts';
import { YamlReader } from '../yaml-reader.ts';

const dir = tempDir();
let counter = 0;
function policyFile(yaml: string): string {
  const file = path.join(dir, `c${counter++}.yaml`);
  fs.writeFileSync(file, yaml);
  return file;
}
const ruleWith = (when: string, action = 'deny') =>
  `default_action: allow\npolicies:\n  - name: p\n    rules:\n      - action: ${action}\n        message: fired\n        when: ${when}\n`;
const exec = (command: string, params: Record<string, unknown> = {}, extra: Partial<ToolCall> = {}): ToolCall => ({
  agent: '',
  session: '',
  tool: 'exec',
  params: { command, ...params },
  ...extra,
});

/** The `allowed:` list of an unknown-key error in `when:`. */
function acceptedWhenKeys(load: () => unknown): string[] {
  const err = (() => {
    try {
      load();
    } catch (e) {
      return e as Error;
    }
    throw new Error('expected a load error');
  })();
  const allowed = /unknown key "\w+" in .* when \(allowed: ([^)]*)\)/.exec(err.message);
  if (!allowed) throw new Error(`unexpected message: ${err.message}`);
  return allowed[1]!.split(', ');
}

test('the loader accepts exactly the registry keys and `default` in when:, each key owned by one kind', (t) => {
  const accepted = acceptedWhenKeys(() => loadPolicyFile(policyFile(ruleWith('{ workdir_matches: ["/x"] }'))));
  const owned = CONDITION_KINDS.flatMap((k) => k.keys);
  t.deepEqual(accepted, [...owned, 'default']);
  t.deepEqual(whenKeys(), accepted);
  t.is(new Set(owned).size, owned.length, 'a key owned by two kinds');
});

test('the registry covers the POL-WHEN-1..6 field table, in the reference evaluation order', (t) => {
  // POL-WHEN-1..6, field column (response_* are post-call only; default is not a kind).
  const documented = [
    'command_matches',
    'command_not_matches',
    'command_contains',
    'command_env_assignments',
    'path_matches',
    'path_not_matches',
    'url_matches',
    'domain_matches',
    'session_matches',
    'session_not_matches',
    'agent_depth',
    'tool_param_matches',
    'call_count',
    'response_matches',
    'response_not_matches',
    'default',
  ];
  t.deepEqual([...whenKeys()].sort(), [...documented].sort());
  // "Evaluation order of groups: command, env-assignments, path, url, domain, agent_depth, tool_param, call_count, session."
  t.deepEqual(
    CONDITION_KINDS.filter((k) => k.match !== undefined).map((k) => k.name),
    ['command', 'command_env_assignments', 'path', 'url', 'domain', 'agent_depth', 'tool_param', 'call_count', 'session'],
  );
  t.deepEqual(
    CONDITION_KINDS.filter((k) => k.match === undefined).map((k) => k.name),
    ['response'],
  );
  t.deepEqual(
    CONDITION_KINDS.filter((k) => k.uncacheable).map((k) => k.name),
    ['agent_depth', 'tool_param', 'call_count'],
  );
  t.deepEqual(
    CONDITION_KINDS.filter((k) => k.gate).map((k) => k.name),
    ['command', 'command_env_assignments'],
  );
});

// --- A kind that exists only in this test -------------------------------------------------

/** Hypothetical `workdir_matches`: path globs over params.workdir (part of the decision cache key). */
const WORKDIR = defineKind<GlobSet>({
  name: 'workdir',
  keys: ['workdir_matches'],
  parse: (f) => f.globs('workdir_matches', compilePathGlob),
  isPositive: () => true,
  match: (globs, view) => typeof view.call.params.workdir === 'string' && globs.test(view.call.params.workdir),
});

/** Only vetoes: a `ticket_not_matches` glob over params.ticket, which is not in the cache key. */
function ticketKind(uncacheable: boolean): ConditionKind<unknown> {
  return defineKind<GlobSet>({
    name: 'ticket',
    keys: ['ticket_not_matches'],
    parse: (f) => f.globs('ticket_not_matches'),
    isPositive: () => false,
    match: (globs, view) => !globs.test(String(view.call.params.ticket ?? '')),
    uncacheable,
  });
}

function compileWhen(yaml: string, kinds: readonly ConditionKind<unknown>[]): Condition | undefined {
  const { reader, root } = YamlReader.parse('toy.yaml', yaml);
  return compileCondition(reader, root, 'toy when', kinds);
}

/** A policy set of one exec policy with these rules (default action: allow). */
function setOf(rules: Array<{ action: Action; when: Condition | undefined }>): PolicySet {
  const built: Rule[] = rules.map((r, i) => ({ action: r.action, when: r.when, message: `rule ${i}`, once: false, key: `toy#${i}` }));
  const policy = {
    name: 'toy',
    description: '',
    priority: 100,
    enabled: true,
    match: { agent: compileGlob('*'), session: compileGlob('*'), tools: [compileGlob('exec')] },
    rules: built,
    source: 'toy.yaml',
  };
  return { defaultAction: 'allow', policyCount: 1, ruleCount: built.length, sources: ['toy.yaml'], policies: [policy], tests: [] };
}

test('a toy kind registered in a test is accepted, validated with file:line, and matched', (t) => {
  const kinds = [...CONDITION_KINDS, WORKDIR];
  t.deepEqual(
    acceptedWhenKeys(() => compileWhen('{ nope: 1 }', kinds)),
    whenKeys(kinds),
  );
  t.true(whenKeys(kinds).includes('workdir_matches'));
  const err = t.throws(() => compileWhen('session_matches: ["*"]\nworkdir_matches: "/repo"\n', kinds), { instanceOf: PolicyLoadError });
  t.is(err?.line, 2);
  t.regex(err?.reason ?? '', /toy when\.workdir_matches must be a list/);
  t.is(compileWhen('{ workdir_matches: [] }', kinds), undefined, 'an empty list sets nothing');

  const set = setOf([{ action: 'deny', when: compileWhen('{ workdir_matches: ["/etc/**"] }', kinds) }]);
  t.is(evaluate(set, exec('ls', { workdir: '/etc/ssh' })).action, 'deny');
  // Cached decisions stay right: workdir is part of the cache key.
  t.is(evaluate(set, exec('ls', { workdir: '/home/me' })).action, 'allow');
  t.is(evaluate(set, exec('ls', { workdir: '/etc/ssh' })).action, 'deny');
  // ANDed with the other kinds, in registry order.
  const both = setOf([{ action: 'deny', when: compileWhen('{ command_matches: ["ls *"], workdir_matches: ["/etc/**"] }', kinds) }]);
  t.is(evaluate(both, exec('ls -l', { workdir: '/etc/ssh' })).action, 'deny');
  t.is(evaluate(both, exec('cat x', { workdir: '/etc/ssh' })).action, 'allow');
});

test('the prefilter gates a rule only through kinds that declare a gate', (t) => {
  const kinds = [...CONDITION_KINDS, WORKDIR];
  const set = setOf([
    { action: 'deny', when: compileWhen('{ workdir_matches: ["/etc/**"] }', kinds) },
    { action: 'deny', when: compileWhen('{ workdir_matches: ["/etc/**"], command_matches: ["zzz *"] }', kinds) },
  ]);
  const prefilter = new Prefilter(set.policies);
  const token = prefilter.scan('ls -l')!;
  t.true(prefilter.mayMatchRule(token, 0, 0), 'no gate: always evaluated');
  t.false(prefilter.mayMatchRule(token, 0, 1), 'gated by its command group');
  t.true(prefilter.mayMatchRule(prefilter.scan('zzz top')!, 0, 1));
  t.is(evaluate(set, exec('ls -l', { workdir: '/etc/ssh' })).message, 'rule 0');
});

test('a veto-only toy kind never matches alone, vetoes others, and its uncacheable flag keeps it out of the decision cache', (t) => {
  const kinds = [...CONDITION_KINDS, ticketKind(true)];
  const alone = setOf([{ action: 'deny', when: compileWhen('{ ticket_not_matches: ["OPS-*"] }', kinds) }]);
  t.is(evaluate(alone, exec('ls', { ticket: 'DEV-1' })).action, 'allow');
  const vetoed = setOf([{ action: 'deny', when: compileWhen('{ command_matches: ["rm *"], ticket_not_matches: ["OPS-*"] }', kinds) }]);
  t.is(evaluate(vetoed, exec('rm x', { ticket: 'DEV-1' })).action, 'deny');
  t.is(evaluate(vetoed, exec('rm x', { ticket: 'OPS-7' })).action, 'allow');
  t.is(evaluate(vetoed, exec('rm x', { ticket: 'DEV-1' })).action, 'deny');
  // The flag is what does it: a kind that wrongly claims to be cacheable gets the cached answer.
  const lying = setOf([
    { action: 'deny', when: compileWhen('{ command_matches: ["rm *"], ticket_not_matches: ["OPS-*"] }', [...CONDITION_KINDS, ticketKind(false)]) },
  ]);
  t.is(evaluate(lying, exec('rm y', { ticket: 'DEV-1' })).action, 'deny');
  t.is(evaluate(lying, exec('rm y', { ticket: 'OPS-7' })).action, 'deny');
});

// --- POL-WHEN-1..6 combination rules, through the real loader ---------------------------------------

const decide = (when: string, call: ToolCall, action = 'deny') => evaluate(loadPolicyFile(policyFile(ruleWith(when, action))), call).message;
const read = (pathValue: string, extra: Record<string, unknown> = {}): ToolCall => ({
  agent: '',
  session: '',
  tool: 'read',
  params: { path: pathValue, ...extra },
});

test('POL-WHEN-1..6 veto-only kinds and response_* never make a rule match; with a positive kind they veto', (t) => {
  for (const when of ['{ path_not_matches: ["/etc/**"] }', '{ response_matches: ["secret"] }', '{ response_not_matches: ["x"], command_not_matches: ["y"] }']) {
    t.is(decide(when, read('/home/x')), 'no matching rule; using default action', when);
    t.is(decide(when, exec('ls')), 'no matching rule; using default action', when);
  }
  t.is(decide('{ command_matches: ["ls*"], response_matches: ["secret"] }', exec('ls')), 'fired');
  t.is(decide('{ path_matches: ["/etc/**"], path_not_matches: ["/etc/hosts"] }', read('/etc/passwd')), 'fired');
  t.is(decide('{ path_matches: ["/etc/**"], path_not_matches: ["/etc/hosts"] }', read('/etc/hosts')), 'no matching rule; using default action');
  t.is(decide('{ command_matches: ["ls*"], session_not_matches: ["ci-*"] }', exec('ls', {}, { session: 'ci-1' })), 'no matching rule; using default action');
  t.is(decide('{ command_env_assignments: ["LD_*"], command_not_matches: ["LD_LIBRARY_PATH=* *"] }', exec('LD_PRELOAD=x ls')), 'fired');
  t.is(
    decide('{ command_env_assignments: ["LD_*"], command_not_matches: ["LD_LIBRARY_PATH=* *"] }', exec('LD_LIBRARY_PATH=lib ls')),
    'no matching rule; using default action',
  );
});

test('POL-WHEN-1..6 lists that are empty or null set nothing: such a when is unconditional', (t) => {
  t.is(decide('{ command_matches: [], session_not_matches: null, default: false }', exec('anything')), 'fired');
  t.is(decide('{ tool_param_matches: {} }', read('/x')), 'fired');
  // agent_depth: {} is present (and positive): it matches every depth.
  t.is(decide('{ agent_depth: {}, command_not_matches: ["ls"] }', exec('ls')), 'no matching rule; using default action');
  t.is(decide('{ agent_depth: {}, command_not_matches: ["ls"] }', exec('pwd')), 'fired');
});

test('POL-WHEN-1..6 url, domain and tool_param kinds on non-exec tools', (t) => {
  const fetch = (url: string, params: Record<string, unknown> = {}): ToolCall => ({ agent: '', session: '', tool: 'fetch', params: { url, ...params } });
  t.is(decide('{ url_matches: ["https://evil.*"] }', fetch('https://evil.com/x')), 'fired');
  t.is(decide('{ domain_matches: ["*.evil.com"] }', fetch('https://A.EVIL.com./x')), 'fired');
  t.is(decide('{ domain_matches: ["*.evil.com"] }', fetch('https://evil.com/x')), 'no matching rule; using default action');
  t.is(decide('{ url_matches: ["*"], tool_param_matches: { Method: "post" } }', fetch('https://x', { method: 'POST' })), 'fired');
  t.is(
    decide('{ url_matches: ["*"], tool_param_matches: { Method: "post" } }', fetch('https://x', { method: 'GET' })),
    'no matching rule; using default action',
  );
});
