// The audit log: one hash-chained JSON line per decision in <dir>/YYYY-MM-DD.jsonl (UTC).
// Records are written synchronously, before the server answers, so an answered decision is
// in the kernel's page cache (it survives a SIGKILL of the server) or the answer is an error.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { auditFileName, goEscape, goJson, listAuditFiles, MAX_FILE_BYTES, SCHEMA_VERSION, sealRecord, type ChainContinue } from './format.ts';
import { redactValue } from './redact.ts';
import { ulid } from './ulid.ts';
import { readLines, verifyFiles } from './verify.ts';

export interface AuditDecision {
  action: string;
  /**
   * Whether the action was enforced: false when the caller only asked (enforce:false, e.g. a
   * library in monitor mode) or the server is in monitor/disabled mode — so a recorded deny
   * whose command ran is not mistaken for a block.
   */
  enforced?: boolean;
  matchedPolicies: string[] | null;
  evaluationTimeUs: number;
  message: string;
  suggestions?: string[];
}

export interface AuditEntry {
  agent: string;
  session: string;
  tool: string;
  /** The params map that was evaluated; redacted before it is written. */
  request: Record<string, unknown>;
  runId?: string;
  toolCallId?: string;
  approvalOwner?: string;
  decision: AuditDecision;
}

export interface AuditLogOptions {
  /** fdatasync after every record (survives power loss, costs throughput). Default false. */
  fsync?: boolean;
  /** Warnings about the existing log (a broken chain found at startup). */
  warn?: (line: string) => void;
  now?: () => Date;
  maxFileBytes?: number;
}

/** The audit record could not be written; the server must not report the decision as logged. */
export class AuditWriteError extends Error {
  constructor(file: string, cause: Error) {
    super(`cannot write audit log ${file}: ${cause.message}`);
    this.name = 'AuditWriteError';
  }
}

const GO_ARCH: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm' };
const HOST = { hostname: os.hostname(), os: process.platform, arch: GO_ARCH[process.arch] ?? process.arch };
/** The constant start of every record and its `host` object, serialized once. */
const RECORD_START = `{"schema_version":${goJson(SCHEMA_VERSION)},"id":`;
const HOST_JSON = goJson(HOST);

/**
 * The record, serialized with `"hash":""` last. Written out field by field (docs/server-api.md
 * order, optional fields only when set) and Go-escaped once, instead of building an object
 * and stringifying it: the same bytes as goJson(record) (tests/server/audit.test.ts checks),
 * at a fraction of the cost.
 */
function recordJson(id: string, timestamp: string, entry: AuditEntry, prevHash: string): string {
  const { decision } = entry;
  const json = JSON.stringify;
  let out = `${RECORD_START}"${id}","timestamp":"${timestamp}","agent":${json(entry.agent)},"session":${json(entry.session)},"host":${HOST_JSON}`;
  if (entry.runId) out += `,"run_id":${json(entry.runId)}`;
  if (entry.toolCallId) out += `,"tool_call_id":${json(entry.toolCallId)}`;
  if (entry.approvalOwner) out += `,"approval_owner":${json(entry.approvalOwner)}`;
  out += `,"tool":${json(entry.tool)},"request":${json(redactValue(entry.request))},"decision":{"action":${json(decision.action)}`;
  if (decision.enforced !== undefined) out += `,"enforced":${decision.enforced}`;
  if (decision.matchedPolicies?.length) out += `,"matched_policies":${json(decision.matchedPolicies)}`;
  out += `,"evaluation_time_us":${json(decision.evaluationTimeUs ?? 0)}`;
  if (decision.message) out += `,"message":${json(redactValue(decision.message))}`;
  if (decision.suggestions?.length) out += `,"suggestions":${json(redactValue(decision.suggestions))}`;
  return goEscape(`${out}},"prev_hash":${json(prevHash)},"hash":""}`);
}

export class AuditLog {
  private fd: number | undefined;
  private day = '';
  private part = 1;
  private size = 0;
  private lastHash = '';
  private currentName: string | undefined;
  /** The file holding the record lastHash belongs to: a new file's chain_continue names it. */
  private chainFile: string | undefined;
  private written = 0;

  private constructor(
    readonly dir: string,
    private readonly options: AuditLogOptions,
  ) {}

  /** Opens (creating, 0700) the audit directory and recovers the chain from its last file. */
  static open(dir: string, options: AuditLogOptions = {}): AuditLog {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const log = new AuditLog(dir, options);
    log.recover();
    return log;
  }

