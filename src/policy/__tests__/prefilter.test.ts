// The exec prefilter (prefilter.ts) must never change a decision. Differential test: every
// command of the reference corpus and suites, of our built-in suite, and tricky re-spellings of
// each (quotes, escapes, case, wrappers, substitutions, launchers) is evaluated with the
// prefilter on and off, against the reference standard.yaml, our built-in policy and a policy
// with granting-heavy rules; the decisions (action, message, matched policies, suggestions)
// must be identical.
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { tempDir } from '../../../tests/helpers.ts';
import { referenceAvailable, referenceFile, referenceTest } from '../../../tests/reference-test.ts';
import { builtinPolicyPath } from '../../util/paths.ts';
import { clearCommandCaches, evaluate } from '../evaluate.ts';
import { loadCorpus, loadPolicyFile, loadSuite, type PolicySet } from '../index.ts';
import { literalRuns, Prefilter, RULE_EXCLUSIONS, RULE_GLOBS } from '../prefilter.ts';
import { EDGE_CASES, respellings } from './respellings.ts';

/** Our own suite always; the reference's corpus and suite when tests/reference.ts finds them. */
const suiteFiles = [builtinPolicyPath.replace(/\.yaml$/, '.tests.yaml'), ...(referenceAvailable() ? [referenceFile('rampart-tests.yaml')] : [])];

function baseCommands(): string[] {
  const commands = referenceAvailable()
    ? loadCorpus(referenceFile('bench-corpus.yaml'))
        .cases.filter((c) => c.tool === 'exec')
        .map((c) => c.input.command!)
    : [];
  for (const file of suiteFiles) {
    for (const t of loadSuite(file).tests) if (typeof t.params.command === 'string') commands.push(t.params.command);
  }
  return [...new Set([...commands, ...EDGE_CASES])];
}

/** A policy of our own with granting rules of every kind, contains entries and env globs. */
function grantingPolicy(): string {
  const file = path.join(tempDir(), 'granting.yaml');
  fs.writeFileSync(
    file,
    `version: "1"
default_action: deny
policies:
  - name: everyday
    match: { tool: exec }
    rules:
      - action: allow
        when: { command_matches: ["git *", "npm test", "ls **", "cat *", "echo *", "/**/bin/*"], command_not_matches: ["git push *"] }
        message: everyday
      - action: watch
        when: { command_contains: ["curl", "npm i"] }
        message: network
  - name: composite
    match: { tool: exec }
    rules:
      - action: webhook
        when: { command_matches: ["curl ** | bash", "*wget*"] }
        webhook: { url: "http://127.0.0.1:9/hook" }
  - name: env
    match: { tool: exec }
    rules:
      - action: ask
        when: { command_env_assignments: ["FOO", "LD_*"] }
        message: env
      - action: allow
        when: { command_env_assignments: ["BAR?"] }
  - name: restrictive
    match: { tool: exec }
    rules:
      - action: deny
        when: { command_matches: ["rm -rf /**", "*shadow*", "[s]udo *"], command_not_matches: ["rm -rf /tmp/**"] }
        message: danger
      - action: ask
        when: { command_contains: ["Powershell", "^"] }
        message: odd
      - action: deny
        when: { command_matches: ["*"], command_not_matches: ["*e*"] }
        message: no e
  - name: mixed
    match: { tool: exec }
    rules:
      - action: deny
        when: { command_matches: ["nc -e *", "*--upload-file*"], command_contains: ["-T ~/.ssh/", "push"], command_not_matches: ["*/bin/true*", "git push -n*"] }
        message: mixed
`,
  );
  return file;
}

function decisionsDiffer(set: PolicySet, command: string): string | undefined {
  const call = { agent: '*', session: '', tool: 'exec', params: { command } };
  clearCommandCaches();
  const { evalDurationUs: _a, ...full } = evaluate(set, call, { prefilter: false, decisionCache: false });
  clearCommandCaches();
  const { evalDurationUs: _b, ...filtered } = evaluate(set, call, { prefilter: true, decisionCache: false });
  const a = JSON.stringify(full);
  const b = JSON.stringify(filtered);
  return a === b ? undefined : `${JSON.stringify(command)}: without prefilter ${a}, with ${b}`;
}

const policies: Array<[string, () => string, typeof referenceTest]> = [
  ['reference standard.yaml', () => referenceFile('standard.yaml'), referenceTest],
  ['built-in standard.yaml', () => builtinPolicyPath, (title, impl) => test(title, impl)],
  ['granting-heavy policy', grantingPolicy, (title, impl) => test(title, impl)],
];

