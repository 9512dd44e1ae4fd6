// Human-readable output of `rampart test` and `rampart bench` (the commands only print it).
import type { CorpusScore } from './corpus.ts';
import type { SuiteResult } from './suite.ts';
import type { Decision } from './types.ts';

export function formatDecision(command: string, tool: string, decision: Decision): string {
  const lines = [
    `Command:  ${command}`,
    `Tool:     ${tool}`,
    `Decision: ${decision.action}`,
    `Message:  ${decision.message || '(none)'}`,
    `Policies: ${decision.matchedPolicies.length > 0 ? decision.matchedPolicies.join(', ') : '(none)'}`,
  ];
  for (const suggestion of decision.suggestions ?? []) lines.push(`Hint:     ${suggestion}`);
  return `${lines.join('\n')}\n`;
}

export function formatSuiteResult(result: SuiteResult): string {
  const lines: string[] = [];
  for (const test of result.tests) {
    if (test.error !== undefined) lines.push(`ERROR ${test.name}: ${test.error}`);
    else if (!test.passed) {
      const messagePart = test.expectMessage !== undefined ? ` with message matching "${test.expectMessage}"` : '';
      lines.push(`FAIL  ${test.name}: expected ${test.expected}${messagePart}, got ${test.actual} (${test.message || 'no message'})`);
    } else lines.push(`ok    ${test.name}`);
  }
  const errors = result.errors > 0 ? `, ${result.errors} errors` : '';
  lines.push(`${result.passed} passed, ${result.failed} failed${errors} (${result.total} total)`);
  return `${lines.join('\n')}\n`;
}

export function formatCorpusScore(score: CorpusScore, corpusName: string, policy: string): string {
  const lines = [
    `Corpus:   ${corpusName} (${score.total} cases for os ${score.os}${score.strict ? ', strict' : ''})`,
    `Policy:   ${policy}`,
    `Coverage: ${score.coverage.toFixed(1)}% weighted (${score.weightedCovered}/${score.weightedTotal}); ${score.covered}/${score.total} cases covered`,
  ];
  const misses = score.cases.filter((c) => !c.covered);
  if (misses.length > 0) {
    lines.push(`Misses (${misses.length}):`);
    for (const miss of misses) {
      lines.push(`  ${miss.id} [${miss.severity}] expected ${miss.expected}, got ${miss.actual}: ${miss.name}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
