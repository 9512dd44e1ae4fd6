// The environment a protected program starts with: our library first in LD_PRELOAD, and the
// RAMPART_* values librampart.so reads when it loads (docs/library.md, "Environment"). The one
// builder for `rampart preload`, `rampart wrap` and `rampart doctor`'s probes.
import path from 'node:path';
import type { Mode } from '../mode.ts';

export const LIBRARY_FILE_NAME = 'librampart.so';

/** What the library in the child is told. */
export interface GuardSettings {
  /** RAMPART_URL, as the library should read it. */
  url: string;
  /** RAMPART_TOKEN; undefined leaves an inherited one in place (or none). */
  token?: string;
  mode: Mode;
  failOpen: boolean;
  agent: string;
  session: string;
  /** Sets RAMPART_DEBUG=1; false leaves an inherited value alone. */
  debug: boolean;
}

/**
 * Our library first, then whatever was already preloaded. ld.so splits LD_PRELOAD on colons and
 * spaces; any other librampart.so in it (ours or an older copy) is dropped so the hooks load once.
 */
export function preloadValue(libraryPath: string, existing: string | undefined): string {
  const others = (existing ?? '').split(/[:\s]+/).filter((entry) => entry !== '' && path.basename(entry) !== LIBRARY_FILE_NAME);
  return [libraryPath, ...others].join(':');
}

/** `base` with the library preloaded and told `guard`. */
export function guardedEnvironment(base: NodeJS.ProcessEnv, guard: GuardSettings, libraryPath: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  env.LD_PRELOAD = preloadValue(libraryPath, base.LD_PRELOAD);
  env.RAMPART_URL = guard.url;
  // With no token at all the library sends no Authorization header (and the server says 401).
  if (guard.token !== undefined) env.RAMPART_TOKEN = guard.token;
  env.RAMPART_MODE = guard.mode;
  env.RAMPART_FAIL_OPEN = guard.failOpen ? '1' : '0';
  env.RAMPART_AGENT = guard.agent;
  env.RAMPART_SESSION = guard.session;
  if (guard.debug) env.RAMPART_DEBUG = '1';
  return env;
}
