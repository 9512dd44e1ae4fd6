// POL-FILE-1..3 and POL-SRC-1..5: strict loading with file:line: reason errors, and the stores.
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { tempDir } from '../../../tests/helpers.ts';
import { referenceFile, referenceTest } from '../../../tests/reference-test.ts';
import { loadPolicyFile, loadServePolicies, PolicyLoadError, watchTargets } from '../index.ts';

const dir = tempDir();
let counter = 0;
function write(yaml: string, name = `p${counter++}.yaml`, where = dir): string {
  const file = path.join(where, name);
  fs.writeFileSync(file, yaml);
  return file;
}
function loadError(t: import('ava').ExecutionContext, yaml: string, line: number | undefined, reason: RegExp) {
  const file = write(yaml);
  const err = t.throws(() => loadPolicyFile(file), { instanceOf: PolicyLoadError });
  t.is(err?.file, file);
  t.is(err?.line, line, err?.message);
  t.regex(err?.reason ?? '', reason);
  t.true(err?.message.startsWith(`${file}${line !== undefined ? `:${line}` : ''}: `));
}

referenceTest('loads the reference standard.yaml unmodified', (t) => {
  const set = loadPolicyFile(referenceFile('standard.yaml'));
  t.is(set.policyCount, 48);
  t.is(set.ruleCount, 84);
  t.is(set.defaultAction, 'deny');
});

const UNKNOWN_KEYS: Array<[string, string, number, RegExp]> = [
  ['top level', 'versoin: "1"\n', 1, /unknown key "versoin" in the top level/],
  ['policy', 'policies:\n  - name: a\n    prio: 3\n', 3, /unknown key "prio"/],
  ['match', 'policies:\n  - name: a\n    match: { tools: exec }\n', 3, /unknown key "tools" in policy "a" match/],
  ['rule', 'policies:\n  - name: a\n    rules:\n      - action: deny\n        mesage: x\n', 5, /unknown key "mesage"/],
  ['when', 'policies:\n  - name: a\n    rules:\n      - action: deny\n        when:\n          command_match: ["x"]\n', 6, /unknown key "command_match"/],
];
for (const [where, yaml, line, reason] of UNKNOWN_KEYS) {
  test(`POL-FILE-1..3 unknown key in ${where} is a load error with its line`, (t) => loadError(t, yaml, line, reason));
}

test('POL-FILE-2 require_approval and unknown actions are rejected', (t) => {
  loadError(t, 'policies:\n  - name: a\n    rules:\n      - action: require_approval\n', 4, /removed in v0\.9\.9/);
  loadError(t, 'policies:\n  - name: a\n    rules:\n      - action: block\n', 4, /unknown action "block"/);
  loadError(t, 'default_action: require_approval\n', 1, /removed/);
});

test('POL-FILE-1 only version "" or "1"', (t) => {
  loadError(t, 'version: "2"\n', 1, /unsupported version "2"/);
  t.notThrows(() => loadPolicyFile(write('version: 1\npolicies: []\n')));
});

test('POL-WHEN-1 scalar where a list is required is an error', (t) => {
  loadError(t, 'policies:\n  - name: a\n    rules:\n      - action: deny\n        when:\n          command_matches: "rm *"\n', 6, /must be a list/);
});

test('POL-LOAD-1 blank command_contains entries are rejected', (t) => {
  loadError(
    t,
    'policies:\n  - name: a\n    rules:\n      - action: deny\n        when:\n          command_contains:\n            - "ok"\n            - "  "\n',
    8,
    /blank entry/,
  );
});

test('POL-LOAD-1 glob length limits: 8192 bytes, 256 with "**", at most two "**"', (t) => {
  const rule = (pattern: string) => `policies:\n  - name: a\n    rules:\n      - action: deny\n        when:\n          command_matches: ["${pattern}"]\n`;
  loadError(t, rule('x'.repeat(8193)), 6, /8193 bytes; the limit is 8192/);
  t.notThrows(() => loadPolicyFile(write(rule('x'.repeat(8192)))));
  loadError(t, rule(`**${'x'.repeat(255)}`), 6, /the limit for such patterns is 256/);
  loadError(t, rule('**a**b**'), 6, /more than two "\*\*"/);
});