  /** The file records currently go to (undefined before the first record of a fresh dir). */
  get file(): string | undefined {
    return this.currentName && path.join(this.dir, this.currentName);
  }

  /** Records written by this process. */
  get count(): number {
    return this.written;
  }

  private recover(): void {
    const files = listAuditFiles(this.dir);
    const last = files.at(-1);
    if (!last) return;
    const file = path.join(this.dir, last.name);
    const check = verifyFiles(this.dir, [last]);
    const { lines, truncated } = readLines(file);
    if (!check.ok) {
      this.options.warn?.(
        `audit chain of ${file} is broken at line ${check.error!.line} (${check.error!.reason}); ` +
          'new records continue from the last record (run `rampart audit verify`)',
      );
    }
    this.lastHash = check.ok ? check.lastHash : lastStoredHash(lines);
    this.day = last.day;
    this.part = last.part;
    this.currentName = last.name;
    this.chainFile = last.name;
    this.fd = fs.openSync(file, 'a', 0o600);
    if (truncated) fs.writeSync(this.fd, '\n'); // a torn last line must not swallow the next record
    this.size = fs.fstatSync(this.fd).size;
  }

  /** Writes one decision; returns its id. Throws AuditWriteError when it is not on disk. */
  append(entry: AuditEntry): string {
    const now = this.options.now?.() ?? new Date();
    const id = ulid(now.getTime());
    const timestamp = now.toISOString();
    const { line, hash } = sealRecord(this.lastHash, recordJson(id, timestamp, entry, this.lastHash));
    const bytes = Buffer.from(line + '\n');
    this.selectFile(timestamp.slice(0, 10), bytes.length); // the UTC day, as utcDay(now)
    this.writeAll(bytes);
    this.lastHash = hash;
    this.chainFile = this.currentName;
    this.written++;
    return id;
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  /** Moves to the next file on a new UTC day or when the current one is full. */
  private selectFile(day: string, nextBytes: number): void {
    const max = this.options.maxFileBytes ?? MAX_FILE_BYTES;
    const newDay = day > this.day;
    const full = this.size > 0 && this.size + nextBytes > max;
    if (this.fd === undefined && this.currentName === undefined) {
      this.openFile(day, 1);
    } else if (newDay || full) {
      this.close();
      this.openFile(newDay ? day : this.day, newDay ? 1 : this.part + 1);
    } else if (this.fd === undefined) {
      this.openFile(this.day, this.part); // after a failed open or write: try the same file again
    }
    // A fresh file starts with the link to the file of the previous record. Checked on every
    // append, not only on rotation: after a failed open or marker write the next record must
    // not start the file without it.
    if (this.size === 0 && this.chainFile !== undefined && this.chainFile !== this.currentName) {
      const marker: ChainContinue = { chain_continue: this.lastHash, prev_file: this.chainFile };
      this.writeAll(Buffer.from(goJson(marker) + '\n'));
    }
  }

  private openFile(day: string, part: number): void {
    this.day = day;
    this.part = part;
    this.currentName = auditFileName(day, part);
    const file = path.join(this.dir, this.currentName);
    try {
      this.fd = fs.openSync(file, 'a', 0o600);
      this.size = fs.fstatSync(this.fd).size;
    } catch (err) {
      this.fd = undefined;
      this.size = 0;
      throw new AuditWriteError(file, err as Error);
    }
  }

  private writeAll(bytes: Buffer): void {
    const fd = this.fd!;
    const before = this.size;
    try {
      let offset = 0;
      while (offset < bytes.length) offset += fs.writeSync(fd, bytes, offset);
      if (this.options.fsync) fs.fdatasyncSync(fd);
      this.size += bytes.length;
    } catch (err) {
      // Leave no torn record behind: the chain must still verify after a failed write.
      try {
        fs.ftruncateSync(fd, before);
      } catch {
        /* the disk may be gone; the next startup repairs the torn line */
      }
      throw new AuditWriteError(this.file!, err as Error);
    }
  }
}

/** The hash stored in the last record that has one (recovery from a damaged file). */
function lastStoredHash(lines: string[]): string {
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const value = JSON.parse(lines[i]!) as { hash?: unknown; chain_continue?: unknown };
      if (typeof value.hash === 'string') return value.hash;
      if (typeof value.chain_continue === 'string') return value.chain_continue;
    } catch {
      /* torn or edited line: look further up */
    }
  }
  return '';
}
