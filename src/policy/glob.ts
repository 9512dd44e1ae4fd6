// Rampart's glob dialect (POL-GLOB-2), compiled once at load time.
//
// Before matching, every backslash in pattern and subject becomes `/`. Branches, first
// applicable wins: `*` alone; patterns holding `**` (anchored NFA, `**` crosses `/`);
// trailing-`*` prefix test (falls through on failure); leading-`*` ordered substrings;
// otherwise Go filepath.Match. All matchers run in O(subject × pattern) at worst: subjects are
// attacker-controlled, so no backtracking regexes.

/** Longest subject (UTF-8 bytes) a glob may match; longer subjects never match. */
export const MAX_SUBJECT_BYTES = 8192;

export interface Glob {
  /** The pattern as written in the policy file. */
  readonly source: string;
  test(subject: string): boolean;
}

type Token =
  | { kind: 'lit'; ch: string }
  | { kind: 'star' } // any run without `/`
  | { kind: 'globstar' } // any run, `/` included
  | { kind: 'one' } // one non-`/` character
  | { kind: 'class'; negated: boolean; ranges: Array<[number, number]>; slash: boolean };

/** Compiles a pattern; a malformed one compiles to a glob that never matches. */
export function compileGlob(source: string): Glob {
  const pattern = source.replaceAll('\\', '/');
  return { source, test: makeMatcher(pattern) };
}

/** Counts non-overlapping `**` occurrences (used by load-time validation too). */
export function countGlobstars(pattern: string): number {
  let count = 0;
  for (let i = pattern.indexOf('**'); i !== -1; i = pattern.indexOf('**', i + 2)) count++;
  return count;
}

function subjectTooLong(subject: string): boolean {
  // A UTF-16 string of n units is at most 3n UTF-8 bytes: only measure when it could be over.
  return subject.length * 3 > MAX_SUBJECT_BYTES && Buffer.byteLength(subject) > MAX_SUBJECT_BYTES;
}

const never = (): boolean => false;

function makeMatcher(pattern: string): (subject: string) => boolean {
  if (pattern === '') return never;
  if (pattern === '*') return (subject) => !subjectTooLong(subject);
  const guarded = (match: (s: string) => boolean) => (subject: string) => {
    if (subjectTooLong(subject)) return false;
    return match(subject.includes('\\') ? subject.replaceAll('\\', '/') : subject);
  };

  if (pattern.includes('**')) {
    if (countGlobstars(pattern) > 2) return never;
    const full = compileTokens(pattern, true);
    if (!full) return never;
    const zeroDepth = pattern.startsWith('**/') ? compileTokens(pattern.slice(3), true) : undefined;
    return guarded((s) => full(s) || (zeroDepth !== undefined && zeroDepth !== null && zeroDepth(s)));
  }

  const trailingPrefix = pattern.endsWith('*') ? pattern.slice(0, -1) : undefined;
  let rest: (s: string) => boolean;
  if (pattern.startsWith('*')) {
    const pieces = pattern.split('*').filter((piece) => piece !== '');
    rest = (s) => containsInOrder(s, pieces);
  } else {
    rest = compileTokens(pattern, false) ?? never;
  }
  if (trailingPrefix === undefined) return guarded(rest);
  return guarded((s) => s.startsWith(trailingPrefix) || rest(s));
}

function containsInOrder(subject: string, pieces: string[]): boolean {
  let from = 0;
  for (const piece of pieces) {
    const at = subject.indexOf(piece, from);
    if (at === -1) return false;
    from = at + piece.length;
  }
  return true;
}

/**
 * Tokenizes and returns an anchored matcher, or null if the pattern is malformed.
 * `globstar` mode: `**` crosses `/` and classes never match `/` (POL-GLOB-2 branch 2); otherwise Go
 * filepath.Match rules (classes may match any character).
 */
function compileTokens(pattern: string, globstar: boolean): ((s: string) => boolean) | null {
  const chars = Array.from(pattern);
  const tokens: Token[] = [];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === '*') {
      if (globstar && chars[i + 1] === '*') {
        tokens.push({ kind: 'globstar' });
        i++;
      } else if (tokens.at(-1)?.kind !== 'star') tokens.push({ kind: 'star' });
    } else if (ch === '?') tokens.push({ kind: 'one' });
    else if (ch === '[') {
      const parsed = parseClass(chars, i + 1);
      if (!parsed) return null;
      tokens.push({ kind: 'class', negated: parsed.negated, ranges: parsed.ranges, slash: !globstar });
      i = parsed.end;
    } else tokens.push({ kind: 'lit', ch });
  }
  return literalFastPath(tokens) ?? withLiteralPrefilter(tokens);
}

