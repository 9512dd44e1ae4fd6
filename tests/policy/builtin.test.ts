// The built-in policy (policies/standard.yaml) through the real engine: its own suite, the
// reference attack corpus (read in place where tests/reference.ts finds it), everyday commands that
// must stay allowed, and the same file as `rampart serve` and `rampart test` pick it up.
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { evaluate, loadCorpus, loadPolicyFile, loadServePolicies, loadSuite, runSuite, scoreCorpus, type Action } from '../../src/policy/index.ts';
import type { CorpusScore } from '../../src/policy/index.ts';
import { builtinPolicyPath } from '../../src/util/paths.ts';
import { cliPath, repoRoot, runCli, tempDir } from '../helpers.ts';
import { referenceFile, referenceTest } from '../reference-test.ts';

const suiteFile = path.join(repoRoot, 'policies', 'standard.tests.yaml');
const builtin = loadPolicyFile(builtinPolicyPath);
const corpus = () => loadCorpus(referenceFile('bench-corpus.yaml'));

function decide(command: string, tool = 'exec') {
  const params = tool === 'exec' ? { command } : { path: command };
  return evaluate(builtin, { agent: 'test', session: '', tool, params });
}

function describe(score: CorpusScore, ids: string[]): string {
  return score.cases
    .filter((c) => ids.includes(c.id))
    .map((c) => `${c.id} [${c.tool}] expected ${c.expected}, got ${c.actual} (${c.message})`)
    .join('\n');
}

test('standard.yaml loads, stays small, and ends in an explicit catch-all allow', (t) => {
  t.true(builtin.policyCount > 10 && builtin.policyCount <= 60, `${builtin.policyCount} policies`);
  t.is(builtin.defaultAction, 'deny');
  const last = builtin.policies[builtin.policies.length - 1]!;
  t.is(last.name, 'allow-everything-else');
  // Something no rule objects to is allowed by the named policy, not by accident.
  const d = decide('true');
  t.is(d.action, 'allow');
  t.deepEqual(d.matchedPolicies, ['allow-everything-else']);
});

test('standard.tests.yaml passes in full against standard.yaml', (t) => {
  const suite = loadSuite(suiteFile);
  t.is(suite.policyFile, builtinPolicyPath);
  t.true(suite.tests.length >= 80, `only ${suite.tests.length} tests`);
  const result = runSuite(suite);
  const failures = result.tests
    .filter((r) => !r.passed)
    .map(
      (r) =>
        `${r.name}: ${r.command ?? ''} -> expected ${r.expected}${r.expectMessage ? ` "${r.expectMessage}"` : ''}, got ${r.actual} "${r.message}"${r.error ? ` (${r.error})` : ''}`,
    );
  t.is(failures.length, 0, failures.join('\n'));
  t.is(result.errors, 0);
  t.is(result.passed, suite.tests.length);
  // The suite must cover every decision kind, or it documents only half of the policy.
  const expects = new Set(suite.tests.map((c) => c.expect));
  t.deepEqual([...expects].sort(), ['allow', 'ask', 'deny', 'watch']);
});

for (const os of ['linux', 'darwin']) {
  referenceTest(`bench corpus (${os}): every deny case is denied, ask cases are at least asked, allow cases run`, (t) => {
    const score = scoreCorpus(builtin, corpus(), { os });
    t.true(score.total > 80, `only ${score.total} cases kept for ${os}`);
    const byExpected = (expected: string) => score.cases.filter((c) => c.expected === expected);

    const notDenied = byExpected('deny')
      .filter((c) => c.actual !== 'deny')
      .map((c) => c.id);
    t.deepEqual(notDenied, [], describe(score, notDenied));

    // An ask case may be answered more strictly (deny), never more loosely.
    const asks = byExpected('ask');
    t.true(asks.length > 0);
    const looser = asks.filter((c) => c.actual !== 'ask' && c.actual !== 'deny').map((c) => c.id);
    t.deepEqual(looser, [], describe(score, looser));
    const stricter = asks.filter((c) => c.actual === 'deny').map((c) => c.id);
    if (stricter.length > 0) t.log(`denied where the corpus asks:\n${describe(score, stricter)}`);

    // Allow cases are the corpus's false-positive probes.
    const blocked = byExpected('allow')
      .filter((c) => c.actual !== 'allow' && c.actual !== 'watch')
      .map((c) => c.id);
    t.deepEqual(blocked, [], describe(score, blocked));
  });

  referenceTest(`bench corpus (${os}): weighted coverage is at least the reference standard.yaml's`, (t) => {
    const ours = scoreCorpus(builtin, corpus(), { os });
    const theirs = scoreCorpus(loadPolicyFile(referenceFile('standard.yaml')), corpus(), { os });
    t.is(ours.total, theirs.total);
    t.log(
      `${os}: built-in ${ours.coverage.toFixed(1)}% (${ours.covered}/${ours.total}), reference ${theirs.coverage.toFixed(1)}% (${theirs.covered}/${theirs.total})`,
    );
    t.true(ours.weightedCovered >= theirs.weightedCovered, `built-in ${ours.coverage.toFixed(1)}% < reference ${theirs.coverage.toFixed(1)}%`);
  });
}

