// Rampart's glob dialect (policy-format.md §3.1), compiled once at load time.
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
 * `globstar` mode: `**` crosses `/` and classes never match `/` (§3.1 step 2); otherwise Go
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
  return literalFastPath(tokens) ?? ((s) => simulate(tokens, s));
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

/** Thompson simulation over token positions: O(|subject| × |tokens|). */
function simulate(tokens: Token[], subject: string): boolean {
  const n = tokens.length;
  let current = new Uint8Array(n + 1);
  let next = new Uint8Array(n + 1);
  const close = (states: Uint8Array) => {
    // Wildcard-run tokens may match empty: epsilon to the next position.
    for (let i = 0; i < n; i++) {
      const kind = tokens[i]!.kind;
      if (states[i] && (kind === 'star' || kind === 'globstar')) states[i + 1] = 1;
    }
  };
  current[0] = 1;
  close(current);
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
    close(next);
    for (let i = 0; i <= n; i++) if (next[i]) alive = true;
    if (!alive) return false;
    [current, next] = [next, current];
  }
  return current[n] === 1;
}

/**
 * A list of globs tested together. Globs anchored at the start of the subject are bucketed by
 * their first two literal characters, so a subject is only tried against globs that could
 * possibly match it (standard.yaml has ~500 command globs; most start with a literal word).
 */
export class GlobSet {
  private readonly buckets = new Map<string, Glob[]>();
  private readonly unanchored: Glob[] = [];
  readonly size: number;

  constructor(readonly globs: readonly Glob[]) {
    this.size = globs.length;
    for (const glob of globs) {
      const key = anchorKey(glob.source.replaceAll('\\', '/'));
      if (key === undefined) this.unanchored.push(glob);
      else {
        const bucket = this.buckets.get(key);
        if (bucket) bucket.push(glob);
        else this.buckets.set(key, [glob]);
      }
    }
  }

  /** True if any glob matches the subject. */
  test(subject: string): boolean {
    const s = subject.includes('\\') ? subject.replaceAll('\\', '/') : subject;
    const bucket = this.buckets.get(s.slice(0, 2));
    if (bucket) for (const glob of bucket) if (glob.test(s)) return true;
    for (const glob of this.unanchored) if (glob.test(s)) return true;
    return false;
  }

  /** True if any glob matches any of the subjects. */
  testAny(subjects: Iterable<string>): boolean {
    for (const s of subjects) if (this.test(s)) return true;
    return false;
  }
}

/**
 * The first two characters every subject matched by this pattern starts with, or undefined
 * when the pattern can match subjects starting anywhere (leading wildcard, short literal).
 */
function anchorKey(pattern: string): string | undefined {
  if (pattern.length < 2 || pattern.startsWith('*')) return undefined;
  const head = pattern.slice(0, 2);
  if (/[*?[]/.test(head)) return undefined;
  return head;
}

// §3.2 path globs: always the anchored `**` NFA (`*`/`?` within a segment), leading `**/` may match zero directories.
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

/** §3.3 domain globs: lower-cased plain filepath.Match (`*.x.io` does not match `x.io`). */
export function compileDomainGlob(source: string): Glob {
  const matcher = compileTokens(source.toLowerCase().replace(/\.$/, ''), false);
  return { source, test: (domain) => matcher !== null && matcher(domain.toLowerCase().replace(/\.$/, '')) };
}

/** Plain Go filepath.Match (suite `--run` filters, `expect_message`); null when malformed. */
export function compileFilepathMatch(pattern: string): ((subject: string) => boolean) | null {
  return compileTokens(pattern, false);
}
