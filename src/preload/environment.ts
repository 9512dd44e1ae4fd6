// The environment the protected command starts with: our library first in LD_PRELOAD, and the
// RAMPART_* snapshot librampart.so reads when it loads (product.md, "The library").
import path from 'node:path';
import type { PreloadSettings } from './settings.ts';
import { urlForChild } from './settings.ts';

export const LIBRARY_FILE_NAME = 'librampart.so';

/**
 * Our library first, then whatever was already preloaded. ld.so splits LD_PRELOAD on colons and
 * spaces; any other librampart.so in it (ours or an older copy) is dropped so the hooks load once.
 */
export function preloadValue(libraryPath: string, existing: string | undefined): string {
  const others = (existing ?? '')
    .split(/[:\s]+/)
    .filter((entry) => entry !== '' && path.basename(entry) !== LIBRARY_FILE_NAME);
  return [libraryPath, ...others].join(':');
}

export function childEnvironment(
  base: NodeJS.ProcessEnv,
  settings: PreloadSettings,
  libraryPath: string,
  token: string | undefined,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  env.LD_PRELOAD = preloadValue(libraryPath, base.LD_PRELOAD);
  env.RAMPART_URL = urlForChild(settings.address.url);
  // A token inherited from the environment is already in `env`; one from --token or the file is set
  // here. With none at all the library sends no Authorization header (and the server says 401).
  if (token !== undefined) env.RAMPART_TOKEN = token;
  env.RAMPART_MODE = settings.mode;
  env.RAMPART_FAIL_OPEN = settings.failOpen ? '1' : '0';
  env.RAMPART_AGENT = settings.agent;
  env.RAMPART_SESSION = settings.session;
  if (settings.debug) env.RAMPART_DEBUG = '1';
  return env;
}
