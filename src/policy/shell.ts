// Shell analysis of exec commands (POL-SHELL): sanitize, split on operators,
// tokenize, normalize (launchers, wrappers, assignments, redirections), extract subcommands,
// canonicalise rm/find, collect env assignments. Nothing here expands variables, globs or `~`,
// or unwraps sudo/doas/time/xargs. Pure functions of strings.

export type Dialect = 'posix' | 'cmd' | 'powershell';

/** POL-SHELL-1: drop ANSI CSI sequences, NUL and control characters except TAB and LF. */
export function sanitize(text: string): string {
  if (!CONTROL.test(text)) return text;
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').replace(/[\x00-\x08\x0b-\x1f]/g, '');
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f]/;

/** POL-SHELL-2: split on `&&`, `||`, `|`, `;`, newline and a lone `&` outside quotes and escapes. */
export function splitCommand(text: string, dialect: Dialect = 'posix'): string[] {
  // Splitting never deletes characters: pieces are trimmed slices between separators.
  const pieces: string[] = [];
  const n = text.length;
  let start = 0;
  let single = false;
  let double = false;
  for (let i = 0; i < n; i++) {
    const ch = text.charCodeAt(i);
    if (dialect === 'cmd') {
      if (ch === CARET && !double && i + 1 < n) {
        i++;
        continue;
      }
      if (ch === DQUOTE) double = !double;
    } else {
      if (single) {
        if (ch === SQUOTE) single = false;
        continue;
      }
      if (ch === BACKSLASH && i + 1 < n) {
        i++;
        continue;
      }
      if (ch === SQUOTE && !double) single = true;
      else if (ch === DQUOTE) double = !double;
    }
    if (double || single) continue;
    const next = text.charCodeAt(i + 1); // NaN past the end
    if ((ch === AMP && next === AMP) || (ch === PIPE && next === PIPE)) {
      pushPiece(pieces, text, start, i);
      i++;
      start = i + 1;
    } else if (ch === PIPE || ch === SEMI || ch === NEWLINE) {
      pushPiece(pieces, text, start, i);
      start = i + 1;
    } else if (ch === AMP) {
      const prev = text.charCodeAt(i - 1);
      const attachedRedirect = prev === GT || prev === LT || (dialect !== 'cmd' && next === GT);
      if (!attachedRedirect) {
        pushPiece(pieces, text, start, i);
        start = i + 1;
      }
    }
  }
  pushPiece(pieces, text, start, n);
  return pieces;
}

// Helpers live at module level, not as closures in the hot functions: no allocation per call.
function pushPiece(pieces: string[], text: string, start: number, end: number): void {
  const trimmed = text.slice(start, end).trim();
  if (trimmed !== '') pieces.push(trimmed);
}

const [CARET, DQUOTE, SQUOTE, BACKSLASH, AMP, PIPE, SEMI, NEWLINE, GT, LT, SPACE, TAB] = Array.from('^"\'\\&|;\n>< \t', (c) => c.charCodeAt(0));

