// `rampart test` and `rampart bench`, run as a user would: the CLI in a real process with a
// temporary HOME, real policy files and corpora (and the reference's, where tests/reference.ts finds them).
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { repoRoot, run, tempDir } from '../../../tests/helpers.ts';
import { referenceFile, referenceTest } from '../../../tests/reference-test.ts';

const home = tempDir();
/** A policy shaped like the reference's standard.yaml: a destructive-command deny, then a catch-all allow. */
const standard = path.join(tempDir(), 'standard.yaml');
fs.writeFileSync(
  standard,
  `version: "1"
default_action: deny
policies:
  - name: block-destructive
    match: { tool: [exec] }
    rules: [{ action: deny, message: Destructive command blocked, when: { command_matches: ["rm -rf /"] } }]
  - name: watch-env-access
    match: { tool: [exec] }
    rules: [{ action: watch, message: Environment variable dump logged, when: { command_matches: ["env"] } }]
  - name: allow-unmatched
    priority: 10000
    rules: [{ action: allow, message: No matching standard policy rule, when: { default: true } }]
`,
);
/** A small attack corpus (format version 2) with one case of each expectation and OS. */
const corpus = path.join(tempDir(), 'corpus.yaml');
fs.writeFileSync(
  corpus,
  `version: "2"
name: small corpus
cases:
  - { id: DESTRUCT-001, name: wipe root, category: destructive, severity: critical, tool: exec, input: { command: "rm -rf /" }, expected: deny }
  - { id: CRED-001, name: env dump, category: credentials, severity: medium, tool: exec, input: { command: env }, expected: watch }
  - { id: EXEC-001, name: npm install, category: exec, severity: high, tool: exec, input: { command: npm install left-pad }, expected: watch }
  - { id: SAFE-001, name: git status, category: safe, severity: medium, tool: exec, input: { command: git status }, expected: allow }
  - { id: WIN-001, name: windows only, category: destructive, severity: high, os: windows, tool: exec, input: { command: "rd /s /q C:" }, expected: deny }
`,
);
function rampart(args: string[], env: NodeJS.ProcessEnv = {}) {
  return run(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src', 'cli.ts'), ...args], {
    cwd: repoRoot,
    env: { ...process.env, HOME: home, ...env },
  });
}

test('rampart test "<cmd>" prints the decision and exits 1 on deny', async (t) => {
  const denied = await rampart(['test', '--config', standard, 'rm -rf /']);
  t.is(denied.code, 1, denied.stderr);
  t.regex(denied.stdout, /^Decision: deny$/m);
  t.regex(denied.stdout, /^Message: {2}Destructive command blocked$/m);
  t.regex(denied.stdout, /^Policies: block-destructive, /m);
  const allowed = await rampart(['test', '--config', standard, '--json', 'git status']);
  t.is(allowed.code, 0, allowed.stderr);
  const json = JSON.parse(allowed.stdout);
  t.is(json.action, 'allow');
  t.deepEqual(json.matchedPolicies, ['allow-unmatched']);
});

test('rampart test uses the built-in policy plus ~/.rampart/policies without --config', async (t) => {
  const dir = path.join(home, '.rampart', 'policies');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'team.yaml'),
    'policies:\n  - name: team-no-deploy\n    priority: 1\n    rules: [{ action: deny, message: no deploys from agents, when: { command_matches: ["make deploy*"] } }]\n',
  );
  const result = await rampart(['test', 'make deploy prod']);
  t.is(result.code, 1, result.stderr);
  t.regex(result.stdout, /no deploys from agents/);
  const other = await rampart(['test', '--tool', 'exec', '--agent', 'a', '--session', 's', 'echo hello']);
  t.not(other.code, 1, other.stdout + other.stderr);
});

