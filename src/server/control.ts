// `rampart serve stop` and `rampart serve status`: act on the server named in the pid file.
import fs from 'node:fs';
import type { Writable } from 'node:stream';
import { rampartHome } from '../util/paths.ts';
import { isAlive, isServeProcess, pidFilePath, probeHealth, readServeRecord, serveLogPath } from './daemon.ts';

interface Streams {
  stdout: Writable;
  stderr: Writable;
}

const STOP_TIMEOUT_MS = 10_000;

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

export async function stopServer({ stdout, stderr }: Streams): Promise<number> {
  const home = rampartHome();
  const record = readServeRecord(home);
  if (!record) {
    stderr.write(`rampart serve: not running (no ${pidFilePath(home)})\n`);
    return 1;
  }
  if (!isServeProcess(record.pid)) {
    fs.rmSync(pidFilePath(home), { force: true });
    stderr.write(`rampart serve: not running (pid ${record.pid} is gone; removed the stale ${pidFilePath(home)})\n`);
    return 1;
  }
  process.kill(record.pid, 'SIGTERM');
  let how = 'stopped';
  if (!(await waitForExit(record.pid, STOP_TIMEOUT_MS))) {
    process.kill(record.pid, 'SIGKILL');
    await waitForExit(record.pid, 2_000);
    how = `killed (it did not stop within ${STOP_TIMEOUT_MS / 1000} s of SIGTERM)`;
  }
  if (readServeRecord(home)?.pid === record.pid) fs.rmSync(pidFilePath(home), { force: true });
  stdout.write(`rampart serve: ${how} (pid ${record.pid}, ${record.url})\n`);
  return 0;
}

export async function serverStatus(json: boolean, { stdout }: Streams): Promise<number> {
  const home = rampartHome();
  const record = readServeRecord(home);
  const alive = record !== undefined && isServeProcess(record.pid);
  const health = alive ? await probeHealth(record.url, 2_000) : undefined;
  const running = alive && health?.ok === true;
  if (json) {
    stdout.write(
      JSON.stringify({
        running,
        pid: alive ? record.pid : null,
        url: record?.url ?? null,
        healthy: health?.ok ?? false,
        mode: health?.mode ?? null,
        version: health?.version ?? null,
        uptime_seconds: health?.uptimeSeconds ?? null,
        audit_dir: record?.audit_dir || null,
        ...(health && !health.ok ? { error: health.reason } : {}),
      }) + '\n',
    );
    return running ? 0 : 1;
  }
  if (!record) {
    stdout.write(`rampart serve: not running (no ${pidFilePath(home)}); start it with: rampart serve --background\n`);
    return 1;
  }
  if (!alive) {
    stdout.write(`rampart serve: not running (pid ${record.pid} from ${pidFilePath(home)} is gone); start it with: rampart serve --background\n`);
    return 1;
  }
  const rows: Array<[string, string]> = [
    ['pid', String(record.pid)],
    ['url', record.url],
    ['health', health!.ok ? `ok (up ${health!.uptimeSeconds} s)` : `not answering: ${health!.reason}`],
    ['mode', health!.mode ?? record.mode],
    ['version', health!.version ?? record.version],
    ['audit', record.audit_dir],
    ['log', serveLogPath(home)],
  ];
  stdout.write(`rampart serve: ${running ? 'running' : 'running but not healthy'}\n`);
  for (const [key, value] of rows) stdout.write(`  ${key.padEnd(8)} ${value}\n`);
  return running ? 0 : 1;
}
