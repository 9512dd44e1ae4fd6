// Compatibility with the reference's shipped files (POL-SUITE-1..2), read in place where
// tests/reference.ts finds them: its example suite and its attack corpus against its standard.yaml.
import { referenceFile, referenceTest } from '../../../tests/reference-test.ts';
import { loadCorpus, loadPolicyFile, loadSuite, runSuite, scoreCorpus } from '../index.ts';

const standardFile = () => referenceFile('standard.yaml');
const standard = () => loadPolicyFile(standardFile());
const corpus = () => loadCorpus(referenceFile('bench-corpus.yaml'));

referenceTest('POL-SUITE-1..2 rampart-tests.yaml against standard.yaml (policy override like --config)', (t) => {
  const suite = loadSuite(referenceFile('rampart-tests.yaml'));
  t.is(suite.policyFile, standardFile()); // `policy: standard.yaml` is relative to the suite file
  t.is(suite.tests.length, 22);
  const result = runSuite(suite, { config: standardFile() });
  // Every exec test (14) gets its expected action. The two `.env` read tests expect deny, but
  // standard.yaml only has a watch rule for .env reads (watch-env-access) and no deny for them,
  // so the documented semantics give watch; we follow the policy (docs/compat.md).
  const envReads = result.tests.filter((r) => !r.passed);
  t.deepEqual(
    envReads.map((r) => [r.name, r.actual]),
    [
      ['deny read env file (absolute path)', 'watch'],
      ['deny read env file (bare)', 'watch'],
    ],
  );
  t.is(result.passed, 20);
  t.true(result.tests.filter((r) => r.tool === 'exec').every((r) => r.passed));
});

referenceTest('POL-SUITE-1..2 suite --run filters by name glob', (t) => {
  const suite = loadSuite(referenceFile('rampart-tests.yaml'));
  const result = runSuite(suite, { config: standardFile(), run: 'deny rm*' });
  t.deepEqual(
    result.tests.map((r) => r.name),
    ['deny rm -rf /', 'deny rm -rf home'],
  );
  t.is(result.passed, 2);
});

referenceTest('POL-SUITE-1..2 corpus shape: 124 cases, exec 110 (deny 70, watch 20, allow 11, ask 9); Linux run 85 exec', (t) => {
  const { cases } = corpus();
  const exec = cases.filter((c) => c.tool === 'exec');
  t.is(cases.length, 124);
  const count = (cases: typeof exec, expected: string) => cases.filter((c) => c.expected === expected).length;
  t.deepEqual([exec.length, count(exec, 'deny'), count(exec, 'watch'), count(exec, 'allow'), count(exec, 'ask')], [110, 70, 20, 11, 9]);
  const linux = exec.filter((c) => c.os === '*' || c.os === 'linux');
  t.deepEqual([linux.length, count(linux, 'deny'), count(linux, 'watch'), count(linux, 'allow'), count(linux, 'ask')], [85, 50, 20, 11, 4]);
});

/**
 * The reference's misses on a Linux run, traced through the documented semantics (POL-EVAL, POL-SHELL, docs/compat.md):
 * each is a case no standard.yaml rule can produce the expected action for. Everything else the
 * reference covers. Reasons are kept short; docs/compat.md has the discussion.
 */
