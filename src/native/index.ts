// The one door to the native addon (crates/native via native/binding.cjs): locate, verify and
// install librampart.so, inspect executables, parse RAMPART_* as the library does. Everything
// else in src/ imports from here.
// The addon is loaded lazily, so commands that never need it work without it, and a missing
// addon becomes one clear NativeUnavailableError instead of a loader stack trace.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type * as Binding from '../../native/binding.cjs';
import { RampartError } from '../errors.ts';
import { packageRoot } from '../util/paths.ts';
import { VERSION } from '../version.ts';

export type LibraryOrigin = 'home' | 'usr-local' | 'beside-binary' | 'platform-package' | 'source-checkout';

/** One place librampart.so is looked for. */
export interface LibraryCandidate {
  path: string;
  origin: LibraryOrigin;
}

export interface SearchOptions {
  /** Home directory whose `.rampart/lib` is searched first (default: os.homedir(), i.e. $HOME). */
  home?: string;
  /** Path of the running `rampart` binary (default: process.argv[1]). */
  binary?: string;
  /** Paths locateLibrary never picks (they are still listed as searched). */
  exclude?: string[];
}

export interface LocateResult {
  /** The first candidate that exists (its path and where it came from). */
  found?: LibraryCandidate;
  /** Every candidate, in search order. */
  searched: LibraryCandidate[];
}

/** What verifyLibrary found; `ok` exactly when `problems` is empty. */
export interface LibraryReport {
  path: string;
  ok: boolean;
  /** Human sentences, one per problem. */
  problems: string[];
  elfClass?: 'ELF32' | 'ELF64';
  /** The library's architecture, e.g. `x86_64`. */
  machine?: string;
  hostMachine: string;
  sharedObject: boolean;
  /** Required symbols of crates/preload/exports.txt the library exports. */
  exportedHooks: string[];
  /** Required symbols of exports.txt it lacks (each is a problem). */
  missingSymbols: string[];
  /** Optional symbols of exports.txt it exports. */
  exportedOptional: string[];
  /** Optional symbols it lacks: it was built against a libc without them (not a problem). */
  missingOptional: string[];
  /** Its `rampart_preload_version`. */
  version?: string;
  expectedVersion: string;
}

export interface InstallOptions {
  /** Replace a newer installed library, or install a source of another version. */
  force?: boolean;
  /** The version the source must carry (default: this package's VERSION). */
  expectedVersion?: string;
}

export interface InstallResult {
  /** Where the library now is. */
  path: string;
  version: string;
  /** The version of the library it replaced. */
  replacedVersion?: string;
  /** The same bytes were already installed: nothing was written. */
  unchanged: boolean;
}

export interface Shebang {
  interpreter: string;
  argument?: string;
  /** The interpreter, inspected in turn (absent when it cannot be read: see `error`). */
  target?: ExecutableInfo;
  error?: string;
}

/** Facts about a program that decide whether preloading can protect it. */
export interface ExecutableInfo {
  path: string;
  isElf: boolean;
  elfClass?: 'ELF32' | 'ELF64';
  machine?: string;
  /** An ELF program without PT_INTERP: the dynamic loader never runs, LD_PRELOAD is ignored. */
  isStatic: boolean;
  /** Its dynamic loader (PT_INTERP), e.g. /lib64/ld-linux-x86-64.so.2. */
  interpreter?: string;
  setuid: boolean;
  setgid: boolean;
  /** The `#!` line of a script, with its interpreter inspected. */
  shebang?: Shebang;
}

/** RAMPART_MODE as librampart.so reads it. */
export type LibraryMode = 'enforce' | 'monitor' | 'disabled';

