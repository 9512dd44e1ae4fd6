// The program the user asked to run: tell whether preloading can protect it at all (a static or
// setuid program never loads librampart.so). Finding it on PATH is resolveCommand (native/index.ts).
import path from 'node:path';
import { inspectExecutable, preloadBlocker, resolveCommand, type ExecutableInfo } from '../native/index.ts';

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
  const blocker = preloadBlocker(info);
  if (blocker === 'static') found.push({ path: info.path, why: 'is statically linked; LD_PRELOAD cannot protect it' });
  else if (blocker) found.push({ path: info.path, why: `is ${blocker}, so the loader ignores LD_PRELOAD for it` });
  const shebang = info.shebang;
  if (shebang?.target) found.push(...obstacles(shebang.target, searchPath, cwd, depth + 1));
  const name = shebang?.argument?.split(/\s+/).find((word) => !word.startsWith('-'));
  if (shebang && path.basename(shebang.interpreter) === 'env' && name) {
    const resolved = resolveCommand(name, searchPath, cwd);
    if (resolved.found) found.push(...unprotectablePrograms(resolved.path, searchPath, cwd, depth + 1));
  }
  return found;
}
