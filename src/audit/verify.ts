// Checks the hash chain of an audit directory: every record's hash matches its content, every
// prev_hash links to the record before it, and every new file's chain_continue marker links to
// the last record of the file before it.
import fs from 'node:fs';
import path from 'node:path';
import { listAuditFiles, parseLine, type AuditFileName } from './format.ts';

export interface ChainBreak {
  file: string;
  line: number;
  reason: string;
}

export interface VerifyResult {
  ok: boolean;
  files: number;
  events: number;
  /** Hash of the last intact record ('' when there is none). */
  lastHash: string;
  error?: ChainBreak;
}

/** Splits a file into lines; `truncated` when the last line has no newline (a torn write). */
export function readLines(file: string): { lines: string[]; truncated: boolean } {
  const text = fs.readFileSync(file, 'utf8');
  if (text === '') return { lines: [], truncated: false };
  const lines = text.split('\n');
  const last = lines.pop()!;
  if (last !== '') lines.push(last);
  return { lines, truncated: last !== '' };
}

/**
 * Verifies `files` (chain order) of `dir`. The first file may start with a chain_continue marker
 * (older files archived elsewhere); otherwise the chain starts with prev_hash "".
 */
export function verifyFiles(dir: string, files: AuditFileName[]): VerifyResult {
  let prevHash: string | undefined;
  let prevFile: string | undefined;
  let events = 0;
  const fail = (file: string, line: number, reason: string): VerifyResult => ({
    ok: false,
    files: files.length,
    events,
    lastHash: prevHash ?? '',
    error: { file: path.join(dir, file), line, reason },
  });

  for (const { name } of files) {
    const { lines, truncated } = readLines(path.join(dir, name));
    for (let i = 0; i < lines.length; i++) {
      const lineNo = i + 1;
      if (truncated && i === lines.length - 1) return fail(name, lineNo, 'record is truncated (no newline at the end)');
      if (lines[i] === '') return fail(name, lineNo, 'empty line in the audit log');
      const parsed = parseLine(lines[i]!);
      if (parsed.kind === 'invalid') return fail(name, lineNo, parsed.reason);
      if (parsed.kind === 'continue') {
        if (i !== 0) return fail(name, lineNo, 'chain_continue marker in the middle of a file');
        if (prevFile !== undefined && (parsed.hash !== prevHash || parsed.prevFile !== prevFile)) {
          return fail(name, lineNo, `chain_continue does not link to the last record of ${prevFile}`);
        }
        prevHash = parsed.hash;
        continue;
      }
      const expected = prevHash ?? '';
      if (parsed.prevHash !== expected) {
        return fail(name, lineNo, 'prev_hash does not match the previous record (a record was removed, reordered or inserted)');
      }
      prevHash = parsed.hash;
      events++;
    }
    prevFile = name;
  }
  return { ok: true, files: files.length, events, lastHash: prevHash ?? '' };
}

/** Verifies every audit file of `dir`. */
export function verifyAuditDir(dir: string): VerifyResult {
  return verifyFiles(dir, listAuditFiles(dir));
}
