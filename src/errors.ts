// Expected failures, raised by any layer and shown by the command that ran it (src/commands/base.ts):
// one line `rampart: <message>` on stderr and the error's exit code. A bug is any other Error.
import { EXIT_FAILED } from './exit-codes.ts';

export class RampartError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILED,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A flag or environment value that cannot be used; the message says which, why, and what is accepted. */
export class SettingsError extends RampartError {}
