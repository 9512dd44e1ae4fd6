// Installing and removing the `rampart setup <agent>` wrapper. Every refusal is a SetupRefusal
// whose message says what is wrong and what to do; the command turns it into exit code 1.
import fs from 'node:fs';
import { RampartError } from '../errors.ts';
import path from 'node:path';
import { backupPath, findRealAgent, isRampartWrapper, renderWrapper, wrapperPath, type WrapperSpec } from './wrapper.ts';

export class SetupRefusal extends RampartError {}

export interface InstallOptions {
  agent: string;
  node: string;
  cli: string;
  bin?: string;
  force: boolean;
  envPath: string | undefined;
}

export interface InstallResult {
  path: string;
  /** What the wrapper runs: the fixed --bin, or what the PATH search finds right now. */
  runs: string | undefined;
  fixed: boolean;
  /** Set when --force moved an existing file aside. */
  replacedBackup?: string;
  updated: boolean;
}

function writeAtomically(file: string, content: string, mode: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.rampart-${process.pid}.tmp`);
  fs.writeFileSync(temp, content, { mode });
  fs.chmodSync(temp, mode); // writeFileSync's mode is masked by the umask
  fs.renameSync(temp, file);
}

function checkBin(bin: string): string {
  const resolved = path.resolve(bin);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(resolved);
  } catch {
    throw new SetupRefusal(`--bin ${bin}: no such file`);
  }
  if (!stat.isFile()) throw new SetupRefusal(`--bin ${bin}: not a regular file`);
  try {
    fs.accessSync(resolved, fs.constants.X_OK);
  } catch {
    throw new SetupRefusal(`--bin ${bin}: not executable`);
  }
  if (isRampartWrapper(resolved)) {
    throw new SetupRefusal(`--bin ${bin} is itself a rampart wrapper: point --bin at the real program`);
  }
  return resolved;
}

export function installWrapper(options: InstallOptions): InstallResult {
  const target = wrapperPath(options.agent);
  let bin = options.bin === undefined ? undefined : checkBin(options.bin);
  if (bin !== undefined && path.resolve(bin) === target) {
    throw new SetupRefusal(`--bin ${options.bin} is where the wrapper goes: move the real program first`);
  }

  const existing = fs.existsSync(target) || isSymlink(target);
  const ours = existing && isRampartWrapper(target);
  let replacedBackup: string | undefined;
  if (existing && !ours) {
    if (!options.force) {
      throw new SetupRefusal(
        `${target} exists and is not a rampart wrapper; left it alone. ` + `Use --force to replace it (it is kept and put back by --remove).`,
      );
    }
    replacedBackup = backupPath(options.agent);
    fs.mkdirSync(path.dirname(replacedBackup), { recursive: true, mode: 0o700 });
    moveFile(target, replacedBackup);
    // The replaced file may have been the real agent: keep running it if nothing else is on PATH.
    if (bin === undefined && findRealAgent(options.agent, options.envPath) === undefined) {
      try {
        bin = checkBin(replacedBackup);
      } catch {
        // not a program (a note, a broken link): nothing to run
      }
    }
  }

  const spec: WrapperSpec = { agent: options.agent, node: options.node, cli: options.cli, bin };
  writeAtomically(target, renderWrapper(spec), 0o755);
  return {
    path: target,
    runs: bin ?? findRealAgent(options.agent, options.envPath),
    fixed: bin !== undefined,
    replacedBackup,
    updated: ours,
  };
}

/** rename(2), or copy + unlink when ~/.rampart and ~/.local/bin are on different file systems. */
function moveFile(from: string, to: string): void {
  try {
    fs.renameSync(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
    fs.cpSync(from, to, { preserveTimestamps: true, verbatimSymlinks: true });
    fs.rmSync(from);
  }
}

function isSymlink(file: string): boolean {
  try {
    return fs.lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

export interface RemoveResult {
  path: string;
  removed: boolean;
  restored?: string;
}

/** Removes our wrapper only; puts back what --force replaced. */
export function removeWrapper(agent: string): RemoveResult {
  const target = wrapperPath(agent);
  const backup = backupPath(agent);
  const exists = fs.existsSync(target) || isSymlink(target);
  if (exists && !isRampartWrapper(target)) {
    throw new SetupRefusal(`${target} is not a rampart wrapper; left it alone`);
  }
  if (exists) fs.rmSync(target);
  let restored: string | undefined;
  if (fs.existsSync(backup) || isSymlink(backup)) {
    moveFile(backup, target);
    restored = target;
  }
  return { path: target, removed: exists, restored };
}
