// The policy engine: Rampart-compatible policy files (docs/policy.md). Parse (load.ts), the
// kinds of `when:` condition (conditions.ts), analyse shell commands (shell.ts), match globs
// (glob.ts), decide (evaluate.ts), and run test suites / attack corpora (suite.ts, corpus.ts).
// No HTTP, no disk writes.
export { PolicyLoadError } from './types.ts';
export type { Action, ToolCall, Decision, EvaluateOptions } from './types.ts';
export type { PolicySet, ServeStoreOptions } from './load.ts';
export { loadPolicyFile, loadServePolicies, watchTargets } from './load.ts';
export { EngineState, evaluate } from './evaluate.ts';
export type { Suite, SuiteResult, SuiteCaseResult } from './suite.ts';
export { loadSuite, runSuite } from './suite.ts';
export type { Corpus, CorpusCase, CorpusScore, CorpusCaseResult } from './corpus.ts';
export { loadCorpus, scoreCorpus } from './corpus.ts';
