// Recent audit records, newest last, for `rampart audit tail`.
import path from 'node:path';
import { listAuditFiles } from './format.ts';
import { readLines } from './verify.ts';

export interface TailRecord {
  /** The line as stored. */
  line: string;
  record: Record<string, unknown>;
}

/** The last `count` decision records of `dir` (chain markers and unreadable lines skipped). */
export function tailAudit(dir: string, count: number): TailRecord[] {
  const out: TailRecord[] = [];
  const files = listAuditFiles(dir);
  for (let f = files.length - 1; f >= 0 && out.length < count; f--) {
    const { lines } = readLines(path.join(dir, files[f]!.name));
    for (let i = lines.length - 1; i >= 0 && out.length < count; i--) {
      try {
        const record = JSON.parse(lines[i]!) as Record<string, unknown>;
        if (record && typeof record === 'object' && 'decision' in record) out.push({ line: lines[i]!, record });
      } catch {
        /* a torn line: `rampart audit verify` reports it */
      }
    }
  }
  return out.reverse();
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined || value === null ? '' : JSON.stringify(value);
}

/** One readable line: time, decision (`DENY*`: recorded, not enforced), agent/session, tool and command, message. */
export function formatRecord(record: Record<string, unknown>): string {
  const decision = (record.decision ?? {}) as Record<string, unknown>;
  const request = (record.request ?? {}) as Record<string, unknown>;
  const time = text(record.timestamp)
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
  const action = (text(decision.action).toUpperCase() + (decision.enforced === false ? '*' : '')).padEnd(7);
  const who = `${text(record.agent) || '-'}/${text(record.session) || '-'}`;
  const subject = text(request.command ?? request.path ?? request.url ?? (Object.keys(request).length ? request : ''));
  const shown = (subject.length > 160 ? subject.slice(0, 157) + '...' : subject).replace(/\s*\n\s*/g, ' ⏎ ');
  const tool = text(record.tool);
  const message = text(decision.message);
  return `${time}  ${action} ${who}  ${tool === 'exec' ? '' : `[${tool}] `}${shown}${message ? `  — ${message}` : ''}`;
}