/** POL-SHELL-3: split a segment into words, removing quotes and escapes in the given dialect. */
export function tokenize(segment: string, dialect: Dialect = 'posix'): string[] {
  const tokens: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < segment.length; i++) {
    const ch = segment[i]!;
    if (ch === ' ' || ch === '\t') {
      if (inWord && word !== '') tokens.push(word);
      word = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (dialect === 'posix') {
      if (ch === "'") {
        const end = segment.indexOf("'", i + 1);
        const stop = end === -1 ? segment.length : end;
        word += segment.slice(i + 1, stop);
        i = stop;
      } else if (ch === '"') {
        let j = i + 1;
        let run = j;
        for (; j < segment.length && segment[j] !== '"'; j++) {
          if (segment[j] === '\\' && j + 1 < segment.length) {
            word += segment.slice(run, j);
            j++;
            if (segment[j] !== '\n') word += segment[j];
            run = j + 1;
          }
        }
        word += segment.slice(run, j);
        i = j;
      } else if (ch === '\\') {
        if (i + 1 < segment.length) {
          i++;
          if (segment[i] !== '\n') word += segment[i];
        }
      } else {
        // A run of ordinary characters at once.
        let j = i + 1;
        while (j < segment.length && !isPosixSpecial(segment.charCodeAt(j))) j++;
        word += segment.slice(i, j);
        i = j - 1;
      }
    } else if (dialect === 'powershell') {
      if (ch === "'") {
        let j = i + 1;
        for (; j < segment.length; j++) {
          if (segment[j] === "'") {
            if (segment[j + 1] === "'") {
              word += "'";
              j++;
              continue;
            }
            break;
          }
          word += segment[j];
        }
        i = j;
      } else if (ch === '"') {
        let j = i + 1;
        for (; j < segment.length && segment[j] !== '"'; j++) {
          if (segment[j] === '`' && j + 1 < segment.length) j++;
          word += segment[j];
        }
        i = j;
      } else if (ch === '`') {
        if (i + 1 < segment.length) word += segment[++i];
      } else word += ch;
    } else {
      // cmd.exe: `^` escapes outside double quotes; backslash and single quote are literal.
      if (ch === '"') {
        const end = segment.indexOf('"', i + 1);
        const stop = end === -1 ? segment.length : end;
        word += segment.slice(i + 1, stop);
        i = stop;
      } else if (ch === '^') {
        if (i + 1 < segment.length) word += segment[++i];
      } else word += ch;
    }
  }
  if (inWord && word !== '') tokens.push(word);
  return tokens;
}

function isPosixSpecial(code: number): boolean {
  return code === SPACE || code === TAB || code === SQUOTE || code === DQUOTE || code === BACKSLASH;
}

const SHELLS = new Set(['sh', 'bash', 'zsh', 'dash', 'ash', 'ksh']);
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;

