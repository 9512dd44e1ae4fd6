import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** `~/.rampart`, where the token, audit log, pid file and installed library live. */
export function rampartHome(): string {
  return path.join(os.homedir(), '.rampart');
}

/** Root of the installed package (or of the source checkout): holds package.json and policies/. */
export const packageRoot: string = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The built-in default policy shipped with the package. */
export const builtinPolicyPath: string = path.join(packageRoot, 'policies', 'standard.yaml');
