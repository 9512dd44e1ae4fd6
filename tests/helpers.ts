// Shared helpers for tests that run rampart as a user would: real processes, real files,
// a temporary HOME so nothing touches the developer's ~/.rampart.
import { spawn, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The built CLI, as `npx rampart` runs it. */
export const cliPath = path.join(repoRoot, 'dist', 'cli.js');
/** The freshly built library (npm run build:preload). */
export const libraryPath = path.join(repoRoot, 'target', 'release', 'librampart.so');

const tempDirs: string[] = [];
process.once('exit', () => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary directory, removed when the process exits. */
export function tempDir(prefix = 'rampart-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion, capturing its output; kills it after `timeoutMs`. */
export function run(command: string, args: string[], options: SpawnOptions & { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    // A child may exit without reading its stdin: that EPIPE is not the test's failure.
    child.stdin!.on('error', () => {});
    child.stdin!.end(options.input ?? '');
  });
}

/**
 * A policy that allows every exec except commands containing "forbidden-marker", which are
 * denied with the message "<label> test forbids this" (policy name "<label>-test").
 */
export function forbiddenMarkerPolicy(label: string): string {
  return `version: "1"
default_action: allow
policies:
  - name: ${label}-test
    match:
      tool: exec
    rules:
      - action: deny
        when:
          command_contains: ["forbidden-marker"]
        message: "${label} test forbids this"
`;
}

/** Runs the built `rampart` CLI with a given HOME (and extra environment). */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, options: { timeoutMs?: number; cwd?: string } = {}) {
  return run(process.execPath, [cliPath, ...args], { env: { ...process.env, ...env }, ...options });
}

/**
 * Runs `fn` while holding a machine-wide lock on the default port 9090, so test files that
 * exercise the real server autostart (run by ava in parallel processes) never race for it.
 * The lock is a directory (mkdir is atomic) holding the owner's pid; a dead owner's lock is taken over.
 */
export async function withDefaultPortLock<T>(fn: () => Promise<T>): Promise<T> {
  const lock = path.join(os.tmpdir(), 'rampart-test-port-9090.lock');
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(fs.readFileSync(path.join(lock, 'pid'), { encoding: 'utf8', flag: 'a+' }));
      if (owner > 0 && !isAlive(owner)) fs.rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock} (held by pid ${owner})`);
      else await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