/** Lower-cased basename of a word, surrounding quotes removed (`/usr/bin/Bash` -> `bash`). */
export function baseName(word: string): string {
  const unquoted = isQuote(word.charCodeAt(0)) || isQuote(word.charCodeAt(word.length - 1)) ? word.replace(/^["']+|["']+$/g, '') : word;
  const slash = Math.max(unquoted.lastIndexOf('/'), unquoted.lastIndexOf('\\'));
  return unquoted.slice(slash + 1).toLowerCase();
}

function isQuote(code: number): boolean {
  return code === SQUOTE || code === DQUOTE;
}

function dialectOf(head: string): Dialect {
  const name = baseName(head);
  if (name === 'cmd' || name === 'cmd.exe') return 'cmd';
  if (/^(powershell|pwsh)(\.exe)?$/.test(name)) return 'powershell';
  return 'posix';
}

/**
 * Peels one transparent launcher (POL-SHELL-4): command, exec, env, nohup, nice, timeout, setsid,
 * stdbuf. Returns the remaining words, or undefined when the head is not a launcher or has an
 * option we do not understand (then it is "not unwrapped"). A launcher with no command stays.
 */
/** The words from index i on; undefined when there are none (a launcher alone stays). */
function wordsFrom(words: string[], i: number): string[] | undefined {
  return i < words.length ? words.slice(i) : undefined;
}

export function peelLauncher(words: string[]): string[] | undefined {
  const head = baseName(words[0] ?? '');
  let i = 1;
  switch (head) {
    case 'nohup':
      return wordsFrom(words, i);
    case 'command':
      for (; i < words.length; i++) {
        const w = words[i]!;
        if (w === '--') {
          i++;
          break;
        }
        if (w === '-v' || w === '-V') return undefined;
        if (w === '-p') continue;
        if (w.startsWith('-')) return undefined;
        break;
      }
      return wordsFrom(words, i);
    case 'exec':
      for (; i < words.length; i++) {
        const w = words[i]!;
        if (w === '--') {
          i++;
          break;
        }
        if (w === '-a') {
          i++;
          continue;
        }
        if (w === '-c' || w === '-l' || w === '-cl' || w === '-lc') continue;
        if (w.startsWith('-')) return undefined;
        break;
      }
      return wordsFrom(words, i);
    case 'env':
      for (; i < words.length; i++) {
        const w = words[i]!;
        if (w === '--') {
          i++;
          break;
        }
        if (w === '-i' || w === '-0' || w === '-v' || w === '--ignore-environment' || w === '--null' || w === '--debug') continue;
        if (w === '-u' || w === '-C' || w === '--unset' || w === '--chdir' || w === '--argv0') {
          i++;
          continue;
        }
        if (/^-[uC]./.test(w) || /^--[a-z-]+=/.test(w)) continue;
        if (w === '-S' || w === '--split-string') {
          const split = words[i + 1];
          if (split === undefined) return undefined;
          return [...tokenize(split), ...words.slice(i + 2)];
        }
        if (w.startsWith('-S')) return [...tokenize(w.slice(2)), ...words.slice(i + 1)];
        if (w.startsWith('-')) return undefined;
        if (ASSIGNMENT.test(w)) continue;
        break;
      }
      return wordsFrom(words, i);
    case 'nice':
      for (; i < words.length; i++) {
        const w = words[i]!;
        if (w === '-n' || w === '--adjustment') {
          i++;
          continue;
        }
        if (/^-\d+$/.test(w) || /^--adjustment=/.test(w) || /^-n-?\d+$/.test(w)) continue;
        if (w === '--') {
          i++;
          break;
        }
        if (w.startsWith('-')) return undefined;
        break;
      }
      return wordsFrom(words, i);
    case 'timeout': {
      for (; i < words.length; i++) {
        const w = words[i]!;
        if (w === '-k' || w === '-s' || w === '--kill-after' || w === '--signal') {
          i++;
          continue;
        }
        if (w === '--foreground' || w === '--preserve-status' || w === '-v' || w === '--verbose') continue;
        if (/^--(kill-after|signal)=/.test(w) || /^-[ks]./.test(w)) continue;
        if (w === '--') {
          i++;
          break;
        }
        if (w.startsWith('-')) return undefined;
        break;
      }
      // Then the duration.
      if (i >= words.length || !/^\d+(\.\d+)?[smhd]?$/.test(words[i]!)) return undefined;
      i++;
      return wordsFrom(words, i);
    }
    case 'setsid':
      for (; i < words.length; i++) {
        const w = words[i]!;
        if (['-c', '-f', '-w', '--ctty', '--fork', '--wait'].includes(w)) continue;
        if (w === '--') {
          i++;
          break;
        }
        if (w.startsWith('-')) return undefined;
        break;
      }
      return wordsFrom(words, i);
    case 'stdbuf':
      for (; i < words.length; i++) {
        const w = words[i]!;
        if (w === '-i' || w === '-o' || w === '-e') {
          i++;
          continue;
        }
        if (/^-[ioe]./.test(w) || /^--(input|output|error)=/.test(w)) continue;
        if (w === '--') {
          i++;
          break;
        }
        if (w.startsWith('-')) return undefined;
        break;
      }
      return wordsFrom(words, i);
    default:
      return undefined;
  }
}

/**
 * Strips one shell wrapper (POL-SHELL-4): `bash [-flags] -c CMD`, `cmd /c CMD`, `powershell -command CMD`.
 * Returns the inner words (re-tokenized in the inner dialect when exactly one word follows).
 */
function peelShellWrapper(words: string[]): string[] | undefined {
  const head = baseName(words[0] ?? '');
  let inner: string[] | undefined;
  let dialect: Dialect = 'posix';
  if (SHELLS.has(head)) {
    for (let i = 1; i < words.length; i++) {
      const w = words[i]!;
      if (!w.startsWith('-') || w.startsWith('--')) return undefined;
      if (w.slice(1).includes('c')) {
        inner = words.slice(i + 1);
        break;
      }
    }
  } else if (head === 'cmd' || head === 'cmd.exe') {
    dialect = 'cmd';
    const flag = words.findIndex((w, i) => i > 0 && /^\/[ck]/i.test(w));
    if (flag === -1) return undefined;
    const attached = words[flag]!.slice(2);
    inner = attached !== '' ? [attached, ...words.slice(flag + 1)] : words.slice(flag + 1);
  } else if (/^(powershell|pwsh)(\.exe)?$/.test(head)) {
    dialect = 'powershell';
    const flag = words.findIndex((w, i) => i > 0 && /^-(command|c)$/i.test(w));
    if (flag === -1) return undefined;
    inner = words.slice(flag + 1);
  }
  if (inner === undefined || inner.length === 0) return undefined;
  if (inner.length === 1) return tokenize(inner[0]!, dialect);
  return inner;
}

const REDIRECT_ALONE = /^(\d*)(>>?|<<?|&>)$/;
const REDIRECT_ATTACHED = /^(\d*(>>?|<<?)|&>)\S+$/;

function dropLeadingRedirections(words: string[]): string[] {
  let i = 0;
  while (i < words.length) {
    const w = words[i]!;
    if (REDIRECT_ALONE.test(w)) i += 2;
    else if (REDIRECT_ATTACHED.test(w)) i += 1;
    else break;
  }
  return words.slice(i);
}

/** POL-SHELL-4 steps for one segment's words: assignments, launchers, shell wrappers, until stable. */
export function normalizeWords(words: string[], dialect: Dialect): string[] {
  let current = words;
  for (let guard = 0; guard < 64; guard++) {
    let changed = false;
    let i = 0;
    while (i < current.length && ASSIGNMENT.test(current[i]!)) i++;
    if (i > 0) {
      current = current.slice(i);
      changed = true;
    }
    if (dialect === 'posix') {
      const peeled = peelLauncher(current);
      if (peeled !== undefined) {
        current = peeled;
        changed = true;
      }
    }
    const unwrapped = peelShellWrapper(current);
    if (unwrapped !== undefined) {
      current = unwrapped;
      changed = true;
    }
    if (!changed) break;
  }
  return dropLeadingRedirections(current);
}

/** Tokenizes one segment in the dialect its head word implies (cmd: `^` removed). */
function tokenizeSegment(segment: string): { words: string[]; dialect: Dialect } {
  let from = 0;
  while (from < segment.length && /\s/.test(segment[from]!)) from++;
  let to = from;
  while (to < segment.length && segment.charCodeAt(to) !== SPACE && segment.charCodeAt(to) !== TAB) to++;
  const head = segment.slice(from, to);
  const dialect = dialectOf(head);
  const words = tokenize(segment, dialect);
  return { words: dialect === 'cmd' ? words.map((w) => w.replaceAll('^', '')) : words, dialect };
}

const normalizeCache = new Map<string, string>();
const analysisCache = new Map<string, Analysis>();

/** Forgets every remembered normalization and analysis (benchmarks of never-seen commands). */
export function clearShellCaches(): void {
  normalizeCache.clear();
  analysisCache.clear();
}

/** POL-SHELL-4 Normalize(cmd). */
export function normalize(command: string): string {
  const cached = normalizeCache.get(command);
  if (cached !== undefined) return cached;
  const out = splitCommand(sanitize(command).trim())
    .map((segment) => {
      const { words, dialect } = tokenizeSegment(segment);
      return normalizeWords(words, dialect).join(' ');
    })
    .filter((s) => s !== '')
    .join(' && ');
  if (normalizeCache.size > 4096) normalizeCache.clear();
  normalizeCache.set(command, out);
  return out;
}

/** POL-SHELL-5: bodies of `$( )`, backticks, `<( )`/`>( )`, and `eval ARGS`, recursively. Not quote-aware. */
export function extractSubcommands(command: string, depth = 0): string[] {
  if (depth > 8) return [];
  const found: string[] = [];
  for (let i = 0; i < command.length; i++) {
    const ch = command[i]!;
    if (ch === '$' && command[i + 1] === '(') {
      // Nesting counted only on `$(`.
      let level = 1;
      let j = i + 2;
      for (; j < command.length; j++) {
        if (command[j] === '$' && command[j + 1] === '(') {
          level++;
          j++;
        } else if (command[j] === ')' && --level === 0) break;
      }
      addSubcommand(found, depth, command.slice(i + 2, j));
      i = j;
    } else if ((ch === '<' || ch === '>') && command[i + 1] === '(') {
      let level = 1;
      let j = i + 2;
      for (; j < command.length; j++) {
        if (command[j] === '(') level++;
        else if (command[j] === ')' && --level === 0) break;
      }
      addSubcommand(found, depth, command.slice(i + 2, j));
      i = j;
    } else if (ch === '`') {
      const end = command.indexOf('`', i + 1);
      if (end === -1) break;
      addSubcommand(found, depth, command.slice(i + 1, end));
      i = end;
    }
  }
  const words = tokenize(command.trim());
  let k = 0;
  while (k < words.length && ASSIGNMENT.test(words[k]!)) k++;
  if (words[k] === 'eval' && k + 1 < words.length) addSubcommand(found, depth, words.slice(k + 1).join(' '));
  return found;
}

function addSubcommand(found: string[], depth: number, body: string): void {
  const trimmed = body.trim();
  if (trimmed === '') return;
  found.push(trimmed, ...extractSubcommands(trimmed, depth + 1));
}

/** POL-SHELL-6: the pieces a command executes, and whether it has more than one. */
export interface Analysis {
  raw: string;
  normalized: string;
  components: string[];
  composite: boolean;
}

export function analyze(raw: string): Analysis {
  const cached = analysisCache.get(raw);
  if (cached !== undefined) return cached;
  const normalized = normalize(raw) || raw;
  const segments = splitCommand(normalized);
  const subs = extractSubcommands(sanitize(raw));
  const composite = segments.length > 1 || subs.length > 0;
  let components: string[];
  if (!composite) components = [normalized];
  else {
    const set = new Set(segments);
    for (const sub of subs) for (const piece of splitCommand(sub)) set.add(normalize(piece) || piece);
    components = [...set].filter((c) => c !== '');
  }
  const analysis = { raw, normalized, components, composite };
  if (analysisCache.size > 4096) analysisCache.clear();
  analysisCache.set(raw, analysis);
  return analysis;
}

/** POL-RESTR-1 "POSIX body" variant: control-structure keywords and grouping stripped. */
export function posixBody(text: string): string {
  let body = text.trim();
  // Fast path: none of the edits below can apply.
  if (!MAY_START_BODY.test(body) && !MAY_END_BODY.test(body)) return body;
  const caseArm = /^case\s.*?\sin\s+[^)]*\)\s*(.*?)(;;.*)?$/s.exec(body);
  if (caseArm) return caseArm[1]!.trim();
  for (let changed = true; changed;) {
    const before = body;
    body = body
      .replace(/^[({]\s*/, '')
      .replace(/^(if|elif|while|until|then|do|else|!)\s+/, '')
      .replace(/\s*[)}]$/, '')
      .replace(/\s*\b(fi|done|esac)$/, '')
      .trim();
    changed = body !== before && body !== '';
  }
  return body;
}