test('rampart test <suite.yaml> runs a suite: counts, --run, --json, exit code', async (t) => {
  const dir = tempDir();
  const policy = path.join(dir, 'p.yaml');
  fs.writeFileSync(
    policy,
    'default_action: allow\npolicies:\n  - name: no-rm\n    rules: [{ action: deny, message: "no rm", when: { command_matches: ["rm *"] } }]\n',
  );
  const suite = path.join(dir, 'suite.yaml');
  fs.writeFileSync(
    suite,
    `policy: p.yaml
tests:
  - { name: rm denied, tool: exec, params: { command: "rm x" }, expect: deny, expect_message: "no*" }
  - { name: ls allowed, tool: exec, params: { command: ls }, expect: allow }
  - { name: wrong on purpose, tool: exec, params: { command: "rm y" }, expect: allow }
`,
  );
  const all = await rampart(['test', suite]);
  t.is(all.code, 1);
  t.regex(all.stdout, /^FAIL {2}wrong on purpose: expected allow, got deny \(no rm\)$/m);
  t.regex(all.stdout, /^2 passed, 1 failed \(3 total\)$/m);
  const filtered = await rampart(['test', suite, '--run', 'rm*', '--json']);
  t.is(filtered.code, 0, filtered.stdout);
  const json = JSON.parse(filtered.stdout);
  t.deepEqual([json.passed, json.failed, json.errors, json.total], [1, 0, 0, 1]);
});

test('rampart test accepts a policy file with inline tests', async (t) => {
  const file = path.join(tempDir(), 'inline.yml');
  fs.writeFileSync(file, 'policies:\n  - { name: ok, rules: [{ action: allow }] }\ntests:\n  - { name: anything, params: { command: ls }, expect: allow }\n');
  const result = await rampart(['test', file]);
  t.is(result.code, 0, result.stdout + result.stderr);
  t.regex(result.stdout, /^1 passed, 0 failed \(1 total\)$/m);
});

test('rampart test reports a broken policy file with file:line: reason and exit 2', async (t) => {
  const file = path.join(tempDir(), 'bad.yaml');
  fs.writeFileSync(file, 'policies:\n  - name: a\n    rules:\n      - action: require_approval\n');
  const result = await rampart(['test', '--config', file, 'ls']);
  t.is(result.code, 2);
  t.is(result.stderr.trim(), `rampart: ${file}:4: policy "a" rules[0]: action "require_approval" was removed in v0.9.9; use "ask"`);
});

test('rampart bench prints the weighted coverage and misses; --min-coverage sets the exit code', async (t) => {
  const result = await rampart(['bench', '--corpus', corpus, '--policy', standard, '--os', 'linux']);
  t.is(result.code, 0, result.stderr);
  // Weights: critical 3, high 2, medium 1; EXEC-001 (high) is missed, the windows case is left out.
  t.regex(result.stdout, /^Coverage: 71\.4% weighted \(5\/7\); 3\/4 cases covered$/m);
  t.regex(result.stdout, /^ {2}EXEC-001 \[high\] expected watch, got allow: npm install$/m);
  const strict = await rampart(['bench', '--corpus', corpus, '--policy', standard, '--os', 'all', '--strict', '--json', '--min-coverage', '99']);
  t.is(strict.code, 1);
  const json = JSON.parse(strict.stdout);
  t.is(json.total, 5);
  t.true(json.coverage < 99);
  t.regex(strict.stderr, /below --min-coverage 99%/);
  const bad = await rampart(['bench', '--corpus', corpus, '--os', 'plan9']);
  t.not(bad.code, 0);
});

referenceTest("rampart bench scores the reference's standard.yaml on its own corpus", async (t) => {
  const reference = ['--corpus', referenceFile('bench-corpus.yaml'), '--policy', referenceFile('standard.yaml')];
  const result = await rampart(['bench', ...reference, '--os', 'linux']);
  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, /^Coverage: \d+\.\d% weighted \(\d+\/\d+\); \d+\/94 cases covered$/m);
  t.regex(result.stdout, /^ {2}EXEC-001 \[high\] expected watch, got allow: /m);
  const all = await rampart(['bench', ...reference, '--os', 'all', '--json']);
  t.is(JSON.parse(all.stdout).total, 124);
});
