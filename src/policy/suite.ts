// `rampart test FILE` (POL-SUITE-1..2): a suite file (`policy:` + `tests:`) or a policy file
// with inline `tests:`, run by preview evaluation; a test passes on the exact expected action.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compileFilepathMatch, compileGlob } from './glob.ts';
import { loadPolicyFile, parsePolicyDocument, readPolicyText, type PolicySet } from './load.ts';
import type { TestCase } from './model.ts';
import { evaluate } from './evaluate.ts';
import { PolicyLoadError, type Action } from './types.ts';
import { YamlReader } from './yaml-reader.ts';

export interface Suite {
  file: string;
  /** The policy file the tests run against (resolved; the suite itself for inline tests). */
  policyFile: string;
  tests: TestCase[];
}

export interface SuiteCaseResult {
  name: string;
  tool: string;
  command?: string;
  expected: Action;
  actual?: Action;
  message?: string;
  matchedPolicies?: string[];
  expectMessage?: string;
  passed: boolean;
  /** Set when the test could not be run (e.g. a malformed expect_message pattern). */
  error?: string;
}

export interface SuiteResult {
  passed: number;
  failed: number;
  errors: number;
  total: number;
  tests: SuiteCaseResult[];
}

export interface RunSuiteOptions {
  /** Only tests whose name matches this glob (policy glob syntax, POL-GLOB-2). */
  run?: string;
  /** Policy file overriding the suite's `policy:` (upstream `--config`). */
  config?: string;
  /** An already-loaded policy set (wins over `config`). */
  set?: PolicySet;
}

export function loadSuite(file: string): Suite {
  const { reader, root } = YamlReader.parse(file, readPolicyText(file));
  const topKeys = reader.isNull(root) ? new Set<string>() : new Set(reader.pairs(root, 'the top level').map((p) => p.key));
  const isPolicyFile = !topKeys.has('policy');
  if (isPolicyFile) {
    // A policy file with inline tests: validated as a policy file.
    const parsed = parsePolicyDocument(reader, root, file, ['version', 'default_action', 'policies', 'notify', 'tests']);
    if (parsed.tests.length === 0) reader.fail(root, 'no tests: expected a suite (policy: + tests:) or a policy file with inline tests:');
    return { file, policyFile: file, tests: parsed.tests };
  }
  const top = reader.mapping(root, 'the suite', ['policy', 'tests']);
  const policy = reader.string(top.get('policy'), 'policy').trim();
  if (policy === '') reader.fail(top.get('policy') ?? root, 'policy is empty: name the policy file the tests run against');
  const expanded = policy.startsWith('~/') ? path.join(os.homedir(), policy.slice(2)) : policy;
  const policyFile = path.resolve(path.dirname(file), expanded);
  const parsed = parsePolicyDocument(reader, root, file, ['policy', 'tests']);
  return { file, policyFile, tests: parsed.tests };
}

export function runSuite(suite: Suite, opts: RunSuiteOptions = {}): SuiteResult {
  // Rampart's own glob (POL-GLOB-2): a trailing `*` is a prefix test, so "deny*" also selects names with "/".
  const runGlob = opts.run !== undefined ? compileGlob(opts.run) : undefined;
  const filter = (name: string) => runGlob === undefined || runGlob.test(name);
  const set = opts.set ?? loadPolicyFile(opts.config ?? suite.policyFile);
  if (!opts.set && !opts.config && !fs.existsSync(suite.policyFile)) {
    throw new PolicyLoadError(suite.file, undefined, `policy file ${suite.policyFile} not found`);
  }
  const results: SuiteCaseResult[] = [];
  for (const test of suite.tests) {
    if (!filter(test.name)) continue;
    results.push(runCase(set, test));
  }
  const errors = results.filter((r) => r.error !== undefined).length;
  const passed = results.filter((r) => r.passed).length;
  return { passed, failed: results.length - passed - errors, errors, total: results.length, tests: results };
}

function runCase(set: PolicySet, test: TestCase): SuiteCaseResult {
  const command = typeof test.params.command === 'string' ? test.params.command : undefined;
  const base = { name: test.name, tool: test.tool, expected: test.expect, ...(command !== undefined ? { command } : {}) };
  let messageMatches: ((m: string) => boolean) | null = () => true;
  if (test.expectMessage !== undefined) {
    messageMatches = compileFilepathMatch(test.expectMessage);
    if (!messageMatches)
      return { ...base, passed: false, expectMessage: test.expectMessage, error: `expect_message pattern "${test.expectMessage}" is malformed` };
  }
  const decision = evaluate(set, { agent: test.agent, session: test.session, tool: test.tool, params: test.params });
  const passed = decision.action === test.expect && messageMatches(decision.message);
  return {
    ...base,
    actual: decision.action,
    message: decision.message,
    matchedPolicies: decision.matchedPolicies,
    ...(test.expectMessage !== undefined ? { expectMessage: test.expectMessage } : {}),
    passed,
  };
}
