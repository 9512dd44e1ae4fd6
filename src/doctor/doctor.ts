// `rampart doctor`: every link of the chain checked for real, in order: the library, the server,
// the token, the policy, and finally a live allowed and a live denied exec under preload.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { guardedEnvironment } from '../client/environment.ts';
import { request, parseObject, ReplyTooLargeError, TransportError } from '../client/http.ts';
import { checkLibrary } from '../client/library.ts';
import { checkHealth, preflight } from '../client/policy-server.ts';
import { endpoint, type ServerAddress } from '../client/settings.ts';
import { runCapturingStderr } from '../util/process.ts';
import { resolveClientToken, type ClientToken } from '../util/token.ts';

export interface CheckResult {
  ok: boolean;
  title: string;
  /** What was found, or what is wrong. */
  detail: string;
  /** How to fix it (failures only). */
  fix?: string;
}

/** The command the denied probe runs: denied by any sane policy, and run against a decoy `rm`. */
export const DENIED_PROBE = 'rm -rf /';
const ALLOWED_PROBE = 'exec true';

export async function runDoctor(address: ServerAddress, tokenFlag: string | undefined, report: (result: CheckResult) => void): Promise<boolean> {
  let allOk = true;
  const record = (result: CheckResult) => {
    allOk &&= result.ok;
    report(result);
  };
  const url = address.childUrl;
  const fixLibrary = 'rampart lib install (or build it: cargo build --release -p rampart-preload, then copy target/release/librampart.so to ~/.rampart/lib/)';

  const library = checkLibrary();
  if (library.ok) {
    record({ ok: true, title: 'library', detail: `${library.path} (version ${library.version})` });
  } else {
    const searched = library.searched.length > 0 ? `; searched ${library.searched.join(', ')}` : '';
    record({ ok: false, title: 'library', detail: `${[library.headline, ...library.details].join('; ')}${searched}`, fix: fixLibrary });
  }

  const health = await checkHealth(address.url, 2000);
  const serverUp = health.state === 'ok';
  record(
    serverUp
      ? { ok: true, title: 'policy server', detail: `${url} (mode ${health.mode}, version ${health.version})` }
      : {
          ok: false,
          title: 'policy server',
          detail: health.reason,
          fix: `start it: rampart serve --background${address.port !== 9090 ? ` --port ${address.port}` : ''} (or for every login: rampart serve install)`,
        },
  );

  let token: ClientToken | undefined;
  try {
    token = resolveClientToken(tokenFlag);
  } catch (err) {
    record({ ok: false, title: 'token', detail: (err as Error).message, fix: 'make ~/.rampart/token readable, or pass --token / set RAMPART_TOKEN' });
  }
  const tokenSource = token ? { flag: '--token', env: 'RAMPART_TOKEN', file: '~/.rampart/token' }[token.source] : undefined;
  if (!token) {
    record({
      ok: false,
      title: 'token',
      detail: 'none: no --token, no RAMPART_TOKEN, no ~/.rampart/token',
      fix: 'start rampart serve once (it writes ~/.rampart/token), or pass --token / set RAMPART_TOKEN',
    });
  }

  const skipped = (title: string, why: string) => record({ ok: false, title, detail: `not checked: ${why}` });
  if (!serverUp) {
    for (const title of ['token accepted', 'policy', 'allowed probe', 'denied probe']) skipped(title, 'the policy server is not reachable');
    return allOk;
  }

  const session = `doctor-${process.pid}`;
  const ask = (command: string) => preflight(address.url, { command, agent: 'doctor', session, token: token?.token, enforce: false });
  const allowedAnswer = await ask('true');
  if (allowedAnswer.kind !== 'decided') {
    record({
      ok: false,
      title: 'token accepted',
      detail: allowedAnswer.reason,
      fix: token
        ? `the token from ${tokenSource} is not the server's: use the server's ~/.rampart/token, or restart rampart serve with RAMPART_TOKEN set`
        : 'pass --token or set RAMPART_TOKEN',
    });
    for (const title of ['policy', 'allowed probe', 'denied probe']) skipped(title, 'the server does not accept our requests');
    return allOk;
  }
  record({ ok: true, title: 'token accepted', detail: token ? `from ${tokenSource}` : 'the server needs none' });

  const deniedAnswer = await ask(DENIED_PROBE);
  const policyOk = allowedAnswer.allowed && deniedAnswer.kind === 'decided' && !deniedAnswer.allowed;
  const status = await policyStatus(address.url, token?.token);
  record({
    ok: policyOk,
    title: 'policy',
    detail: policyOk
      ? `loaded${status ? ` (${status})` : ''}: \`true\` is allowed, \`${DENIED_PROBE}\` is denied (${deniedAnswer.kind === 'decided' ? deniedAnswer.message : ''})`
      : `\`true\` is ${allowedAnswer.allowed ? 'allowed' : `denied (${allowedAnswer.message})`}, \`${DENIED_PROBE}\` is ${deniedAnswer.kind === 'decided' ? (deniedAnswer.allowed ? 'allowed' : 'denied') : `not decided (${deniedAnswer.reason})`}`,
    fix: policyOk
      ? undefined
      : 'check the policy rampart serve loaded (rampart serve --config FILE; without it the built-in policy blocks destructive commands)',
  });

  if (!library.ok) {
    for (const title of ['allowed probe', 'denied probe']) skipped(title, 'no usable librampart.so');
    return allOk;
  }

  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-doctor-'));
  try {
    const env = guardedEnvironment(
      process.env,
      { url, token: token?.token, mode: 'enforce', failOpen: false, agent: 'doctor', session, debug: true },
      library.path,
    );
    const allowed = await runProbe(['/bin/sh', '-c', ALLOWED_PROBE], env, workDir);
    const intercepted = allowed.stderr.includes('rampart_preload: intercepted');
    record({
      ok: allowed.code === 0 && intercepted,
      title: 'allowed probe',
      detail:
        allowed.code === 0 && intercepted
          ? `sh -c '${ALLOWED_PROBE}' ran under preload and its exec was checked and allowed`
          : `sh -c '${ALLOWED_PROBE}' ${allowed.code === 0 ? 'ran, but the library never checked its exec (not loaded?)' : `failed with exit code ${allowed.code}`}: ${lastLines(allowed.stderr)}`,
      fix: allowed.code === 0 && intercepted ? undefined : fixLibrary,
    });

    // The denied probe runs `rm -rf /` with a decoy `rm` first on PATH that only leaves a marker:
    // if the library failed to block it, nothing is harmed and the marker tells us.
    const marker = path.join(workDir, 'decoy-ran');
    const decoyDir = path.join(workDir, 'bin');
    fs.mkdirSync(decoyDir);
    fs.writeFileSync(path.join(decoyDir, 'rm'), `#!/bin/sh\necho ran > '${marker}'\n`, { mode: 0o755 });
    const deniedEnv = { ...env, PATH: `${decoyDir}:${env.PATH ?? '/usr/bin:/bin'}` };
    const denied = await runProbe(['/bin/sh', '-c', DENIED_PROBE], deniedEnv, workDir);
    const ran = fs.existsSync(marker);
    const blockedLine = denied.stderr.split('\n').find((line) => line.startsWith('rampart: blocked — '));
    record({
      ok: !ran && blockedLine !== undefined,
      title: 'denied probe',
      detail: ran
        ? `\`${DENIED_PROBE}\` (against a harmless decoy rm) was NOT blocked: ${lastLines(denied.stderr)}`
        : blockedLine
          ? `\`${DENIED_PROBE}\` (against a harmless decoy rm) was blocked: ${blockedLine}`
          : `\`${DENIED_PROBE}\` did not run, but no blocked line appeared (exit code ${denied.code}): ${lastLines(denied.stderr)}`,
      fix: !ran && blockedLine ? undefined : 'run it by hand to see the library lines: rampart preload --debug -- sh -c "rm -rf /nonexistent"',
    });
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
  return allOk;
}

async function policyStatus(baseUrl: URL, token: string | undefined): Promise<string | undefined> {
  try {
    const reply = await request(endpoint(baseUrl, '/v1/status'), { headers: token ? { authorization: `Bearer ${token}` } : {}, timeoutMs: 2000 });
    const body = reply.status === 200 ? parseObject(reply.body) : undefined;
    if (!body) return undefined;
    const policies = body.policies as { loaded?: unknown; rules?: unknown } | undefined;
    if (typeof policies?.loaded !== 'number') return undefined;
    return `${policies.loaded} policies${typeof policies.rules === 'number' ? `, ${policies.rules} rules` : ''}`;
  } catch (err) {
    if (err instanceof TransportError || err instanceof ReplyTooLargeError) return undefined;
    throw err;
  }
}

function lastLines(text: string): string {
  const lines = text
    .trim()
    .split('\n')
    .filter((line) => line && !line.startsWith('rampart_preload: '));
  return lines.slice(-2).join(' / ') || '(no output)';
}

function runProbe(argv: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<{ code: number | null; stderr: string }> {
  return runCapturingStderr(argv[0]!, argv.slice(1), { env, cwd, timeoutMs: 15_000 });
}