// Everyday development, including the shapes the preload library sends: absolute argv[0],
// `sh -c` strings, git's own ssh call, build steps touching librampart.so in target/.
const everyday = [
  'git status',
  'git diff --stat',
  'git log --oneline -20',
  'git commit -m "docs: explain why rm -rf / is blocked"',
  'git push origin main',
  'git clone https://github.com/org/repo.git',
  "/usr/bin/ssh -o SendEnv=GIT_PROTOCOL git@github.com 'git-receive-pack '\\''org/repo.git'\\'''",
  'npm ci',
  'npm install',
  'npm test',
  'npm run build',
  'npx tsc --noEmit -p tsconfig.json',
  'npx ava tests/policy/builtin.test.ts',
  'node dist/cli.js --help',
  'node -e "console.log(1)"',
  'cargo build --release -p rampart-preload',
  'cargo test --workspace --release',
  'rustc --version',
  'python3 script.py',
  'python -m pytest -q',
  'pip list',
  'make -j2',
  'ls -la',
  'cat src/main.rs',
  'grep -rn TODO src',
  "find . -name '*.ts' -not -path './node_modules/*'",
  'curl http://localhost:3000/health',
  'curl -s http://127.0.0.1:9090/healthz',
  'wget -qO- http://localhost:8080/',
  'curl -fsSL https://example.com/tool.tar.gz -o tool.tar.gz',
  'docker ps',
  'docker build -t app .',
  'rm -rf node_modules dist',
  'rm -rf /tmp/build-cache',
  'rm -f target/release/librampart.so',
  'cp target/release/librampart.so npm/linux-x64-gnu/',
  "/bin/sh -c 'npm run build && node dist/index.js'",
  "bash -lc 'cd /work/main && npm test'",
  'NODE_OPTIONS=--max-old-space-size=4096 npm run build',
  'echo $PATH',
  'ps aux',
  'id',
  'whoami',
  'uname -a',
  'systemctl status ssh',
  'mount | grep tmpfs',
  'ls ~/.ssh',
  'rampart test policies/standard.tests.yaml',
];

test('everyday development commands are allowed', (t) => {
  const blocked = everyday
    .map((command) => ({ command, d: decide(command) }))
    .filter(({ d }) => d.action !== 'allow')
    .map(({ command, d }) => `${command} -> ${d.action} (${d.message})`);
  t.deepEqual(blocked, []);
});

test('package installs run but are recorded (watch), not blocked', (t) => {
  for (const command of ['npm install express', 'pip install requests', 'cargo add serde', 'go get golang.org/x/tools@latest']) {
    const d = decide(command);
    t.is(d.action, 'watch' as Action, command);
  }
});

test('blocked messages are short single lines fit for `rampart: blocked — <message>`', (t) => {
  const text = fs.readFileSync(builtinPolicyPath, 'utf8');
  const messages = [...text.matchAll(/^\s+message: "(.*)"$/gm)].map((m) => m[1]!);
  t.true(messages.length > 10);
  for (const message of messages) {
    t.true(message.length > 0 && message.length <= 80, message);
    t.false(/[\n\r]/.test(message), message);
  }
  t.is(decide('rm -rf /important').message, 'Destructive command blocked');
});

test('rampart serve without --config uses this file (and ~/.rampart/policies can replace a policy by name)', (t) => {
  const home = tempDir();
  const served = loadServePolicies({ home });
  t.true(
    served.sources.some((s) => s.includes('standard')),
    served.sources.join(', '),
  );
  const ask = (set: typeof served, command: string) => evaluate(set, { agent: 'preload', session: 's', tool: 'exec', params: { command } });
  t.is(ask(served, 'rm -rf /important').message, 'Destructive command blocked');
  t.is(ask(served, 'git status').action, 'allow');

  // Replacing the catch-all by name turns the built-in policy into an allowlist: the file's own
  // default (deny) then applies to everything not listed.
  const dir = path.join(home, '.rampart', 'policies');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'allowlist.yaml'),
    [
      'version: "1"',
      'policies:',
      '  - name: allow-everything-else',
      '    match: { tool: [exec] }',
      '    rules:',
      '      - action: allow',
      '        when: { command_matches: ["git *", "npm *"] }',
      '        message: "listed"',
    ].join('\n'),
  );
  const strict = loadServePolicies({ home });
  t.is(ask(strict, 'git status').action, 'allow');
  t.is(ask(strict, 'python3 x.py').action, 'deny');
  t.is(ask(strict, 'rm -rf /').message, 'Destructive command blocked');
});

test('`rampart test` runs the shipped suite from the command line', async (t) => {
  t.true(fs.existsSync(cliPath), `${cliPath} is missing: run npm run build:ts first`);
  const home = tempDir();
  const result = await runCli(['test', suiteFile], { HOME: home }, { cwd: home, timeoutMs: 60_000 });
  const suite = loadSuite(suiteFile);
  t.is(result.code, 0, result.stdout + result.stderr);
  t.regex(result.stdout, new RegExp(`${suite.tests.length} passed, 0 failed`));
});
