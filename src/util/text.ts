// Text that goes to a terminal line by line.

/** As librampart.so caps a server's message (crates/preload/src/output.rs, `one_line`). */
export const MAX_MESSAGE_CHARS = 1000;

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