/** The RAMPART_* settings as librampart.so reads them (its own parser: crates/settings). */
export interface LibrarySettings {
  /** RAMPART_URL as given (or the default), as the library names it in messages. */
  url: string;
  /** Where the library sends checks (`<url>/v1/preflight/exec`), or null when RAMPART_URL is unusable. */
  endpoint: string | null;
  /** Why RAMPART_URL cannot be used (the library's sentence; enforce mode then denies), or null. */
  urlProblem: string | null;
  /** RAMPART_TOKEN, or null when unset or empty. */
  token: string | null;
  mode: LibraryMode;
  /** Whether an unreachable server allows (RAMPART_FAIL_OPEN). */
  failOpen: boolean;
  agent: string;
  session: string;
  debug: boolean;
  /** Problems with the values (unknown mode or fail-open flag), printed by the library with RAMPART_DEBUG. */
  notes: string[];
}

/** One RAMPART_* variable librampart.so reads. */
export interface LibrarySettingsRow {
  name: string;
  /** What an unset or empty variable behaves as (`<pid>`: the process id); null: nothing (RAMPART_TOKEN). */
  default: string | null;
}

/** The addon cannot be loaded (platform package missing, addon not built or out of date). */
export class NativeUnavailableError extends RampartError {}

type NativeBinding = typeof Binding;

/** The platform part of the package names, e.g. `linux-x64-gnu` (napi-rs naming). */
export const platformTag: string = process.platform === 'linux' ? `linux-${process.arch}-gnu` : `${process.platform}-${process.arch}`;

/** The npm package carrying the prebuilt addon and library for this platform. */
export const platformPackage = `@rampart/core-${platformTag}`;

const bindingPath = path.join(packageRoot, 'native', 'binding.cjs');
const requireFromPackage = createRequire(path.join(packageRoot, 'package.json'));

let binding: NativeBinding | undefined;
let loadError: NativeUnavailableError | undefined;

function native(): NativeBinding {
  if (binding) return binding;
  if (loadError) throw loadError;
  let loaded: NativeBinding;
  try {
    loaded = requireFromPackage(bindingPath) as NativeBinding;
  } catch (error) {
    loadError = new NativeUnavailableError(
      `the platform package ${platformPackage} is not installed: it carries librampart.so and the native ` +
        `addon for ${platformTag}, and no locally built native/rampart.${platformTag}.node exists ` +
        `(${loaderReason(error)}). Reinstall rampart with its optional dependencies (npm install rampart, ` +
        `without --omit=optional), or build from source: in a checkout of the rampart repository run ` +
        `npm install (it builds the addon with napi build and librampart.so with cargo build --release -p rampart-preload).`,
    );
    throw loadError;
  }
  if (typeof loaded.verifyLibrary !== 'function' || typeof loaded.inspectExecutable !== 'function') {
    loadError = new NativeUnavailableError(
      `rampart's native addon is out of date (it lacks verifyLibrary/inspectExecutable): ` +
        `rebuild it with npm run build:native, or reinstall ${platformPackage}.`,
    );
    throw loadError;
  }
  binding = loaded;
  return binding;
}

/** The loader's innermost reason (its cause chain ends at the real require error). */
function loaderReason(error: unknown): string {
  let innermost = error;
  while (innermost instanceof Error && innermost.cause instanceof Error) innermost = innermost.cause;
  return firstLine(innermost);
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!.trim();
}

/** True when the addon loads; `nativeLoadError()` then says why not. */
export function nativeAvailable(): boolean {
  try {
    native();
    return true;
  } catch (error) {
    if (error instanceof NativeUnavailableError) return false;
    throw error;
  }
}

/** Why the addon cannot be loaded, or undefined when it can. */
export function nativeLoadError(): NativeUnavailableError | undefined {
  return nativeAvailable() ? undefined : loadError;
}

/** `librampart.so` (Linux) or `librampart.dylib` (macOS). */
export function libraryFileName(): string {
  return native().libraryFileName();
}

/** Every symbol librampart.so must export (the required rows of crates/preload/exports.txt). */
export function expectedExports(): string[] {
  return native().expectedExports();
}

/** The binding, which must have `name`: an addon built before it was added gets a clear error. */
function nativeWith<K extends keyof NativeBinding>(name: K): NativeBinding {
  const loaded = native();
  if (typeof loaded[name] !== 'function') {
    throw new NativeUnavailableError(
      `rampart's native addon is out of date (it lacks ${name}): rebuild it with npm run build:native, ` + `or reinstall ${platformPackage}.`,
    );
  }
  return loaded;
}

