// Field readers shared by load.ts and conditions.ts: globs checked against the POL-LOAD-1 limits and
// compiled, and Go durations.
import type { Node } from 'yaml';
import { compileGlob, countGlobstars, type Glob } from './glob.ts';
import type { YamlReader } from './yaml-reader.ts';

const MAX_GLOB_BYTES = 8192;
const MAX_GLOBSTAR_PATTERN_BYTES = 256;

/** One glob: within the POL-LOAD-1 size and `**` limits, else a load error at its line. */
export function checkedGlob(reader: YamlReader, node: Node | null, pattern: string, where: string, compile = compileGlob): Glob {
  const bytes = Buffer.byteLength(pattern);
  if (bytes > MAX_GLOB_BYTES) reader.fail(node, `${where}: pattern is ${bytes} bytes; the limit is ${MAX_GLOB_BYTES}`);
  if (pattern.includes('**')) {
    if (bytes > MAX_GLOBSTAR_PATTERN_BYTES) {
      reader.fail(node, `${where}: pattern with "**" is ${bytes} bytes; the limit for such patterns is ${MAX_GLOBSTAR_PATTERN_BYTES}`);
    }
    if (countGlobstars(pattern) > 2) reader.fail(node, `${where}: pattern "${pattern}" has more than two "**"`);
  }
  return compile(pattern);
}

/** A YAML list of globs, each checked as by checkedGlob. */
export function globList(reader: YamlReader, node: Node | null | undefined, where: string, compile = compileGlob): Glob[] {
  return reader.stringList(node, where).map((e) => checkedGlob(reader, e.node, e.value, where, compile));
}

/** Go time.ParseDuration, in milliseconds; undefined when malformed. */
export function parseGoDuration(text: string): number | undefined {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const trimmed = text.trim();
  if (trimmed === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let sign = 1;
  let rest = trimmed;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest[0] === '-') sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '') return undefined;
  let total = 0;
  re.lastIndex = 0;
  while (re.lastIndex < rest.length) {
    const m = re.exec(rest);
    if (!m) return undefined;
    total += Number(m[1]) * units[m[2]!]!;
  }
  return sign * total;
}
