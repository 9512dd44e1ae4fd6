// What every rampart command shares: expected failures (RampartError, raised by any layer below)
// become one line `rampart: <message>` on stderr and the error's exit code, in one place; and
// the flags that name the policy server, declared once for the commands that talk to it.
import { Command, Option } from 'clipanion';
import { RampartError } from '../errors.ts';
import { oneLine } from '../util/text.ts';
import { isPort } from './options.ts';

export abstract class BaseCommand extends Command {
  /** What starts the line of an expected failure. */
  protected errorPrefix = 'rampart';

  /** The command's work; returns the exit code. */
  protected abstract perform(): Promise<number>;

  override async execute(): Promise<number> {
    try {
      return await this.perform();
    } catch (error) {
      if (!(error instanceof RampartError)) throw error; // a bug: clipanion prints it in full
      this.context.stderr.write(`${this.errorPrefix}: ${oneLine(error.message)}\n`);
      return error.exitCode;
    }
  }
}

/** A command that talks to a running `rampart serve`. */
export abstract class ServerClientCommand extends BaseCommand {
  port = Option.String('--port', { description: 'Port for rampart serve (must match rampart serve --port) (default: 9090)', validator: isPort });
  token = Option.String('--token', { description: 'Auth token (or set RAMPART_TOKEN)' });
}
