// The contract between the policy engine (src/policy), the server (src/server) and the
// policy commands. Parse, evaluate and transport never reach into each other: the server
// only calls loadPolicies() and evaluate() with these types.

import { RampartError } from '../errors.ts';
import { EXIT_POLICY_ERROR } from '../exit-codes.ts';

export type Action = 'allow' | 'deny' | 'ask' | 'watch' | 'webhook';

/** One tool call to decide on (POL-EVAL-1..3). */
export interface ToolCall {
  agent: string;
  session: string;
  /** Tool name, e.g. "exec". */
  tool: string;
  /** The params map; for exec, `command` holds the shell command string. */
  params: Record<string, unknown>;
  /** The input map (may hold `command`/`cmd`/`input` too). */
  input?: Record<string, unknown>;
  agentDepth?: number;
}

export interface Decision {
  action: Action;
  message: string;
  /** Names of policies that fired, in order (POL-EVAL-4..7). */
  matchedPolicies: string[];
  /** Only on deny: `rampart allow "<cmd>"` style hints. */
  suggestions?: string[];
  /** Only on webhook: where the deciding rule asks, how long it waits, and its fail_open. */
  webhook?: { url: string; timeoutMs: number; failOpen: boolean };
  /** Time spent in evaluate(), microseconds. */
  evalDurationUs: number;
}

export interface EvaluateOptions {
  /**
   * Enforcing evaluation (HTTP /v1/tool/*, preflight with enforce:true): increments
   * call_count counters and consumes `once` rules. Preview evaluation never mutates.
   */
  enforce?: boolean;
  /** Clock for expires_at and call_count windows (tests). */
  now?: Date;
}

/** A policy file that failed to load: names the file, the line and what is wrong. */
export class PolicyLoadError extends RampartError {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly reason: string,
  ) {
    super(`${file}${line !== undefined ? `:${line}` : ''}: ${reason}`, EXIT_POLICY_ERROR);
  }
}
