// The parsed, precompiled form of policy files. load.ts builds it, evaluate.ts reads it;
// nothing here does I/O. Conditions (`when:`) are defined with their kinds in conditions.ts.
import type { Condition } from './conditions.ts';
import type { Glob } from './glob.ts';
import type { Action } from './types.ts';

export interface Rule {
  action: Action;
  /** undefined = omitted or empty `when`: unconditional match. */
  when: Condition | undefined;
  message: string;
  ask?: { audit: boolean; headlessOnly: boolean };
  webhook?: { url: string; timeoutMs: number; failOpen: boolean };
  expiresAt?: Date;
  once: boolean;
  /** Stable identity of the rule across reloads (source + policy + index), for `once` consumption. */
  key: string;
  line?: number;
}

export interface Policy {
  name: string;
  description: string;
  /** Effective priority (0/absent -> 100). */
  priority: number;
  enabled: boolean;
  match: { agent: Glob; session: Glob; tools: Glob[] };
  rules: Rule[];
  /** File path the policy came from, or `builtin:standard`. */
  source: string;
}

export interface TestCase {
  name: string;
  tool: string;
  agent: string;
  session: string;
  params: Record<string, unknown>;
  expect: Action;
  expectMessage?: string;
  line?: number;
}

/** What one policy file holds (before merging stores). */
export interface PolicyFile {
  source: string;
  version: string;
  /** '' when the file does not set it. */
  defaultAction: string;
  policies: Policy[];
  tests: TestCase[];
  notify?: { url: string; platform: string; on: string[] };
}
