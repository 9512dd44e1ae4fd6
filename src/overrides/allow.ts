// `rampart allow`: add a durable human allow (POL-EVAL-8) to user-overrides.yaml.
// Order matters: prove the rule allows what was asked, prove the whole policy directory still
// loads with the edited file (the server would otherwise reject the reload), then replace the
// file atomically, then tell a running server. Nothing is written unless every check passed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { homePolicyDir, loadServePolicies, readPolicyText, type ServeStoreOptions } from '../policy/load.ts';
import {
  allowCandidates,
  allowsAll,
  AllowInputError,
  appendAllowRule,
  decideExec,
  findExistingAllow,
  newRuleAlone,
  OVERRIDES_FILE_NAME,
  parseOverridesText,
  patternsFor,
  probesFor,
  setOf,
  type Edit,
} from './rules.ts';
import { PolicyLoadError, type Decision } from '../policy/types.ts';
import { request, ReplyTooLargeError, TransportError } from '../client/http.ts';
import { rampartHome } from '../util/paths.ts';
import { singleQuote } from '../util/quote.ts';
import { resolveClientToken } from '../util/token.ts';

export interface AllowOptions {
  command: string;
  prefix: boolean;
  message?: string;
  /** Target file; default ~/.rampart/policies/user-overrides.yaml. */
  file?: string;
  port: number;
}

