// `rampart serve` in the foreground (listen until SIGINT/SIGTERM) and `--background` (start a
// detached copy of this CLI, wait until it answers, return). Commands call runServe().
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { Mode } from '../mode.ts';
import { SettingsError } from '../errors.ts';
import { PolicyLoadError } from '../policy/types.ts';
import { rampartHome } from '../util/paths.ts';
import { resolveServerToken, TokenError } from '../util/token.ts';
import { VERSION } from '../version.ts';
import {
  lastLines,
  probeHealth,
  removeServeRecord,
  runningServer,
  readServeRecord,
  SERVE_PROCESS_TITLE,
  isServeProcess,
  serveLogPath,
  writeServeRecord,
  type ServeRecord,
} from './daemon.ts';
import { ListenError, startServer } from './server.ts';

export interface ServeFlags {
  addr: string;
  port: number;
  mode: Mode;
  config?: string;
  configDir?: string;
  auditDir?: string;
  token?: string;
}

interface Streams {
  stdout: Writable;
  stderr: Writable;
}

const BACKGROUND_START_TIMEOUT_MS = 10_000;

/** `--audit-dir` resolved, or ~/.rampart/audit. */
function auditDirOf(flags: ServeFlags, home: string): string {
  return path.resolve(flags.auditDir ?? path.join(home, 'audit'));
}

/** One server per ~/.rampart: a second one would fork the audit chain. */
function alreadyRunning(home: string): string | undefined {
  const running = runningServer(home);
  return running && running.pid !== process.pid
    ? `rampart serve is already running (pid ${running.pid}, ${running.url}); stop it first with: rampart serve stop`
    : undefined;
}

export async function runServe(flags: ServeFlags, background: boolean, streams: Streams): Promise<number> {
  if (net.isIP(flags.addr) === 0) throw new SettingsError(`--addr must be an IP address such as 127.0.0.1, got "${flags.addr}"`);
  const home = rampartHome();
  const running = alreadyRunning(home);
  if (running) {
    streams.stderr.write(`rampart serve: ${running}\n`);
    return 1;
  }
  return background ? startInBackground(flags, home, streams) : serveInForeground(flags, home, streams);
}

async function serveInForeground(flags: ServeFlags, home: string, { stderr }: Streams): Promise<number> {
  // Named "rampart-serve" instead of "node" so that `killall node` / `pkill node`, aimed at an
  // agent's node processes, do not take the policy server down with them (killall matches the
  // comm name). This also replaces /proc/<pid>/cmdline: isServeProcess() accepts the title.
  process.title = SERVE_PROCESS_TITLE;
  const say = (line: string) => stderr.write(`rampart serve: ${line}\n`);
  let token;
  try {
    token = flags.token?.trim() ? { token: flags.token.trim(), source: 'flag' } : resolveServerToken(home);
  } catch (err) {
    if (!(err instanceof TokenError)) throw err;
    say(err.message);
    return 1;
  }
  const auditDir = auditDirOf(flags, home);
  const policy = {
    configFile: flags.config !== undefined ? path.resolve(flags.config) : undefined,
    configDir: flags.configDir !== undefined ? path.resolve(flags.configDir) : undefined,
  };
  let server;
  try {
    server = await startServer({ addr: flags.addr, port: flags.port, mode: flags.mode, token: token.token, policy, auditDir, log: say });
  } catch (err) {
    if (err instanceof PolicyLoadError) {
      say(`cannot load policies: ${err.message}`);
      return 1;
    }
    if (err instanceof ListenError) {
      const holder = readServeRecord(home);
      const byWhom =
        err.code === 'EADDRINUSE' && holder && holder.port === flags.port && isServeProcess(holder.pid) ? ` by rampart serve pid ${holder.pid}` : '';
      say(`${err.message}${byWhom}; choose another --port or stop what is using it`);
      return 1;
    }
    say(`cannot start: ${(err as Error).message}`);
    return 1;
  }

  const record: ServeRecord = {
    pid: process.pid,
    port: server.port,
    addr: flags.addr,
    url: server.url,
    mode: flags.mode,
    audit_dir: auditDir,
    started: new Date().toISOString(),
    version: VERSION,
  };
  writeServeRecord(record, home);
  const tokenFrom = { flag: '--token', env: 'RAMPART_TOKEN', file: path.join(home, 'token'), generated: `${path.join(home, 'token')} (new)` }[token.source];
  say(`listening on ${server.url} (mode ${flags.mode}, ${server.policyCount} policies, audit ${auditDir}, token from ${tokenFrom})`);

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const onReload = () => server.reload();
    process.on('SIGHUP', onReload);
    const stop = (sig: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      process.off('SIGHUP', onReload);
      resolve(sig);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  say(`stopping (${signal})`);
  await server.close();
  removeServeRecord(process.pid, home);
  return 0;
}

/** Forwards our flags (paths made absolute) to the detached server; the token goes by environment. */
function childArgs(flags: ServeFlags): string[] {
  const args = ['serve', '--addr', flags.addr, '--port', String(flags.port), '--mode', flags.mode];
  if (flags.config !== undefined) args.push('--config', path.resolve(flags.config));
  if (flags.configDir !== undefined) args.push('--config-dir', path.resolve(flags.configDir));
  if (flags.auditDir !== undefined) args.push('--audit-dir', path.resolve(flags.auditDir));
  return args;
}

async function startInBackground(flags: ServeFlags, home: string, { stdout, stderr }: Streams): Promise<number> {
  const entry = process.argv[1];
  if (!entry) throw new Error('cannot tell which rampart CLI is running (process.argv[1] is empty)');
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  const logFile = serveLogPath(home);
  const logFd = fs.openSync(logFile, 'a', 0o600);
  const logStart = fs.fstatSync(logFd).size;
  fs.writeSync(logFd, `--- ${new Date().toISOString()} rampart serve --background ${childArgs(flags).slice(1).join(' ')}\n`);
  const env = { ...process.env };
  if (flags.token?.trim()) env.RAMPART_TOKEN = flags.token.trim(); // not on the command line, where ps shows it

  // stdio must not inherit ours: whoever waits for this command's output would wait for the server.
  const child = spawn(process.execPath, [...process.execArgv, entry, ...childArgs(flags)], {
    detached: true,
    stdio: ['ignore', logFd, logFd],
    env,
    cwd: home,
  });
  fs.closeSync(logFd);
  let exited: string | undefined;
  child.on('exit', (code, signal) => (exited = signal ? `was killed by ${signal}` : `exited with code ${code}`));
  child.on('error', (err) => (exited = `could not be started: ${err.message}`));

  const url = `http://${net.isIPv6(flags.addr) ? `[${flags.addr}]` : flags.addr}:${flags.port}`;
  const deadline = Date.now() + BACKGROUND_START_TIMEOUT_MS;
  let failure: string | undefined;
  for (;;) {
    if (exited) {
      failure = `the background server ${exited}`;
      break;
    }
    if (readServeRecord(home)?.pid === child.pid && (await probeHealth(url, 500)).ok) break;
    if (Date.now() > deadline) {
      failure = `the background server did not answer at ${url} within ${BACKGROUND_START_TIMEOUT_MS / 1000} s`;
      child.kill('SIGTERM');
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (failure) {
    const written = fs.readFileSync(logFile).subarray(logStart).toString('utf8');
    stderr.write(`rampart serve: ${failure}; last lines of ${logFile}:\n${lastLines(written, 15)}\n`);
    return 1;
  }
  child.unref();
  stdout.write(`rampart serve: running in the background (pid ${child.pid}) on ${url}; log ${logFile}; stop with: rampart serve stop\n`);
  return 0;
}
