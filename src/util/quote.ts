// POSIX shell quoting, the one implementation in TypeScript. shellQuote: argv -> one string,
// exactly as librampart.so renders an exec (crates/preload/src/command.rs quote_word), so the
// policy judges the top-level command the same way it judges the same command run later by the
// agent. singleQuote: one value for generated scripts (`rampart setup` wrappers, `rampart wrap` shim).

/** Characters that never need quoting in a POSIX shell word. */
const PLAIN_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;
/** Characters that keep a special meaning inside double quotes (and `!` for bash history). */
const NEEDS_SINGLE_QUOTES = /[$`"\\!]/;

export function shellQuote(argv: readonly string[]): string {
  return argv.map((word, index) => quoteWord(word, index === 0)).join(' ');
}

/** Plain words stay bare; others are double-quoted unless they hold `$ \` " \ !`, then single-quoted. */
function quoteWord(word: string, first: boolean): string {
  // A bare first word `a=b` would be an assignment, not a command.
  if (PLAIN_WORD.test(word) && !(first && word.includes('='))) return word;
  if (!NEEDS_SINGLE_QUOTES.test(word)) return `"${word}"`;
  return singleQuote(word);
}

/** Single-quotes any string for a POSIX shell (`'` becomes `'\\''`). */
export function singleQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
