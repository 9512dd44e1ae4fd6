// `rampart preload`: check the library, make sure a policy server answers, ask it about the
// command itself (this process is not preloaded, so nobody else would), then run the command
// with librampart.so preloaded and hand back its exit code.
import type { Writable } from 'node:stream';
import { guardedEnvironment } from '../client/environment.ts';
import { checkLibrary, libraryTroubleshooting } from '../client/library.ts';
import { checkHealth, preflight, startBackgroundServer, type Verdict } from '../client/policy-server.ts';
import type { PreloadSettings } from '../client/settings.ts';
import { EXIT_BLOCKED, EXIT_FAILED, EXIT_NOT_FOUND } from '../exit-codes.ts';
import { resolveCommand } from '../native/index.ts';
import { runChild } from '../util/process.ts';
import { shellQuote } from '../util/quote.ts';
import { resolveClientToken, TokenError, type ClientToken } from '../util/token.ts';
import { Reporter } from './report.ts';
import { unprotectablePrograms } from './target.ts';

export async function runPreload(settings: PreloadSettings, stderr: Writable, cwd = process.cwd()): Promise<number> {
  const say = new Reporter(stderr, settings.debug);
  const url = settings.address.childUrl;

  const library = checkLibrary();
  if (!library.ok) {
    say.text(libraryTroubleshooting(library));
    return EXIT_FAILED;
  }
  say.debug(`library: ${library.path} (found in ${library.origin}; verified, version ${library.version})`);
  if (/[:\s]/.test(library.path)) {
    say.say(`cannot preload ${library.path}: LD_PRELOAD cannot hold a path containing ':' or spaces; install the library with: rampart lib install`);
    return EXIT_FAILED;
  }

  const command = settings.command;
  const name = command[0]!;
  const target = resolveCommand(name, process.env.PATH, cwd);
  if (!target.found) {
    if (target.reason === 'not-found') {
      say.say(`${name}: command not found`);
      return EXIT_NOT_FOUND;
    }
    say.say(`${name}: ${target.reason === 'is-directory' ? 'Is a directory' : 'Permission denied'}`);
    return EXIT_BLOCKED;
  }

  let token: ClientToken | undefined;
  try {
    token = resolveClientToken(settings.tokenFlag);
  } catch (err) {
    // An unreadable, empty or damaged token: the message says which and how to fix it.
    say.say(err instanceof TokenError ? err.message : `${(err as Error).message}; pass --token or set RAMPART_TOKEN`);
    return EXIT_FAILED;
  }

  let verdict: Verdict | undefined;
  // ensureServer already said that commands run unchecked when nothing answers.
  let warnedUnchecked = false;
  if (settings.mode === 'disabled') {
    say.debug(`server: ${url} not contacted (mode disabled)`);
  } else {
    // Ask about the command while the health check runs: one round trip instead of two when the
    // server is up (the usual case). If we had to start it, ask again with the token it made.
    // In monitor mode the answer is only recorded (enforce:false): the audit must not show a block.
    const ask = () =>
      preflight(settings.address.url, {
        command: shellQuote(command),
        agent: settings.agent,
        session: settings.session,
        token: token?.token,
        enforce: settings.mode === 'enforce',
      });
    const early = ask();
    const server = await ensureServer(settings, say);
    if (server === 'failed-to-start') {
      void early.catch(() => {});
      return EXIT_FAILED;
    }
    if (server === 'started') {
      token = readTokenQuietly(settings.tokenFlag) ?? token;
      verdict = await ask();
    } else {
      verdict = await early;
    }
    warnedUnchecked = server === 'absent';
  }
  say.debug(`token: ${describeToken(token)}`);
  say.debug(`mode: ${settings.mode}`);
  say.debug(`fail-open: ${settings.failOpen}`);
  say.debug(`agent: ${settings.agent}`);
  say.debug(`session: ${settings.session}`);
  say.debug(`command: ${target.path}`);

  if (verdict) {
    const refusal = judgeTopLevel(verdict, settings, say, warnedUnchecked);
    if (refusal !== undefined) return refusal;

    const quoted = shellQuote(command);
    for (const program of unprotectablePrograms(target.path, process.env.PATH, cwd)) {
      if (settings.mode === 'enforce' && !settings.failOpen) {
        say.say(`refusing to run ${program.path}: it ${program.why} (--fail-open=false) — use: rampart wrap -- ${quoted}`);
        return EXIT_BLOCKED;
      }
      say.warn(`${program.path} ${program.why} — use: rampart wrap -- ${quoted}`);
    }
  }

  const env = guardedEnvironment(
    process.env,
    { url, token: token?.token, mode: settings.mode, failOpen: settings.failOpen, agent: settings.agent, session: settings.session, debug: settings.debug },
    library.path,
  );
  const outcome = await runChild(target.path, command, env, cwd);
  switch (outcome.kind) {
    case 'exited':
      return outcome.code;
    case 'killed':
      say.debug(`command killed by ${outcome.signal}; exit code ${outcome.code}`);
      return outcome.code;
    case 'failed':
      if (outcome.errno === 'ENOENT') {
        say.say(`${name}: command not found`);
        return EXIT_NOT_FOUND;
      }
      // EPERM: an outer librampart.so (rampart preload run under preload) denied it and has
      // already written its blocked line.
      if (outcome.errno !== 'EPERM') say.say(`cannot run ${name}: ${outcome.message}`);
      return EXIT_BLOCKED;
  }
}

