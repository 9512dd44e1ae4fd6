// Shared set-up for the preload and doctor end-to-end tests: a temporary HOME with the freshly
// built library installed, a real `rampart serve` on a free loopback port, and a decoy `rm` so a
// destructive command that wrongly gets through harms nothing and leaves a marker instead.
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cliPath, freePort, libraryPath, tempDir } from '../helpers.ts';

export interface Home {
  dir: string;
  env: NodeJS.ProcessEnv;
}

/** A fresh HOME with librampart.so installed where `rampart lib install` puts it. */
export function homeWithLibrary(): Home {
  const dir = tempDir('rampart-e2e-home-');
  fs.mkdirSync(path.join(dir, '.rampart', 'lib'), { recursive: true });
  fs.copyFileSync(libraryPath, path.join(dir, '.rampart', 'lib', 'librampart.so'));
  // No inherited RAMPART_* or LD_PRELOAD from the developer's shell.
  const env: NodeJS.ProcessEnv = { HOME: dir };
  for (const key of Object.keys(process.env)) {
    if (key.startsWith('RAMPART_') || key === 'LD_PRELOAD') env[key] = undefined;
  }
  return { dir, env };
}

export interface Server {
  port: number;
  url: string;
  token: string;
  stop(): Promise<void>;
}

/** `rampart serve --port P` in the foreground of a child we own, ready when /healthz answers. */
export async function startServer(home: Home, extraArgs: string[] = []): Promise<Server> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [cliPath, 'serve', '--port', String(port), ...extraArgs], {
    env: { ...process.env, ...home.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`rampart serve exited with ${child.exitCode}: ${stderr}`);
    try {
      const reply = await fetch(`${url}/healthz`);
      if (reply.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`rampart serve did not answer /healthz within 30 s: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const token = fs.readFileSync(path.join(home.dir, '.rampart', 'token'), 'utf8').trim();
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  process.once('exit', () => child.kill('SIGKILL'));
  return { port, url, token, stop };
}

/** The HOME and server one test file shares (set once its `before` hook has run). */
export interface SharedSetup {
  home: Home;
  server: Server;
}

/**
 * Registers the calling test file's hooks: before its tests a HOME with the library and a
 * server on a free port; after them the server is stopped.
 */
export function homeAndServerForFile(): SharedSetup {
  const shared = {} as SharedSetup;
  test.before(async () => {
    shared.home = homeWithLibrary();
    shared.server = await startServer(shared.home);
  });
  test.after.always(async () => {
    await shared.server?.stop();
  });
  return shared;
}

export interface Decoy {
  /** Prepend to PATH: its `rm` only writes the marker. */
  binDir: string;
  marker: string;
  ran(): boolean;
}

export function decoyRm(): Decoy {
  const dir = tempDir('rampart-e2e-decoy-');
  const binDir = path.join(dir, 'bin');
  const marker = path.join(dir, 'decoy-ran');
  fs.mkdirSync(binDir);
  fs.writeFileSync(path.join(binDir, 'rm'), `#!/bin/sh\necho "$*" >> '${marker}'\n`, { mode: 0o755 });
  return { binDir, marker, ran: () => fs.existsSync(marker) };
}

export function pathWith(dir: string): string {
  return `${dir}:${process.env.PATH ?? '/usr/bin:/bin'}`;
}