/**
 * The RAMPART_* settings librampart.so would read from `entries` (`NAME=value` strings, as in an
 * environment: the first of a name wins, an empty value is unset) in process `pid` (the default
 * session is `preload-<pid>`). Computed by the library's own parser; reads no environment.
 */
export function librarySettings(entries: string[], pid: number): LibrarySettings {
  if (!Number.isInteger(pid) || pid < 0 || pid > 0xffff_ffff) {
    throw new RangeError(`pid must be an integer from 0 to 4294967295, not ${pid}`);
  }
  return nativeWith('librarySettings').librarySettings(entries, pid);
}

/** Every RAMPART_* variable librampart.so reads, with its default, in the library's order. */
export function librarySettingsTable(): LibrarySettingsRow[] {
  return nativeWith('librarySettingsTable').librarySettingsTable();
}

/** Symbols librampart.so exports only when built against a libc that has them (the optional rows). */
export function optionalExports(): string[] {
  return native().optionalExports();
}

/** `<home>/.rampart/lib`, where `rampart lib install` puts the library. */
export function defaultLibraryDir(home: string = os.homedir()): string {
  return path.join(home, '.rampart', 'lib');
}

function searchInputs(options: SearchOptions): Binding.SearchInputs {
  return {
    home: options.home ?? os.homedir(),
    binaryDirs: binaryDirs(options.binary ?? process.argv[1]),
    platformPackageDir: platformPackageDir(),
    packageRoot,
    exclude: options.exclude?.map((file) => path.resolve(file)),
  };
}

/** The real directory of the `rampart` binary and its parent (a package's bin is in dist/). */
function binaryDirs(binary: string | undefined): string[] {
  if (!binary) return [];
  try {
    const dir = path.dirname(fs.realpathSync(binary));
    return [dir, path.dirname(dir)];
  } catch {
    return [];
  }
}

function platformPackageDir(): string | undefined {
  try {
    return path.dirname(requireFromPackage.resolve(`${platformPackage}/package.json`));
  } catch {
    return undefined;
  }
}

/**
 * Where librampart.so is looked for, best first: ~/.rampart/lib, /usr/local/lib, beside the
 * `rampart` binary (and its parent), the platform package, a source checkout's target/release.
 */
export function librarySearchPath(options: SearchOptions = {}): LibraryCandidate[] {
  return native().librarySearchPath(searchInputs(options)) as LibraryCandidate[];
}

/** The first library along the search path that exists (not yet verified: see verifyLibrary). */
export function locateLibrary(options: SearchOptions = {}): LocateResult {
  return native().locateLibrary(searchInputs(options)) as LocateResult;
}

/**
 * Checks the file is a librampart this host can preload: ELF of the host's class and machine,
 * a shared object, every required exports.txt symbol exported, version equal to `expectedVersion`.
 * Reads the file, never loads it. Problems, including an unreadable file, are in the report.
 */
export function verifyLibrary(libraryPath: string, expectedVersion: string = VERSION): LibraryReport {
  return native().verifyLibrary(path.resolve(libraryPath), expectedVersion) as LibraryReport;
}

/**
 * Verifies `source` and installs it into `dir` as librampart.so, atomically (temp file, fsync,
 * chmod 0755, rename, fsync dir), creating `dir` when missing. Throws an Error saying what is
 * wrong when the source is unusable or (without `force`) a newer version is installed.
 */
export function installLibrary(source: string, dir: string, options: InstallOptions = {}): InstallResult {
  return native().installLibrary(path.resolve(source), path.resolve(dir), options.expectedVersion ?? VERSION, options.force ?? false);
}

/** Compares semantic versions: -1, 0 or 1. Throws when either is not MAJOR.MINOR.PATCH[-pre]. */
export function compareVersions(a: string, b: string): number {
  return native().compareVersions(a, b);
}

/** Where a command name leads; when not found, why (the error execvp would give). */
export type ResolvedCommand = { found: true; path: string } | { found: false; reason: 'not-found' | 'not-executable' | 'is-directory'; path?: string };

