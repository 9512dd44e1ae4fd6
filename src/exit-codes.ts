// Every exit code rampart's commands return, by name (docs/cli.md lists them per command).

/** The command did what was asked (or, for `rampart preload`, the protected command exited 0). */
export const EXIT_OK = 0;
/** Something the user can fix stopped the command: a bad flag or variable, no library, no server. */
export const EXIT_FAILED = 1;
/** A policy file could not be loaded (`rampart test`, `rampart bench`, `rampart allow`). */
export const EXIT_POLICY_ERROR = 2;
/** The command was blocked by policy, or cannot be executed (as a shell reports it). */
export const EXIT_BLOCKED = 126;
/** The command does not exist (as a shell reports it). */
export const EXIT_NOT_FOUND = 127;

/** A command killed by signal `number` is reported the way a shell does: 128 + N. */
export function exitCodeForSignal(number: number): number {
  return 128 + number;
}
