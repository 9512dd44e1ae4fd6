// Every line the launcher writes goes through here: one place for the `rampart: ` prefixes.
import type { Writable } from 'node:stream';

/** As librampart.so caps a server's message (crates/preload/src/output.rs, `one_line`). */
const MAX_MESSAGE_CHARS = 1000;

/**
 * Every line as one line: control characters (newlines, terminal escapes, from a server's message,
 * a network error or a command name) become spaces, as librampart.so does, so nothing from outside
 * can add lines or drive the terminal. `cap` limits a server's deny message like the library.
 */
export function oneLine(message: string, cap = Infinity): string {
  const chars = [...message];
  const kept = chars.slice(0, cap).map((c) => (/\p{Cc}/u.test(c) ? ' ' : c));
  return kept.join('') + (chars.length > cap ? '…' : '');
}

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