/**
 * Like execvp: a name with a `/` is a path relative to `cwd`, otherwise the first executable
 * regular file on `searchPath`. When none is found, the reason execvp would report: EACCES
 * (a directory or non-executable match seen on the way) beats ENOENT.
 */
export function resolveCommand(command: string, searchPath: string = process.env.PATH ?? DEFAULT_PATH, cwd: string = process.cwd()): ResolvedCommand {
  if (command === '') return { found: false, reason: 'not-found' };
  if (command.includes('/')) {
    const candidate = path.resolve(cwd, command);
    return checkCandidate(candidate) ?? { found: false, reason: 'not-found', path: candidate };
  }
  let blocked: ResolvedCommand | undefined;
  for (const dir of searchPath.split(':')) {
    const result = checkCandidate(path.resolve(cwd, dir || '.', command));
    if (result?.found) return result;
    blocked ??= result;
  }
  return blocked ?? { found: false, reason: 'not-found' };
}

/** The search path when PATH is unset. */
const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';

function checkCandidate(candidate: string): ResolvedCommand | undefined {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(candidate);
  } catch {
    return undefined;
  }
  if (stat.isDirectory()) return { found: false, reason: 'is-directory', path: candidate };
  try {
    if (!stat.isFile()) throw new Error('not a regular file'); // execve: EACCES
    fs.accessSync(candidate, fs.constants.X_OK);
  } catch {
    return { found: false, reason: 'not-executable', path: candidate };
  }
  return { found: true, path: candidate };
}

/** Linux follows at most this many nested `#!` interpreters. */
const MAX_INTERPRETER_DEPTH = 4;

/**
 * Inspects the program `command` names (a path, or a bare name found through PATH). For a
 * `#!` script, the interpreter is inspected too. Throws an Error naming the file when it
 * cannot be found or read.
 */
export function inspectExecutable(command: string, options: { path?: string; cwd?: string } = {}): ExecutableInfo {
  const resolved = resolveCommand(command, options.path ?? process.env.PATH ?? '', options.cwd);
  // A path is inspected whatever is there (the addon says what is wrong with it); a bare name must be found.
  const file = resolved.found || command.includes('/') ? resolved.path : undefined;
  if (file === undefined) throw new Error(`${command}: command not found in PATH`);
  return inspectFile(file, 0);
}

function inspectFile(file: string, depth: number): ExecutableInfo {
  const info = native().inspectExecutable(file) as ExecutableInfo;
  if (info.shebang) {
    if (depth >= MAX_INTERPRETER_DEPTH) {
      info.shebang.error = `too many nested #! interpreters (more than ${MAX_INTERPRETER_DEPTH})`;
    } else {
      try {
        // The kernel resolves a relative interpreter against the caller's cwd, as path.resolve does.
        info.shebang.target = inspectFile(path.resolve(info.shebang.interpreter), depth + 1);
      } catch (error) {
        info.shebang.error = firstLine(error);
      }
    }
  }
  return info;
}

/** Why this one program (not a `#!` interpreter behind it) never loads a preload library, if it does not. */
export function preloadBlocker(info: ExecutableInfo): 'setuid' | 'setgid' | 'static' | undefined {
  if (info.setuid) return 'setuid';
  if (info.setgid) return 'setgid';
  return info.isElf && info.isStatic ? 'static' : undefined;
}

/**
 * Why preloading cannot protect this program (static, setuid/setgid, or the same for the
 * interpreter of a script), or undefined when it can.
 */
export function preloadObstacle(info: ExecutableInfo): string | undefined {
  const blocker = preloadBlocker(info);
  if (blocker === 'setuid' || blocker === 'setgid') return `${info.path} is ${blocker}: the dynamic loader ignores LD_PRELOAD for it`;
  if (blocker === 'static') return `${info.path} is statically linked: LD_PRELOAD has no effect on it`;
  if (info.shebang?.target) {
    const inner = preloadObstacle(info.shebang.target);
    if (inner) return `${info.path} runs ${info.shebang.interpreter}, and ${inner}`;
  }
  return undefined;
}