test('POL-EVAL-4 duplicate policy names and missing names are errors', (t) => {
  loadError(t, 'policies:\n  - name: a\n  - name: a\n', 3, /duplicate policy name "a" \(first defined at line 2\)/);
  loadError(t, 'policies:\n  - description: x\n', 2, /has no name/);
});

test('POL-FILE-1..3 multi-document YAML, invalid YAML, empty files and files over 1 MiB are errors', (t) => {
  loadError(t, 'policies: []\n---\npolicies: []\n', 2, /more than one YAML document/);
  loadError(t, 'policies: [\n', 2, /invalid YAML/);
  loadError(t, '', 1, /no YAML document/);
  loadError(t, `# ${'x'.repeat(1024 * 1024)}\npolicies: []\n`, undefined, /larger than 1 MiB/);
  const missing = path.join(dir, 'missing.yaml');
  t.throws(() => loadPolicyFile(missing), { instanceOf: PolicyLoadError, message: `${missing}: file not found` });
});

test('POL-WHEN-1..6 call_count and regex validation', (t) => {
  const when = (w: string) => `policies:\n  - name: a\n    rules:\n      - action: deny\n        when:\n          ${w}\n`;
  loadError(t, when('call_count: { gte: 1001, window: 1h }'), 6, /between 0 and 1000/);
  loadError(t, when('call_count: { gte: 5, window: 721h }'), 6, /at most 720h/);
  loadError(t, when('response_matches: ["(a+)+"]'), 6, /nested quantifiers/);
  loadError(t, when('response_matches: ["(unclosed"]'), 6, /invalid regex/);
});

test('POL-SRC-1..5 serve store without --config: built-in policy plus ~/.rampart/policies, dir replaces by name', (t) => {
  const home = tempDir();
  const policiesDir = path.join(home, '.rampart', 'policies');
  fs.mkdirSync(policiesDir, { recursive: true });
  write('policies:\n  - { name: allow-unmatched, rules: [{ action: deny, message: mine }] }\n', 'a.yaml', policiesDir);
  write('policies:\n  - { name: extra, rules: [{ action: watch }] }\n', 'b.yml', policiesDir);
  const set = loadServePolicies({ home });
  t.is(set.sources[0], 'builtin:standard');
  t.deepEqual(set.sources.slice(1), [path.join(policiesDir, 'a.yaml'), path.join(policiesDir, 'b.yml')]);
  t.is(set.policies.filter((p) => p.name === 'allow-unmatched').length, 1);
  t.true(watchTargets({ home }).includes(policiesDir));
});

test('POL-SRC-1..5 serve store with --config and --config-dir: primary wins name clashes; dir duplicates are errors', (t) => {
  const configDir = tempDir();
  const primary = write('default_action: allow\npolicies:\n  - { name: shared, rules: [{ action: deny, message: primary }] }\n');
  write(
    'default_action: deny\npolicies:\n  - { name: shared, rules: [{ action: allow }] }\n  - { name: other, rules: [{ action: watch }] }\n',
    'x.yaml',
    configDir,
  );
  const set = loadServePolicies({ configFile: primary, configDir });
  t.is(set.defaultAction, 'allow');
  t.deepEqual(
    set.policies.map((p) => p.name),
    ['shared', 'other'],
  );
  t.is(set.policies[0]!.rules[0]!.message, 'primary');
  write('policies:\n  - { name: other, rules: [{ action: deny }] }\n', 'y.yaml', configDir);
  t.throws(() => loadServePolicies({ configFile: primary, configDir }), { instanceOf: PolicyLoadError, message: /duplicate policy name "other"/ });
  t.deepEqual(watchTargets({ configFile: primary, configDir }), [primary, configDir]);
});

test('POL-EVAL-9..10 an empty serve store is an error', (t) => {
  const empty = write('policies: []\n');
  t.throws(() => loadServePolicies({ configFile: empty }), { instanceOf: PolicyLoadError, message: /empty policy set/ });
});