interface Streams {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export { AllowInputError };

/** Exit codes: 0 added or already allowed, 1 refused (protected session), 2 file or policy problem. */
export async function runAllow(opts: AllowOptions, { stdout, stderr }: Streams): Promise<number> {
  // Defence in depth behind the built-in deny rule: a process that runs under our library is an
  // agent's, and an agent must not grant itself permissions.
  if (/librampart/.test(process.env.LD_PRELOAD ?? '')) {
    stderr.write('rampart allow: refused inside a rampart-protected session (LD_PRELOAD holds librampart.so); a human runs it in their own terminal\n');
    return 1;
  }
  const file = path.resolve(opts.file ?? path.join(rampartHome(), 'policies', OVERRIDES_FILE_NAME));
  const wanted = allowCandidates({ command: opts.command, prefix: opts.prefix, ...(opts.message !== undefined ? { message: opts.message } : {}) });
  const probes = probesFor(wanted.texts[0]!, wanted.prefix);
  let result: Added | 'already';
  try {
    result = await withFileLock(file, () => addRule(file, wanted, probes, opts.message, stdout));
  } catch (err) {
    if (err instanceof PolicyLoadError || err instanceof FileProblem) {
      stderr.write(`rampart allow: ${err.message}\nNothing was written.\n`);
      return 2;
    }
    throw err;
  }
  if (result === 'already') return 0;

  const shown = wanted.prefix ? `${wanted.texts[0]} …` : wanted.texts[0]!;
  stdout.write(`Added to ${tildify(file)} line ${result.line ?? '?'}: allow ${result.patterns.map((p) => singleQuote(p)).join(' and ')}\n`);
  for (const note of [...wanted.notes, ...result.notes]) stdout.write(`  note: ${note}\n`);
  if (path.basename(file) !== OVERRIDES_FILE_NAME) {
    stdout.write(`  note: only allows in files named ${OVERRIDES_FILE_NAME} beat ask and watch rules; elsewhere this is an ordinary allow\n`);
  }
  stdout.write(describeDecision(probes[0]!, result.decision, shown));
  stdout.write(
    inHomePolicyDir(file)
      ? `A running rampart serve reloads ${tildify(path.dirname(file))}/ by itself when it changes.\n`
      : `A rampart serve started with --config-dir ${tildify(path.dirname(file))} reloads it by itself when it changes.\n`,
  );
  stdout.write(`${await askServerToReload(opts.port)}\n`);
  return 0;
}

interface Added {
  patterns: string[];
  line: number | undefined;
  decision: Decision;
  notes: string[];
}

/** Not a policy error but something about the file itself (unreadable, changed under us). */
class FileProblem extends Error {}

function addRule(
  file: string,
  wanted: ReturnType<typeof allowCandidates>,
  probes: string[],
  message: string | undefined,
  stdout: NodeJS.WritableStream,
): Added | 'already' {
  // Other `rampart allow` runs wait on the lock; an editor may still write the file between our
  // read and our rename: re-read before replacing and start over if it changed.
  for (let attempt = 0; attempt < 5; attempt++) {
    const before = readExisting(file);
    const existing = before !== undefined && before.trim() !== '' ? parseOverridesText(file, before) : undefined;
    if (existing) {
      for (const text of wanted.texts) {
        const rule = findExistingAllow(existing, { patterns: patternsFor(text, wanted.prefix), prefix: wanted.prefix, probes });
        if (rule) {
          stdout.write(`Already allowed by ${tildify(file)} line ${rule.line ?? '?'}; nothing changed.\n`);
          return 'already';
        }
      }
    }
    const { edit, patterns, notes } = chooseRule(file, before, wanted, probes, message);
    const wholeFile = setOf(edit.parsed.policies, file);
    if (!allowsAll(wholeFile, probes)) {
      const d = decideExec(wholeFile, probes[0]!);
      throw new FileProblem(
        `${file}: the new rule would not take effect: the file itself decides ${d.action} for it first (${d.message || 'no message'}); ` +
          'check the policy the rule went to (match:, enabled:) and the rules above it',
      );
    }
    const decision = decideWithDirectory(file, edit.text, probes[0]!);
    if (readExisting(file) !== before) continue;
    writeAtomically(file, edit.text);
    return { patterns, line: edit.line, decision, notes };
  }
  throw new FileProblem(`${file} kept changing while rampart allow was writing it; try again`);
}

/**
 * Runs `fn` holding `.<file>.lock` next to the file (created O_EXCL, holding our pid; a dead
 * holder's lock is taken over), so concurrent runs never lose each other's rules. Creates the
 * directory (0700) and removes what it created if `fn` fails, so a refused edit leaves nothing.
 */
async function withFileLock<T>(file: string, fn: () => T): Promise<T> {
  const dir = path.dirname(file);
  let created: string | undefined;
  try {
    created = fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new FileProblem(`cannot create ${dir}: ${(err as Error).message}`);
  }
  const lock = path.join(dir, `.${path.basename(file)}.lock`);
  const deadline = Date.now() + 15_000;
  let fd: number | undefined;
  let ok = false;
  try {
    while (fd === undefined) {
      try {
        fd = fs.openSync(lock, 'wx', 0o600);
        fs.writeSync(fd, String(process.pid));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new FileProblem(`cannot create lock file ${lock}: ${(err as Error).message}`);
        const owner = Number(readOrEmpty(lock));
        if (owner > 0 && !isAlive(owner)) fs.rmSync(lock, { force: true });
        else if (Date.now() > deadline) throw new FileProblem(`${lock} is held by process ${owner || '(unknown)'}; is another rampart allow still running?`);
        else await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    const result = fn();
    ok = true;
    return result;
  } finally {
    if (fd !== undefined) {
      fs.closeSync(fd);
      fs.rmSync(lock, { force: true });
    }
    if (!ok && created !== undefined) removeEmptyDirs(dir, created);
  }
}

function readOrEmpty(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
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

/** rmdir from `dir` up to `top` (inclusive) while empty. */
function removeEmptyDirs(dir: string, top: string): void {
  for (let current = dir; ; current = path.dirname(current)) {
    try {
      fs.rmdirSync(current);
    } catch {
      return;
    }
    if (current === top || path.dirname(current) === current) return;
  }
}

/** The first spelling whose rule, alone, allows every probe (the command as typed comes first). */
function chooseRule(file: string, before: string | undefined, wanted: ReturnType<typeof allowCandidates>, probes: string[], message: string | undefined) {
  const now = new Date();
  for (const text of wanted.texts) {
    const patterns = patternsFor(text, wanted.prefix);
    const edit: Edit = appendAllowRule(file, before, patterns, message, now);
    if (allowsAll(newRuleAlone(edit), probes)) {
      const notes = text !== wanted.texts[0] ? [`written as the engine sees the command (quotes, VAR=value and launchers removed): ${singleQuote(text)}`] : [];
      return { edit, patterns, notes };
    }
  }
  throw new AllowInputError(
    `no literal rule matches ${singleQuote(wanted.texts[0]!)} as the engine reads it (it is split into pieces that would each need a rule); ` +
      'allow the pieces one by one',
  );
}

function readExisting(file: string): string | undefined {
  if (!fs.existsSync(file)) {
    try {
      fs.lstatSync(file);
    } catch {
      return undefined;
    }
    throw new FileProblem(`${file}: is a dangling symbolic link`);
  }
  try {
    return readPolicyText(file);
  } catch (err) {
    if (err instanceof PolicyLoadError) throw err;
    throw new FileProblem(`${file}: cannot read the file: ${(err as Error).message}`);
  }
}

/**
 * Loads the policy store the server would load, with the edited file in place of the real one
 * (a mirror directory: the other files symlinked), so a clash with another file (say a
 * duplicate policy name) is caught before anything is written. Returns the decision on `command`.
 */
function decideWithDirectory(file: string, text: string, command: string): Decision {
  const dir = path.dirname(file);
  const inHome = inHomePolicyDir(file);
  const mirrorRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-allow-'));
  try {
    const mirror = inHome ? path.join(mirrorRoot, '.rampart', 'policies') : path.join(mirrorRoot, 'policies');
    fs.mkdirSync(mirror, { recursive: true });
    for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
      if (name !== path.basename(file) && /\.ya?ml$/i.test(name)) fs.symlinkSync(path.join(dir, name), path.join(mirror, name));
    }
    fs.writeFileSync(path.join(mirror, path.basename(file)), text);
    // Outside ~/.rampart/policies the file counts as `rampart serve --config-dir <its dir>` loads it.
    const store: ServeStoreOptions = inHome ? { home: mirrorRoot } : { configDir: mirror };
    try {
      return decideExec(loadServePolicies(store), command);
    } catch (err) {
      if (!(err instanceof PolicyLoadError)) throw err;
      const message = err.message.replaceAll(mirror, dir);
      throw new FileProblem(`with this rule the policies would no longer load (a running server would keep the old ones): ${message}`);
    }
  } finally {
    fs.rmSync(mirrorRoot, { recursive: true, force: true });
  }
}

/** temp file + fsync + rename: a reader (the server's watcher) sees the old file or the new one. */
function writeAtomically(file: string, text: string): void {
  const target = fs.existsSync(file) ? fs.realpathSync(file) : file;
  const dir = path.dirname(target);
  // 0700: the directory holds what decides which commands agents may run.
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const mode = fs.existsSync(target) ? fs.statSync(target).mode & 0o777 : 0o600;
  // Not *.yaml: the server's directory watcher ignores the temp file.
  const temp = path.join(dir, `.${path.basename(target)}.${process.pid}.tmp`);
  try {
    const fd = fs.openSync(temp, 'w', mode);
    try {
      fs.writeFileSync(fd, text);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.chmodSync(temp, mode);
    fs.renameSync(temp, target);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw new FileProblem(`cannot write ${target}: ${(err as Error).message}`);
  }
}

function describeDecision(command: string, decision: Decision, shown: string): string {
  const head = `Now: rampart test ${singleQuote(command)} -> ${decision.action}`;
  if (decision.action === 'allow' || decision.action === 'watch') return `${head} (${decision.message || 'allowed'})\n`;
  if (decision.action === 'deny') {
    return `${head}: a deny in any policy still wins over a user override, so ${shown} stays blocked.\n` + `  deny message: ${decision.message || '(none)'}\n`;
  }
  return `${head} (${decision.message || 'no message'})\n`;
}

/** One line: what the server on 127.0.0.1:<port> said to POST /v1/policy/reload (if one answers). */
async function askServerToReload(port: number): Promise<string> {
  const where = `127.0.0.1:${port}`;
  let token: string | undefined;
  try {
    token = resolveClientToken()?.token;
  } catch (err) {
    return `Server on ${where}: not asked to reload (${(err as Error).message})`;
  }
  try {
    const reply = await request(new URL(`http://${where}/v1/policy/reload`), {
      method: 'POST',
      headers: token !== undefined ? { authorization: `Bearer ${token}` } : {},
      json: {},
      timeoutMs: 3000,
    });
    const body = parseJson(reply.body);
    if (reply.status === 200 && body?.success === true) {
      return `Server on ${where}: reloaded now (${String(body.policies_loaded)} policies, ${String(body.rules_total)} rules).`;
    }
    const error = typeof body?.error === 'string' ? body.error : reply.body.slice(0, 200).trim();
    if (reply.status === 429) return `Server on ${where}: reloaded by another request a moment ago; its file watcher picks up this change.`;
    return `Server on ${where}: reload answered HTTP ${reply.status}${error !== '' ? `: ${error}` : ''}`;
  } catch (err) {
    if (err instanceof TransportError && /refused/.test(err.message)) return `Server on ${where}: none running; the rule applies when rampart serve starts.`;
    if (err instanceof TransportError || err instanceof ReplyTooLargeError) return `Server on ${where}: reload not confirmed (${err.message})`;
    throw err;
  }
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function inHomePolicyDir(file: string): boolean {
  return path.dirname(file) === path.resolve(homePolicyDir(undefined));
}

function tildify(file: string): string {
  const home = os.homedir();
  return file === home || file.startsWith(`${home}/`) ? `~${file.slice(home.length)}` : file;
}