/**
 * Makes sure something answers at the URL; starts `rampart serve` only for the default address.
 * A server we had to start and could not (a policy file with an error, say) stops the run: the
 * user asked for a protected run, and running unchecked because of their own typo is not that.
 */
async function ensureServer(settings: PreloadSettings, say: Reporter): Promise<'running' | 'started' | 'absent' | 'failed-to-start'> {
  const { url: base, source, port } = settings.address;
  const url = settings.address.childUrl;
  const health = await checkHealth(base);
  if (health.state === 'ok') {
    say.debug(`server: ${url} healthy (mode ${health.mode}, version ${health.version})`);
    return 'running';
  }
  const consequence = settings.failOpen ? 'commands run unchecked (--fail-open=true)' : 'commands are blocked (--fail-open=false)';
  if (health.state === 'not-rampart') {
    say.warn(`${health.reason}: not a rampart policy server, so checks will fail (--port or RAMPART_URL must name rampart serve)`);
    return 'absent';
  }
  if (source !== 'default' || !settings.autostart) {
    const where = source === 'port' ? '--port' : source === 'env' ? 'RAMPART_URL' : '--no-serve';
    say.warn(`no policy server answers at ${url} (${health.reason}; ${where}); ${consequence} — start one with: rampart serve --port ${port}`);
    return 'absent';
  }
  say.debug(`server: ${url} not answering (${health.reason}); starting rampart serve --background`);
  const started = await startBackgroundServer(base, port);
  if (started.state === 'ok') {
    say.say(`started policy server on ${url} (built-in policy); it keeps running in the background — stop it with: rampart serve stop`);
    say.debug(`server: ${url} healthy (mode ${started.mode}, version ${started.version})`);
    return 'started';
  }
  say.say(`could not start a policy server on ${url}:`);
  for (const line of started.details) say.say(`  ${line}`);
  say.say('fix that and run again, or start a server yourself (rampart serve), or run unchecked with --no-serve');
  return 'failed-to-start';
}

/** What the server said about the command itself; an exit code when it must not run. */
function judgeTopLevel(verdict: Verdict, settings: PreloadSettings, say: Reporter, warnedUnchecked: boolean): number | undefined {
  const enforce = settings.mode === 'enforce';
  switch (verdict.kind) {
    case 'decided':
      say.debug(`top-level check: ${verdict.decision}${verdict.allowed ? '' : ` — ${verdict.message}`}`);
      if (verdict.allowed || !enforce) return undefined;
      say.blocked(verdict.message);
      return EXIT_BLOCKED;
    case 'unreachable':
      say.debug(`top-level check: server unreachable (${verdict.reason})`);
      if (!enforce) return undefined;
      if (settings.failOpen) {
        // A server that passed the health check but failed this check (5xx, timeout): the
        // command runs unchecked, which must not go unsaid.
        if (!warnedUnchecked)
          say.warn(
            `policy server at ${settings.address.childUrl} did not decide (${verdict.reason}); running ${settings.command[0]} unchecked (--fail-open=true)`,
          );
        return undefined;
      }
      say.blocked(`policy server unreachable at ${settings.address.childUrl} (${verdict.reason}) and --fail-open=false`);
      return EXIT_BLOCKED;
    case 'invalid':
      say.debug(`top-level check: ${verdict.reason}`);
      if (!enforce) {
        say.warn(verdict.reason);
        return undefined;
      }
      say.blocked(verdict.reason);
      return EXIT_BLOCKED;
  }
}

/** The token again after an autostart (which may have just written ~/.rampart/token). */
function readTokenQuietly(flag: string | undefined): ClientToken | undefined {
  try {
    return resolveClientToken(flag);
  } catch {
    return undefined; // it was readable a moment ago; the server's 401 will say what is wrong
  }
}

function describeToken(token: ClientToken | undefined): string {
  if (!token) return 'none (no --token, RAMPART_TOKEN or ~/.rampart/token); the server will refuse checks';
  if (token.source === 'flag') return 'from --token';
  if (token.source === 'env') return 'from RAMPART_TOKEN';
  return 'from ~/.rampart/token';
}
