import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** `~/.rampart`, where the token, audit log, pid file and installed library live. */
export function rampartHome(): string {
  return path.join(os.homedir(), '.rampart');
}

/**
 * The nearest directory at or above `start` whose package.json is named "rampart". Found by
 * walking up rather than by a fixed `../..`, because this code runs from src/util/ (tsx), from
 * dist/util/ (tsc) and from a chunk at the top of dist/ (the esbuild bundle) alike.
 */
export function findPackageRoot(start: string): string | undefined {
  for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
    try {
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (manifest.name === 'rampart') return dir;
    } catch {
      // no package.json here (or not JSON): keep walking up
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

const moduleDir = path.dirname(fileURLToPath(import.meta.url));

/** Root of the installed package (or of the source checkout): holds package.json and policies/. */
export const packageRoot: string = findPackageRoot(moduleDir) ?? path.dirname(moduleDir);

/** The built-in default policy shipped with the package. */
export const builtinPolicyPath: string = path.join(packageRoot, 'policies', 'standard.yaml');