/** Loose tests (supersets) for the edits of posixBody: case, ( {, keywords, ) }, fi/done/esac. */
const MAY_START_BODY = /^(case\s|[({!]|if|elif|while|until|then|do|else)/;
const MAY_END_BODY = /([)}]|fi|done|esac)$/;

const RECURSIVE_FLAGS = new Set(['-r', '-R', '--recursive']);
const FORCE_FLAGS = new Set(['-f', '--force']);

function cleanPath(operand: string): string {
  if (!(operand.startsWith('/') || operand === '.' || operand === '..' || operand.startsWith('./') || operand.startsWith('../'))) {
    return operand;
  }
  const absolute = operand.startsWith('/');
  const parts: string[] = [];
  for (const part of operand.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length > 0 && parts.at(-1) !== '..') parts.pop();
      else if (!absolute) parts.push('..');
    } else parts.push(part);
  }
  const joined = parts.join('/');
  return absolute ? `/${joined}` : joined === '' ? '.' : joined;
}

/** Peels launchers and busybox/toybox from a tokenized segment. */
function peelForCanonical(words: string[]): string[] {
  let current = words;
  for (let guard = 0; guard < 32; guard++) {
    let i = 0;
    while (i < current.length && ASSIGNMENT.test(current[i]!)) i++;
    if (i > 0) current = current.slice(i);
    const head = baseName(current[0] ?? '');
    if ((head === 'busybox' || head === 'toybox') && current.length > 1) {
      current = current.slice(1);
      continue;
    }
    const peeled = peelLauncher(current);
    if (peeled === undefined) break;
    current = peeled;
  }
  return current;
}

