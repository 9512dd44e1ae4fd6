// The on-disk audit format shared by the writer (log.ts) and the checker (verify.ts):
// file names, the hash chain and the record line shape (docs/server-api.md).
import crypto from 'node:crypto';
import fs from 'node:fs';

export const SCHEMA_VERSION = 'rampart.audit.v1';
/** A file that would grow past this starts a new part (`YYYY-MM-DD.p<N>.jsonl`). */
export const MAX_FILE_BYTES = 100 * 1024 * 1024;

const FILE_NAME = /^(\d{4}-\d{2}-\d{2})(?:\.p(\d+))?\.jsonl$/;

export interface AuditFileName {
  name: string;
  day: string;
  part: number;
}

export function parseAuditFileName(name: string): AuditFileName | undefined {
  const m = FILE_NAME.exec(name);
  return m ? { name, day: m[1]!, part: m[2] ? Number(m[2]) : 1 } : undefined;
}

export function auditFileName(day: string, part: number): string {
  return part <= 1 ? `${day}.jsonl` : `${day}.p${part}.jsonl`;
}

/** The audit files of a directory in chain order (day, then part); [] when it does not exist. */
export function listAuditFiles(dir: string): AuditFileName[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names
    .map(parseAuditFileName)
    .filter((f): f is AuditFileName => f !== undefined)
    .sort((a, b) => (a.day === b.day ? a.part - b.part : a.day < b.day ? -1 : 1));
}

/** UTC day of a timestamp, the file a record belongs to. */
export function utcDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

const HASH_FIELD = ',"hash":"';
const EMPTY_HASH_TAIL = ',"hash":""}';

/** `sha256:` + hex SHA-256 of the previous hash followed by the record serialized with hash "". */
export function chainHash(prevHash: string, recordWithEmptyHash: string): string {
  // One-shot crypto.hash: no Hash object per record (a measurable share of the server's time).
  return 'sha256:' + crypto.hash('sha256', prevHash + recordWithEmptyHash, 'hex');
}

const GO_ESCAPED = /[<>&\u2028\u2029]/;
const GO_ESCAPED_ALL = /[<>&\u2028\u2029]/g;
const goEscapeChar = (c: string) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0');

/**
 * A JSON text (JSON.stringify output) with `<`, `>`, `&`, U+2028 and U+2029 escaped as Go's
 * encoding/json writes them, so that records hash the same whichever implementation wrote
 * them. These characters only occur inside JSON strings, so a record serialized part by part
 * and escaped once as a whole gives the same bytes as goJson(record).
 */
export function goEscape(json: string): string {
  return GO_ESCAPED.test(json) ? json.replace(GO_ESCAPED_ALL, goEscapeChar) : json;
}

/** JSON as Go's encoding/json writes it (see goEscape). */
export function goJson(value: unknown): string {
  return goEscape(JSON.stringify(value));
}

/** Seals a record serialized with `"hash":""` as its last field: returns the line and its hash. */
export function sealRecord(prevHash: string, recordWithEmptyHash: string): { line: string; hash: string } {
  if (!recordWithEmptyHash.endsWith(EMPTY_HASH_TAIL)) throw new Error('audit record must end with an empty hash field');
  const hash = chainHash(prevHash, recordWithEmptyHash);
  return { line: recordWithEmptyHash.slice(0, -EMPTY_HASH_TAIL.length) + `${HASH_FIELD}${hash}"}`, hash };
}

export interface ChainContinue {
  chain_continue: string;
  prev_file: string;
}

export type ParsedLine =
  | { kind: 'event'; prevHash: string; hash: string; event: Record<string, unknown> }
  | { kind: 'continue'; hash: string; prevFile: string }
  | { kind: 'invalid'; reason: string };

/**
 * Checks one line on its own: valid JSON, a chain_continue marker or an event whose stored hash
 * matches its content. Linking to the previous record is the caller's job. The hash is
 * checked on the raw text, so any edited byte shows.
 */
export function parseLine(line: string): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { kind: 'invalid', reason: 'not valid JSON (truncated or edited record)' };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { kind: 'invalid', reason: 'not a JSON object' };
  }
  const record = value as Record<string, unknown>;
  if ('chain_continue' in record) {
    if (typeof record.chain_continue !== 'string' || typeof record.prev_file !== 'string') {
      return { kind: 'invalid', reason: 'chain_continue marker without string chain_continue/prev_file' };
    }
    return { kind: 'continue', hash: record.chain_continue, prevFile: record.prev_file };
  }
  if (typeof record.hash !== 'string' || typeof record.prev_hash !== 'string') {
    return { kind: 'invalid', reason: 'record has no hash/prev_hash fields' };
  }
  const at = line.lastIndexOf(HASH_FIELD);
  if (at < 0 || !line.endsWith('"}') || line.slice(at + HASH_FIELD.length, -2) !== record.hash) {
    return { kind: 'invalid', reason: 'hash is not the last field of the record' };
  }
  const expected = chainHash(record.prev_hash, line.slice(0, at) + EMPTY_HASH_TAIL);
  if (expected !== record.hash) {
    return { kind: 'invalid', reason: 'hash does not match the record content (record was modified)' };
  }
  return { kind: 'event', prevHash: record.prev_hash, hash: record.hash, event: record };
}
