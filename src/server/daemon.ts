// The pid file of a running `rampart serve` (~/.rampart/serve.pid) and the checks that
// `serve --background`, `serve stop` and `serve status` share.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { rampartHome } from '../util/paths.ts';

export interface ServeRecord {
  pid: number;
  port: number;
  addr: string;
  url: string;
  mode: string;
  audit_dir: string;
  started: string;
  version: string;
}

export const pidFilePath = (home: string = rampartHome()) => path.join(home, 'serve.pid');
export const serveLogPath = (home: string = rampartHome()) => path.join(home, 'serve.log');

/** The recorded server, or undefined when there is no (readable, well-formed) pid file. */
export function readServeRecord(home?: string): ServeRecord | undefined {
  let text: string;
  try {
    text = fs.readFileSync(pidFilePath(home), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const value = JSON.parse(text) as Partial<ServeRecord>;
    if (Number.isInteger(value.pid) && value.pid! > 0 && typeof value.url === 'string') return value as ServeRecord;
  } catch {
    /* fall through: a plain pid written by hand */
  }
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0
    ? { pid, port: 9090, addr: '127.0.0.1', url: 'http://127.0.0.1:9090', mode: 'unknown', audit_dir: '', started: '', version: '' }
    : undefined;
}

/** Written atomically (temp file + rename) so readers never see half a record. */
export function writeServeRecord(record: ServeRecord, home: string = rampartHome()): void {
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  const file = pidFilePath(home);
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, JSON.stringify(record) + '\n', { mode: 0o600 });
  fs.renameSync(temp, file);
}

/** Removes the pid file if it still names `pid` (a newer server may have replaced it). */
export function removeServeRecord(pid: number, home?: string): void {
  if (readServeRecord(home)?.pid === pid) fs.rmSync(pidFilePath(home), { force: true });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What `ps`, `top` and /proc/<pid>/comm show for a running server (set in serve.ts). */
export const SERVE_PROCESS_TITLE = 'rampart-serve';

/**
 * Whether `pid` is a live `rampart serve` (not a recycled pid): its title, or a `serve`
 * argument while it starts up. Where /proc is missing the liveness check has to do.
 */
export function isServeProcess(pid: number): boolean {
  if (!isAlive(pid)) return false;
  // Without /proc (macOS) the pid file and the health check are all we have.
  if (process.platform !== 'linux') return true;
  try {
    // The server sets process.title, which overwrites the argv area: "rampart-serve" padded with
    // NULs/spaces. Only that counts: a stale pid reused by `npx serve` must never be signalled.
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv[0]!.trim() === SERVE_PROCESS_TITLE;
  } catch {
    return false;
  }
}

/** The live server recorded in the pid file, if any. */
export function runningServer(home?: string): ServeRecord | undefined {
  const record = readServeRecord(home);
  return record && isServeProcess(record.pid) ? record : undefined;
}

export interface HealthProbe {
  ok: boolean;
  mode?: string;
  version?: string;
  uptimeSeconds?: number;
  reason?: string;
}

/** GET <url>/healthz with a short timeout; ok only for a rampart health answer. */
export function probeHealth(url: string, timeoutMs = 1000): Promise<HealthProbe> {
  return new Promise((resolve) => {
    const req = http.get(`${url}/healthz`, { timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
        if (body.length > 65536) req.destroy(new Error('health answer too large'));
      });
      res.on('end', () => {
        try {
          const health = JSON.parse(body) as { service?: unknown; status?: unknown; mode?: unknown; version?: unknown; uptime_seconds?: unknown };
          if (res.statusCode === 200 && health.service === 'rampart' && health.status === 'ok') {
            return resolve({ ok: true, mode: String(health.mode), version: String(health.version), uptimeSeconds: Number(health.uptime_seconds) });
          }
        } catch {
          /* not JSON */
        }
        resolve({ ok: false, reason: `HTTP ${res.statusCode} from ${url}/healthz is not a rampart health answer` });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, reason: err.code === 'ECONNREFUSED' ? 'connection refused' : err.message }));
  });
}

/** The last `lines` lines of a text (for showing a log tail). */
export function lastLines(text: string, lines: number): string {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .slice(-lines)
    .join('\n');
}