/**
 * The NFA behind a cheap necessary test: the literal runs between wildcards must appear in
 * order, the leading run as a prefix and the trailing run as a suffix. Rejects almost every
 * non-matching subject without running the simulation.
 */
function withLiteralPrefilter(tokens: Token[]): (s: string) => boolean {
  const runs: string[] = [];
  let run = '';
  for (const token of tokens) {
    if (token.kind === 'lit') run += token.ch;
    else {
      runs.push(run);
      run = '';
    }
  }
  runs.push(run);
  const prefix = runs[0]!;
  const suffix = runs.length > 1 ? runs.at(-1)! : '';
  const middle = runs.slice(1, -1).filter((r) => r !== '');
  return (s) => {
    if (!s.startsWith(prefix) || !s.endsWith(suffix)) return false;
    let from = prefix.length;
    for (const piece of middle) {
      const at = s.indexOf(piece, from);
      if (at === -1) return false;
      from = at + piece.length;
    }
    return simulate(tokens, s);
  };
}

function parseClass(chars: string[], start: number): { negated: boolean; ranges: Array<[number, number]>; end: number } | null {
  let i = start;
  const negated = chars[i] === '^';
  if (negated) i++;
  const ranges: Array<[number, number]> = [];
  for (;;) {
    const ch = chars[i];
    if (ch === undefined) return null; // unterminated
    if (ch === ']') {
      if (ranges.length === 0) return null; // empty class
      return { negated, ranges, end: i };
    }
    if (ch === '-') return null;
    const lo = ch.codePointAt(0)!;
    let hi = lo;
    if (chars[i + 1] === '-') {
      const upper = chars[i + 2];
      if (upper === undefined || upper === ']' || upper === '-') return null;
      hi = upper.codePointAt(0)!;
      if (hi < lo) return null;
      i += 2;
    }
    ranges.push([lo, hi]);
    i++;
  }
}

/**
 * Patterns made only of literals and `**` (most of standard.yaml) match by prefix, suffix and
 * ordered substring tests; anything else goes through the NFA.
 */
function literalFastPath(tokens: Token[]): ((s: string) => boolean) | null {
  const pieces: string[] = [''];
  for (const token of tokens) {
    if (token.kind === 'lit') pieces[pieces.length - 1] += token.ch;
    else if (token.kind === 'globstar') pieces.push('');
    else return null;
  }
  if (pieces.length === 1) {
    const literal = pieces[0]!;
    return (s) => s === literal;
  }
  const first = pieces[0]!;
  const last = pieces.at(-1)!;
  const middle = pieces.slice(1, -1).filter((p) => p !== '');
  const minLength = pieces.reduce((n, p) => n + p.length, 0);
  return (s) => {
    if (s.length < minLength || !s.startsWith(first) || !s.endsWith(last)) return false;
    // Leftmost placement of each middle piece is optimal for literal pieces.
    let from = first.length;
    for (const piece of middle) {
      const at = s.indexOf(piece, from);
      if (at === -1) return false;
      from = at + piece.length;
    }
    return from <= s.length - last.length;
  };
}

function classMatches(token: Extract<Token, { kind: 'class' }>, ch: string): boolean {
  if (!token.slash && ch === '/') return false;
  const code = ch.codePointAt(0)!;
  const inside = token.ranges.some(([lo, hi]) => code >= lo && code <= hi);
  return inside !== token.negated;
}

/** Wildcard-run tokens may match empty: epsilon to the next position. */
function closeEpsilon(tokens: Token[], states: Uint8Array): void {
  for (let i = 0; i < tokens.length; i++) {
    const kind = tokens[i]!.kind;
    if (states[i] && (kind === 'star' || kind === 'globstar')) states[i + 1] = 1;
  }
}

/** Thompson simulation over token positions: O(|subject| × |tokens|). */
function simulate(tokens: Token[], subject: string): boolean {
  const n = tokens.length;
  let current = new Uint8Array(n + 1);
  let next = new Uint8Array(n + 1);
  current[0] = 1;
  closeEpsilon(tokens, current);
  for (const ch of subject) {
    next.fill(0);
    let alive = false;
    for (let i = 0; i < n; i++) {
      if (!current[i]) continue;
      const token = tokens[i]!;
      switch (token.kind) {
        case 'lit':
          if (token.ch === ch) next[i + 1] = 1;
          break;
        case 'one':
          if (ch !== '/') next[i + 1] = 1;
          break;
        case 'class':
          if (classMatches(token, ch)) next[i + 1] = 1;
          break;
        case 'star':
          if (ch !== '/') next[i] = 1;
          break;
        case 'globstar':
          next[i] = 1;
          break;
      }
    }
    closeEpsilon(tokens, next);
    for (let i = 0; i <= n; i++) if (next[i]) alive = true;
    if (!alive) return false;
    [current, next] = [next, current];
  }
  return current[n] === 1;
}

