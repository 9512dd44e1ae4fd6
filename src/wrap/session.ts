// One `rampart wrap` run: a policy server (in-process, or the running one given by --port), a
// private 0700 directory holding the token file and the shell shims, the agent started with
// $SHELL and PATH's bash/sh pointing at the shims, and a summary line when it ends.
//
// Coverage decision: when librampart.so is available, the agent's environment also carries
// LD_PRELOAD and the RAMPART_* snapshot. The static agent itself ignores it, but every dynamic
// program it starts (the real shell behind the shim included) loads the library, so what those
// programs run is checked too — upstream's wrap only ever saw the `-c` string. The cost: the
// shim's own `exec` of the real shell is asked about a second time, by the library.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { guardedEnvironment } from '../client/environment.ts';
import { checkLibrary } from '../client/library.ts';
import { checkHealth } from '../client/policy-server.ts';
import { RampartError } from '../errors.ts';
import { startServer, type RunningServer } from '../server/server.ts';
import { rampartHome } from '../util/paths.ts';
import { runChild } from '../util/process.ts';
import { resolveClientToken, TokenError } from '../util/token.ts';
import { renderShim } from './shim.ts';

export interface WrapOptions {
  mode: 'enforce' | 'monitor';
  /** Use the `rampart serve` already listening on 127.0.0.1:<port> instead of starting one. */
  port?: number;
  token?: string;
  config?: string;
  auditDir?: string;
  command: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  stderr: NodeJS.WritableStream;
}

/** A problem that stops wrap before the command runs; the message is for the user. */
export class WrapError extends RampartError {}

const SHIM_TIMEOUT_SECONDS = 5;