for (const [label, file, register] of policies) {
  register(`prefilter on and off give identical decisions: corpus, suites and re-spellings against the ${label}`, (t) => {
    const set = loadPolicyFile(file());
    const commands = baseCommands().flatMap(respellings);
    t.true(commands.length > 5000, `only ${commands.length} commands`);
    const differences = commands.map((c) => decisionsDiffer(set, c)).filter((d) => d !== undefined);
    t.deepEqual(differences.slice(0, 10), []);
    // Not vacuous: the commands reach every kind of outcome.
    const actions = new Set(commands.map((command) => evaluate(set, { agent: '*', session: '', tool: 'exec', params: { command } }).action));
    t.true(actions.has('deny') && actions.has('allow'), [...actions].join(','));
  });
}

referenceTest('the prefilter skips policies a plain command cannot match, and keeps those it might', (t) => {
  const set = loadPolicyFile(referenceFile('standard.yaml'));
  const inScope = set.policies.filter((p) => p.match.tools.length === 0 || p.match.tools.some((g) => g.test('exec')));
  const prefilter = new Prefilter(inScope);
  const selfModification = inScope.findIndex((p) => p.name === 'block-self-modification');
  t.true(selfModification >= 0);
  const marks = (command: string) => {
    const token = prefilter.scan(command);
    return token === undefined ? undefined : prefilter.mayMatchPolicy(token, selfModification);
  };
  t.is(marks('git status'), false);
  t.is(marks('ls -la src'), false);
  // Quotes, escapes and case do not hide the literal from the prefilter.
  t.is(marks('rampart serve'), true);
  t.is(marks("r'a'mpart SERVE"), true);
  t.is(marks('ra\\mpart serve'), true);
  t.is(marks('/opt/bin/RAMPART setup x'), true);
  // Control and non-ASCII characters: no prefilter, every rule is evaluated.
  t.is(marks('rampart\x1b[0m serve'), undefined);
  t.is(marks('echo café'), undefined);
  // A token from an earlier scan no longer vouches for anything.
  const token = prefilter.scan('git status')!;
  prefilter.scan('ls');
  t.true(prefilter.mayMatchPolicy(token, selfModification));
});

test('the prefilter tells which glob groups of a surviving rule can match', (t) => {
  const set = loadPolicyFile(grantingPolicy());
  const inScope = set.policies.filter((p) => p.match.tools.length === 0 || p.match.tools.some((g) => g.test('exec')));
  const prefilter = new Prefilter(inScope);
  const restrictive = inScope.findIndex((p) => p.name === 'restrictive');
  const mixed = inScope.findIndex((p) => p.name === 'mixed');
  const groups = (command: string, policy: number) => prefilter.globGroupsMayMatch(prefilter.scan(command)!, policy, 0);
  // `rm -rf /tmp/**` needs "tmp": without it the exclusion checks are skipped.
  t.is(groups('rm -rf /', restrictive), RULE_GLOBS);
  t.is(groups('rm -rf /tmp/x && rm -rf /', restrictive), RULE_GLOBS | RULE_EXCLUSIONS);
  // Only the contains entry can hold: the command_matches globs are not tried.
  t.is(groups('git push origin', mixed) & RULE_GLOBS, 0);
  t.is(groups('nc -e sh x', mixed) & RULE_GLOBS, RULE_GLOBS);
  // "-" is part of a run, however the option is spelled.
  t.is(groups('nc e sh x', mixed) & RULE_GLOBS, 0);
  t.is(groups("nc '-e' sh x", mixed) & RULE_GLOBS, RULE_GLOBS);
  // rm aliases write "rm -rf": possible aliases put it in the haystack.
  t.is(groups('rm --recursive --force /', restrictive) & RULE_GLOBS, RULE_GLOBS);
});

test('literal runs: wildcards, classes and unstable characters end a run; lower-cased', (t) => {
  t.deepEqual(literalRuns('rampart serve *', true), ['rampart', 'serve']);
  t.deepEqual(literalRuns('/**/rm -rf ~/.ssh/id_*', true), ['rm', '-rf', '~', 'ssh', 'id_']);
  t.deepEqual(literalRuns('[Ss]udo?X*', true), ['udo', 'x']);
  t.deepEqual(literalRuns('.codex\\hooks.json', false), ['codex', 'hooks', 'json']);
  t.deepEqual(literalRuns('C:\\Windows\\System32', true), ['c:', 'windows', 'system32']);
  t.deepEqual(literalRuns(':(){ :|:& };:', true), [':(){', ':|:', '};:']);
  t.deepEqual(literalRuns('**', true), []);
});