/**
 * A list of globs tested together. A glob that can only match subjects starting (or, for `**`
 * patterns, ending) with known characters is filed under them, so a subject is only tried
 * against globs that could match it (standard.yaml has ~500 command globs per call).
 */
export class GlobSet {
  private readonly byPrefix2 = new Map<string, Glob[]>();
  private readonly byPrefix1 = new Map<string, Glob[]>();
  private readonly bySuffix2 = new Map<string, Glob[]>();
  private readonly others: Glob[] = [];
  readonly size: number;

  constructor(readonly globs: readonly Glob[]) {
    this.size = globs.length;
    for (const glob of globs) {
      const pattern = glob.source.replaceAll('\\', '/');
      const prefix = literalPrefix(pattern);
      const suffix = pattern.includes('**') ? literalSuffix(pattern) : '';
      if (prefix.length >= 2) file(this.byPrefix2, prefix.slice(0, 2), glob);
      else if (prefix.length === 1) file(this.byPrefix1, prefix, glob);
      else if (suffix.length >= 2) file(this.bySuffix2, suffix.slice(-2), glob);
      else this.others.push(glob);
    }
  }

  /** True if any glob matches the subject. */
  test(subject: string): boolean {
    const s = subject.includes('\\') ? subject.replaceAll('\\', '/') : subject;
    return (
      anyMatch(this.byPrefix2.get(s.slice(0, 2)), s) ||
      anyMatch(this.byPrefix1.get(s.slice(0, 1)), s) ||
      anyMatch(this.bySuffix2.get(s.slice(-2)), s) ||
      anyMatch(this.others, s)
    );
  }

  /** True if any glob matches any of the subjects. */
  testAny(subjects: Iterable<string>): boolean {
    for (const s of subjects) if (this.test(s)) return true;
    return false;
  }
}

function file(index: Map<string, Glob[]>, key: string, glob: Glob): void {
  const list = index.get(key);
  if (list) list.push(glob);
  else index.set(key, [glob]);
}

function anyMatch(globs: Glob[] | undefined, subject: string): boolean {
  if (globs) for (const glob of globs) if (glob.test(subject)) return true;
  return false;
}

/**
 * Literal text every subject matched by the pattern starts with ('' when unknown). Leading-`*`
 * patterns are unanchored substring tests (branch 4), and `**`/-prefixed ones may retry at depth 0.
 */
function literalPrefix(pattern: string): string {
  if (pattern === '' || pattern.startsWith('*')) return '';
  const wildcard = pattern.search(/[*?[]/);
  return wildcard === -1 ? pattern : pattern.slice(0, wildcard);
}

/** Literal text every subject matched by an anchored `**` pattern ends with. */
function literalSuffix(pattern: string): string {
  const last = Math.max(pattern.lastIndexOf('*'), pattern.lastIndexOf('?'), pattern.lastIndexOf(']'), pattern.lastIndexOf('['));
  return pattern.slice(last + 1);
}

// POL-GLOB-5 path globs: always the anchored `**` NFA (`*`/`?` within a segment), leading `**/` may match zero directories.
export function compilePathGlob(source: string): Glob {
  const pattern = source.replaceAll('\\', '/');
  if (pattern === '' || countGlobstars(pattern) > 2) return { source, test: never };
  const full = compileTokens(pattern, true);
  const zeroDepth = pattern.startsWith('**/') ? compileTokens(pattern.slice(3), true) : null;
  if (!full) return { source, test: never };
  return {
    source,
    test: (subject) => {
      if (subjectTooLong(subject)) return false;
      const s = subject.replaceAll('\\', '/');
      return full(s) || (zeroDepth !== null && zeroDepth(s));
    },
  };
}

/** POL-GLOB-6 domain globs: lower-cased plain filepath.Match (`*.x.io` does not match `x.io`). */
export function compileDomainGlob(source: string): Glob {
  const matcher = compileTokens(source.toLowerCase().replace(/\.$/, ''), false);
  return { source, test: (domain) => matcher !== null && matcher(domain.toLowerCase().replace(/\.$/, '')) };
}

/** Plain Go filepath.Match (suite `--run` filters, `expect_message`); null when malformed. */
export function compileFilepathMatch(pattern: string): ((subject: string) => boolean) | null {
  return compileTokens(pattern, false);
}
