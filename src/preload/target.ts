// The program the user asked to run: find it the way a shell would (PATH), and tell whether
// preloading can protect it at all (a static or setuid program never loads librampart.so).
import fs from 'node:fs';
import path from 'node:path';
import { inspectExecutable, type ExecutableInfo } from '../native/index.ts';

export type Resolved =
  | { found: true; path: string }
  | { found: false; reason: 'not-found' | 'not-executable' | 'is-directory'; path?: string };

/** Like execvp: a name with a slash is a path, otherwise the first executable file on PATH. */
export function resolveCommand(command: string, searchPath: string | undefined, cwd: string): Resolved {
  if (command.includes('/')) return checkCandidate(path.resolve(cwd, command)) ?? { found: false, reason: 'not-found' };
  let blocked: Resolved | undefined;
  for (const dir of (searchPath ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    const candidate = path.resolve(cwd, dir === '' ? '.' : dir, command);
    const result = checkCandidate(candidate);
    if (result?.found) return result;
    blocked ??= result; // execvp reports EACCES if it saw a non-executable match and nothing better
  }
  return blocked ?? { found: false, reason: 'not-found' };
}

function checkCandidate(candidate: string): Resolved | undefined {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(candidate);
  } catch {
    return undefined;
  }
  if (stat.isDirectory()) return { found: false, reason: 'is-directory', path: candidate };
  try {
    fs.accessSync(candidate, fs.constants.X_OK);
  } catch {
    return { found: false, reason: 'not-executable', path: candidate };
  }
  return { found: true, path: candidate };
}

export interface Unprotectable {
  path: string;
  why: string;
}

/**
 * Programs on the way from `file` to running code that preloading cannot protect: the file
 * itself, or for a `#!` script its interpreter, including `#!/usr/bin/env NAME` (NAME via PATH).
 */
export function unprotectablePrograms(file: string, searchPath: string | undefined, cwd: string, depth = 0): Unprotectable[] {
  if (depth > 4) return []; // Linux itself gives up on deeper #! chains
  let info: ExecutableInfo;
  try {
    info = inspectExecutable(file, { path: searchPath ?? '', cwd });
  } catch {
    return []; // unreadable: the exec itself will report it
  }
  return obstacles(info, searchPath, cwd, depth);
}

function obstacles(info: ExecutableInfo, searchPath: string | undefined, cwd: string, depth: number): Unprotectable[] {
  const found: Unprotectable[] = [];
  if (info.setuid || info.setgid) {
    found.push({ path: info.path, why: `is ${info.setuid ? 'setuid' : 'setgid'}, so the loader ignores LD_PRELOAD for it` });
  } else if (info.isElf && info.isStatic) {
    found.push({ path: info.path, why: 'is statically linked; LD_PRELOAD cannot protect it' });
  }
  const shebang = info.shebang;
  if (shebang?.target) found.push(...obstacles(shebang.target, searchPath, cwd, depth + 1));
  const name = shebang?.argument?.split(/\s+/).find((word) => !word.startsWith('-'));
  if (shebang && path.basename(shebang.interpreter) === 'env' && name) {
    const resolved = resolveCommand(name, searchPath, cwd);
    if (resolved.found) found.push(...unprotectablePrograms(resolved.path, searchPath, cwd, depth + 1));
  }
  return found;
}