/** Operands of a word list, skipping redirections and their targets. */
function withoutRedirections(words: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (REDIRECT_ALONE.test(w)) i++;
    else if (!REDIRECT_ATTACHED.test(w)) out.push(w);
  }
  return out;
}

export const MAX_RM_ALIASES = 256;

/**
 * POL-RESTR-3: canonical `rm -rf <operand>` spellings of destructive rm/find invocations.
 * Returns undefined when there would be more than MAX_RM_ALIASES (callers treat it as a match).
 */
export function rmAliases(text: string): string[] | undefined {
  if (!/rm|find|['"\\]/.test(text)) return [];
  const aliases: string[] = [];
  for (const segment of splitCommand(text)) {
    const words = withoutRedirections(peelForCanonical(tokenize(segment)));
    const head = baseName(words[0] ?? '');
    if (head === 'rm') {
      let recursive = false;
      let force = false;
      const operands: string[] = [];
      let optionsDone = false;
      for (const w of words.slice(1)) {
        if (!optionsDone && w === '--') optionsDone = true;
        else if (!optionsDone && w.startsWith('--')) {
          if (RECURSIVE_FLAGS.has(w)) recursive = true;
          if (FORCE_FLAGS.has(w)) force = true;
        } else if (!optionsDone && w.startsWith('-') && w.length > 1) {
          if (/[rR]/.test(w)) recursive = true;
          if (w.includes('f')) force = true;
        } else operands.push(w);
      }
      if (recursive && force) for (const op of operands) aliases.push(`rm -rf ${cleanPath(op)}`);
    } else if (head === 'find') {
      const args = words.slice(1);
      const starts: string[] = [];
      for (const a of args) {
        if (a.startsWith('-') || a === '(' || a === '!') break;
        starts.push(cleanPath(a));
      }
      if (starts.length === 0) starts.push('.');
      if (args.includes('-delete')) for (const s of starts) aliases.push(`rm -rf ${s}`);
      for (let i = 0; i < args.length; i++) {
        if (args[i] !== '-exec' && args[i] !== '-execdir') continue;
        const end = args.findIndex((a, j) => j > i && (a === ';' || a === '+' || a === '\\;'));
        const execWords = args.slice(i + 1, end === -1 ? undefined : end);
        const canonical = rmAliases(execWords.join(' ')) ?? [];
        for (const alias of canonical) {
          if (!alias.includes('{}')) continue;
          for (const s of starts) aliases.push(alias.replaceAll('{}', s));
        }
      }
    }
    if (aliases.length > MAX_RM_ALIASES) return undefined;
  }
  return aliases;
}

/**
 * POL-RESTR-4: alternate spellings — head replaced by its lower-cased basename (busybox applet
 * peeled), here-string bodies, and cmd.exe / PowerShell re-parses.
 */
export function alternates(text: string): string[] {
  const out: string[] = [];
  const normalized = normalize(text);
  for (const segment of splitCommand(normalized)) {
    const words = segment.split(' ');
    let head = words[0] ?? '';
    let rest = words.slice(1);
    const base = baseName(head);
    if ((base === 'busybox' || base === 'toybox') && rest.length > 0) {
      head = rest[0]!;
      rest = rest.slice(1);
    }
    const hereString = SHELLS.has(base) && rest.includes('<<<');
    if (head.includes('/') || head.includes('\\') || ['rm', 'find', 'busybox', 'toybox'].includes(base) || base !== head.toLowerCase() || hereString) {
      out.push([baseName(head), ...rest].join(' '));
    }
    if (hereString) {
      const at = rest.indexOf('<<<');
      const body = rest.slice(at + 1).join(' ');
      if (body !== '') out.push(body);
    }
  }
  if (/\b(cmd|cmd\.exe|powershell|pwsh)(\.exe)?\b/i.test(text) || /\^|&>|`/.test(text) || (/["']/.test(text) && /[&|]/.test(text))) {
    for (const dialect of ['cmd', 'powershell'] as const) {
      for (const segment of splitCommand(text, dialect)) {
        const words = tokenize(segment, dialect).map((w) => (dialect === 'cmd' ? w.replaceAll('^', '') : w));
        const joined = normalizeWords(words, dialect).join(' ');
        if (joined !== '') out.push(joined, joined.toLowerCase());
      }
    }
  }
  return out;
}

function nameOf(word: string): string | undefined {
  return /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(word)?.[1];
}

/** POL-ENVA-1..2: names of environment variables the command assigns, in all dialects. */
export function envAssignments(command: string, depth = 0): string[] {
  if (depth > 4) return [];
  const names = new Set<string>();
  const text = sanitize(command);
  for (const segment of splitCommand(text)) {
    const words = tokenize(segment);
    let i = 0;
    for (; i < words.length; i++) {
      const name = nameOf(words[i]!);
      if (name === undefined) break;
      names.add(name);
    }
    const head = baseName(words[i] ?? '');
    const args = words.slice(i + 1);
    if (head === 'env') {
      for (let j = 0; j < args.length; j++) {
        const w = args[j]!;
        if (w === '-u' || w === '-C' || w === '--unset' || w === '--chdir') {
          j++;
          continue;
        }
        if (w.startsWith('-')) continue;
        const name = nameOf(w);
        if (name === undefined) break;
        names.add(name);
      }
    } else if (head === 'export' || head === 'declare' || head === 'typeset' || head === 'local' || head === 'readonly') {
      for (const w of args) {
        const name = nameOf(w);
        if (name !== undefined) names.add(name);
      }
    } else if (head === 'set' || head === 'setx' || head === 'set.exe' || head === 'setx.exe') {
      const cmdWords = tokenize(segment, 'cmd');
      for (const w of cmdWords.slice(1)) {
        const name = nameOf(w.replace(/^\/a\s*/i, ''));
        if (name !== undefined) names.add(name);
      }
      if (head.startsWith('setx') && cmdWords[1] !== undefined && !cmdWords[1].includes('=') && /^[A-Za-z_]\w*$/.test(cmdWords[1])) {
        names.add(cmdWords[1]);
      }
    }
    const inner = peelShellWrapper(words.slice(i));
    if (inner !== undefined) for (const name of envAssignments(inner.join(' '), depth + 1)) names.add(name);
  }
  for (const m of text.matchAll(/\$env:([A-Za-z_][A-Za-z0-9_]*)\s*=/gi)) names.add(m[1]!);
  for (const m of text.matchAll(/\[(?:System\.)?Environment\]::SetEnvironmentVariable\(\s*['"]([^'"]+)['"]/gi)) names.add(m[1]!);
  for (const m of text.matchAll(/\b(?:Set-Item|New-Item|Set-Content)\s+(?:-Path\s+)?['"]?env:\\?([A-Za-z_][A-Za-z0-9_]*)/gi)) names.add(m[1]!);
  for (const sub of extractSubcommands(text)) for (const name of envAssignments(sub, depth + 1)) names.add(name);
  return [...names];
}