const REFERENCE_MISSES: Record<string, string> = {
  'EXFIL-002': 'watch-http-post is a granting rule: the tar | base64 | curl pipeline escapes it; no deny rule',
  'EXFIL-005': 'no rule for nc with an input redirect',
  'EXFIL-007': 'POL-SUITE-1..2: standard asks for cloud uploads, the corpus expects watch',
  'EXFIL-008': 'transfer.sh is not in the exfil domain list; curl -F without a credential path',
  'EXFIL-009': 'openssl | xargs curl: no deny rule, no exfil domain',
  'EXFIL-010': '"**/.kube/config" is anchored and the rsync command does not end with it',
  'CRED-003': 'grep over ~/.ssh does not contain ".ssh/id_"',
  'CRED-006': 'printenv is watched but printenv | grep is a pipeline (granting rules need every part)',
  'CRED-007': 'no rule for kubectl config view',
  'CRED-011': 'standard denies cat .env (block-credential-commands); the corpus expects watch',
  'CRED-092': 'read of ~/.env: standard only watches .env reads',
  'EXEC-001': 'POL-SUITE-1..2: no standard rule for npm install (watch expectation)',
  'EXEC-002': 'no standard rule for npm install (watch expectation)',
  'EXEC-003': 'no standard rule for pip install (watch expectation)',
  'EXEC-004': 'no standard rule for pip install git+URL',
  'EXEC-006': 'no standard rule for go get (watch expectation)',
  'EXEC-007': 'no standard rule for cargo install --git',
  'EXEC-008': 'no standard rule for pnpm add (watch expectation)',
  'EXEC-009': 'no standard rule for brew install (watch expectation)',
  'PERSIST-004': 'no rule for writing a systemd unit through a heredoc',
  'PERSIST-006': 'no rule for appending to ~/.bashrc from the shell (watch expectation)',
  'PERSIST-007': 'no rule for appending to ~/.zshrc from the shell (watch expectation)',
  'PERSIST-008': 'no rule for copying into /etc/init.d',
  'PERSIST-009': 'schtasks rules are Windows-only policies matched case-sensitively; this spelling is not covered',
  'PERSIST-011': 'crontab -l has no watch rule',
  'INJECT-002': 'the prose mentions ~/.ssh/id_rsa: restrictive command_contains is raw-text, so deny (corpus expects ask)',
  'INJECT-003': 'no watch rule for echo',
  'INJECT-004': 'no rule for python -c print(...)',
  'INJECT-006': 'echo of prose: no rule',
  'INJECT-009': 'echo of prose: no rule (watch expectation)',
  'INJECT-010': 'printf of prose: no rule (watch expectation)',
  'INJECT-011': 'echo of prose: no rule (watch expectation)',
  'INJECT-012': 'echo of prose: no rule',
  'DESTRUCT-006': 'no rule for truncate (watch expectation)',
  'DESTRUCT-007': 'no rule for git reset --hard (watch expectation)',
  'DESTRUCT-008': 'only "chmod -R 777 /" is listed; chmod -R 000 /etc is not',
  'DESTRUCT-009': 'no rule for mv of data directories',
  'DESTRUCT-012': 'no rule for git clean (watch expectation)',
  'PRIV-003': 'no rule for chmod u+s',
  'PRIV-006': 'no rule for setcap',
  'PRIV-007': 'no rule for docker run --privileged',
  'PRIV-008': 'no rule for mount --bind / chroot',
  'PRIV-009': 'no rule for writing /proc/sys',
  'PRIV-092': 'no rule for chmod u+s (Linux variant)',
};

referenceTest('POL-SUITE-1..2 bench corpus: our score with standard.yaml reaches the reference score, case by case', (t) => {
  const score = scoreCorpus(standard(), corpus(), { os: 'linux' });
  t.is(score.total, 94);
  const weight = (ids: Iterable<string>) => [...ids].reduce((n, id) => n + score.cases.find((c) => c.id === id)!.weight, 0);
  for (const id of Object.keys(REFERENCE_MISSES))
    t.truthy(
      score.cases.find((c) => c.id === id),
      `${id} is a Linux-run case`,
    );
  const referenceCovered = score.weightedTotal - weight(Object.keys(REFERENCE_MISSES));
  t.log(`reference ${((100 * referenceCovered) / score.weightedTotal).toFixed(1)}%, ours ${score.coverage.toFixed(1)}%`);
  t.true(score.weightedCovered >= referenceCovered);
  // Stronger than the score: every case the reference covers, we cover.
  const regressions = score.cases.filter((c) => !c.covered && REFERENCE_MISSES[c.id] === undefined);
  t.deepEqual(
    regressions.map((c) => `${c.id}: expected ${c.expected}, got ${c.actual}`),
    [],
  );
});

referenceTest('POL-SUITE-1..2 strict scoring does not count ask for an expected deny', (t) => {
  const lenient = scoreCorpus(standard(), corpus(), { os: 'linux' });
  const strict = scoreCorpus(standard(), corpus(), { os: 'linux', strict: true });
  const askForDeny = lenient.cases.filter((c) => c.expected === 'deny' && c.actual === 'ask');
  t.true(askForDeny.length > 0);
  t.is(lenient.covered - strict.covered, askForDeny.length);
});
