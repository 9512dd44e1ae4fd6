// Every line the launcher writes goes through here: one place for the `rampart: ` prefixes.
import type { Writable } from 'node:stream';
import { MAX_MESSAGE_CHARS, oneLine } from '../util/text.ts';

export class Reporter {
  constructor(
    private readonly stderr: Writable,
    private readonly debugEnabled: boolean,
  ) {}

  /** `rampart: debug: ...`, only with --debug. Never pass a token here. */
  debug(message: string): void {
    if (this.debugEnabled) this.stderr.write(`rampart: debug: ${oneLine(message)}\n`);
  }

  warn(message: string): void {
    this.stderr.write(`rampart: warning: ${oneLine(message)}\n`);
  }

  /** The same line librampart.so writes for a denied exec. */
  blocked(message: string): void {
    this.stderr.write(`rampart: blocked — ${oneLine(message, MAX_MESSAGE_CHARS)}\n`);
  }

  say(message: string): void {
    this.stderr.write(`rampart: ${oneLine(message)}\n`);
  }

  /** Several lines as they are (troubleshooting text). */
  text(lines: string[]): void {
    this.stderr.write(lines.map((line) => `${line}\n`).join(''));
  }
}