/** The first executable `name` on PATH (absolute), skipping `exclude`. */
export function which(name: string, envPath: string | undefined, exclude?: string): string | undefined {
  for (const dir of (envPath ?? '').split(path.delimiter)) {
    if (!path.isAbsolute(dir) || dir === exclude) continue;
    const candidate = path.join(dir, name);
    try {
      if (!fs.statSync(candidate).isFile()) continue;
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function isShim(file: string): boolean {
  try {
    return fs.readFileSync(file, 'latin1').slice(0, 200).includes('rampart-shim:');
  } catch {
    return false;
  }
}

interface PolicyServer {
  url: string;
  port: number;
  token: string | undefined;
  /** Started by this wrap: everything it decided belongs to this run. */
  ownServer: boolean;
  close(): Promise<void>;
}

async function connectServer(options: WrapOptions, session: string): Promise<PolicyServer> {
  if (options.port !== undefined) {
    const url = `http://127.0.0.1:${options.port}`;
    const health = await checkHealth(new URL(url));
    if (health.state !== 'ok') {
      const why = health.state === 'unreachable' ? health.reason : health.reason;
      throw new WrapError(`no rampart server at ${url} (${why}); start one with: rampart serve --port ${options.port}`);
    }
    let token: string | undefined;
    try {
      token = resolveClientToken(options.token)?.token;
    } catch (error) {
      if (!(error instanceof TokenError)) throw error;
      throw new WrapError(error.message); // a damaged ~/.rampart/token: say which and how to fix it
    }
    return { url, port: options.port, token, ownServer: false, close: async () => {} };
  }
  const token = options.token?.trim() || crypto.randomBytes(32).toString('hex');
  const auditDir = path.resolve(options.auditDir ?? path.join(rampartHome(), 'audit', session));
  let server: RunningServer;
  try {
    server = await startServer({
      addr: '127.0.0.1',
      port: 0,
      mode: options.mode,
      token,
      policy: { configFile: options.config !== undefined ? path.resolve(options.config) : undefined },
      auditDir,
      log: (line) => options.stderr.write(`rampart wrap: ${line}\n`),
    });
  } catch (error) {
    throw new WrapError(`cannot start the policy server: ${(error as Error).message}`);
  }
  return { url: server.url, port: server.port, token, ownServer: true, close: () => server.close() };
}

interface ShimDir {
  dir: string;
  binDir: string;
  shell: string;
  decisions: string;
}

/** Writes the token file and one shim per shell into a fresh 0700 directory. */
function writeShims(options: WrapOptions, server: PolicyServer, session: string): ShimDir {
  const bash = which('bash', options.env.PATH);
  if (!bash) throw new WrapError('rampart wrap needs bash on PATH (the shim talks to the server through /dev/tcp)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-wrap-'));
  fs.chmodSync(dir, 0o700);
  const binDir = path.join(dir, 'bin');
  fs.mkdirSync(binDir, { mode: 0o700 });
  const tokenFile = path.join(dir, 'token');
  fs.writeFileSync(tokenFile, server.token ?? '', { mode: 0o600 });
  const decisions = path.join(dir, 'decisions');
  fs.writeFileSync(decisions, '', { mode: 0o600 });

  const userShell = options.env.SHELL;
  const realShell =
    userShell && path.isAbsolute(userShell) && which(path.basename(userShell), path.dirname(userShell)) && !isShim(userShell) ? userShell : '/bin/sh';
  const shells = new Map<string, string>([[path.basename(realShell), realShell]]);
  for (const name of ['bash', 'sh']) {
    const found = shells.get(name) ?? which(name, options.env.PATH);
    if (found && !isShim(found)) shells.set(name, found);
  }
  for (const [name, real] of shells) {
    const shim = renderShim({
      bash,
      realShell: real,
      port: server.port,
      tokenFile,
      mode: options.mode,
      agent: 'wrap',
      session,
      decisionsFile: decisions,
      timeoutSeconds: SHIM_TIMEOUT_SECONDS,
    });
    fs.writeFileSync(path.join(binDir, name), shim, { mode: 0o700 });
  }
  return { dir, binDir, shell: path.join(binDir, path.basename(realShell)), decisions };
}

function agentEnvironment(options: WrapOptions, server: PolicyServer, shims: ShimDir, session: string): NodeJS.ProcessEnv {
  let env: NodeJS.ProcessEnv = { ...options.env };
  delete env.RAMPART_TOKEN;
  env.SHELL = shims.shell;
  if (env.CLAUDE_CODE_SHELL !== undefined) env.CLAUDE_CODE_SHELL = shims.shell;
  env.PATH = env.PATH ? `${shims.binDir}${path.delimiter}${env.PATH}` : shims.binDir;
  const library = checkLibrary();
  if (library.ok) {
    const guard = { url: server.url, token: server.token, mode: options.mode, failOpen: options.mode !== 'enforce', agent: 'wrap', session, debug: false };
    env = guardedEnvironment(env, guard, library.path);
  } else {
    options.stderr.write(
      `rampart wrap: no preload (${library.headline}); only \`$SHELL -c\` / \`bash -c\` / \`sh -c\` commands are checked ` +
        '(with the library, what those shells start is checked too: rampart lib install)\n',
    );
  }
  return env;
}

export interface DecisionCounts {
  checked: number;
  blocked: number;
}

/** The shims' own record: a = allowed, b = denied, u = no answer, m = denied but allowed by monitor mode. */
export function shimCounts(decisionsFile: string, mode: WrapOptions['mode']): DecisionCounts {
  let text = '';
  try {
    text = fs.readFileSync(decisionsFile, 'latin1');
  } catch {
    // nothing was checked
  }
  const count = (c: string) => text.split(c).length - 1;
  return {
    checked: count('a') + count('b') + count('u') + count('m'),
    blocked: mode === 'enforce' ? count('b') + count('u') : 0,
  };
}

/**
 * What the server wrap started decided for this run: the shims' checks and, with the library
 * preloaded, every command the shells ran (GET /v1/status). Undefined when it cannot say.
 */
async function serverCounts(server: PolicyServer, mode: WrapOptions['mode']): Promise<DecisionCounts | undefined> {
  try {
    const reply = await fetch(`${server.url}/v1/status`, {
      headers: server.token ? { authorization: `Bearer ${server.token}` } : {},
      signal: AbortSignal.timeout(2000),
    });
    const status = (await reply.json()) as { decisions?: Record<string, number> };
    const decisions = status.decisions;
    if (!reply.ok || typeof decisions?.total !== 'number') return undefined;
    const passed = (decisions.allow ?? 0) + (decisions.watch ?? 0);
    return { checked: decisions.total, blocked: mode === 'enforce' ? decisions.total - passed : 0 };
  } catch {
    return undefined;
  }
}

export function summaryLine(counts: DecisionCounts, mode: WrapOptions['mode']): string {
  const line = `rampart: ${counts.checked} command${counts.checked === 1 ? '' : 's'} checked, ${counts.blocked} blocked`;
  return mode === 'monitor' ? `${line} (monitor mode: denied commands ran; see the audit log)` : line;
}

export async function runWrapped(options: WrapOptions): Promise<number> {
  const session = `wrap-${process.pid}`;
  const server = await connectServer(options, session);
  let shims: ShimDir | undefined;
  try {
    shims = writeShims(options, server, session);
    const env = agentEnvironment(options, server, shims, session);
    const [file, ...rest] = options.command;
    const outcome = await runChild(file!, [file!, ...rest], env, options.cwd);
    // A running server shared with others (--port) counts their decisions too: use the shims' record.
    const counts = (server.ownServer ? await serverCounts(server, options.mode) : undefined) ?? shimCounts(shims.decisions, options.mode);
    options.stderr.write(`${summaryLine(counts, options.mode)}\n`);
    if (outcome.kind === 'failed') {
      options.stderr.write(`rampart wrap: cannot run ${file}: ${outcome.message}\n`);
      return outcome.errno === 'ENOENT' ? 127 : 126;
    }
    return outcome.code;
  } finally {
    if (shims) fs.rmSync(shims.dir, { recursive: true, force: true });
    await server.close();
  }
}
