// What the launcher will do, resolved once from flags and environment. Precedence:
//   server URL:  --port  >  RAMPART_URL  >  http://127.0.0.1:9090 (the only case that may autostart)
//   token:       --token >  RAMPART_TOKEN  >  ~/.rampart/token (src/util/token.ts)
//   mode, fail-open, agent, session: the flag > the exported RAMPART_MODE / RAMPART_FAIL_OPEN /
//   RAMPART_AGENT / RAMPART_SESSION > the product page's default (a user who exported
//   RAMPART_FAIL_OPEN=0 keeps fail-closed); --debug sets RAMPART_DEBUG=1, otherwise an
//   inherited RAMPART_DEBUG passes through untouched.
import { UsageError } from 'clipanion';
import { MODES, type Mode } from '../commands/options.ts';

export const DEFAULT_PORT = 9090;

export interface ServerAddress {
  url: URL;
  /** Where the URL came from; only 'default' lets the launcher start a server. */
  source: 'port' | 'env' | 'default';
  port: number;
}

export function serverAddress(portFlag: number | undefined, env: NodeJS.ProcessEnv): ServerAddress {
  if (portFlag !== undefined) return { url: new URL(`http://127.0.0.1:${portFlag}`), source: 'port', port: portFlag };
  const fromEnv = env.RAMPART_URL?.trim();
  if (fromEnv) {
    const url = parseServerUrl(fromEnv, 'RAMPART_URL');
    return { url, source: 'env', port: Number(url.port || 80) };
  }
  return { url: new URL(`http://127.0.0.1:${DEFAULT_PORT}`), source: 'default', port: DEFAULT_PORT };
}

/** A server URL the library will accept: http(s), no credentials in it. */
export function parseServerUrl(text: string, where: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`${where} is not a URL: ${JSON.stringify(text)} (expected e.g. http://127.0.0.1:9090)`);
  }
  if (url.protocol === 'https:') {
    // The library talks plain HTTP to a local server (no TLS stack in every process): it would
    // deny every command, so say it now.
    throw new UsageError(`${where} must be an http:// URL: librampart.so does not speak https (got ${JSON.stringify(text)})`);
  }
  if (url.protocol !== 'http:') {
    throw new UsageError(`${where} must start with http:// (got ${JSON.stringify(text)})`);
  }
  if (url.username || url.password) {
    throw new UsageError(`${where} must not carry a user or password (use --token / RAMPART_TOKEN instead)`);
  }
  return url;
}

/** The URL the child gets: no trailing slash, exactly as the library expects it. */
export function urlForChild(url: URL): string {
  return url.href.replace(/\/+$/, '');
}

/**
 * An API endpoint under the server URL, joined the way librampart.so joins it (appended, so a
 * RAMPART_URL with a path prefix such as http://host:9090/rampart keeps it): the CLI must ask
 * the same place the library will.
 */
export function endpoint(url: URL, apiPath: `/${string}`): URL {
  return new URL(urlForChild(url) + apiPath);
}

/**
 * `--fail-open` is a clipanion string option that tolerates being a boolean, so
 * `--fail-open`, `--no-fail-open`, `--fail-open=true` and `--fail-open=false` all work.
 * `--fail-open false -- agent` (the value as the next word) arrives as a bare `--fail-open`
 * followed by the word: a leading true/false is always its value (so `--fail-open false`
 * alone is a missing-command error, never a run of /bin/false).
 */
export function resolveFailOpen(
  flag: string | boolean | undefined,
  command: string[],
  env: NodeJS.ProcessEnv = {},
): { failOpen: boolean; command: string[] } {
  if (flag === undefined) return { failOpen: envFailOpen(env), command };
  if (typeof flag === 'boolean') {
    const [first, ...rest] = command;
    if (flag && (first === 'true' || first === 'false')) {
      return { failOpen: first === 'true', command: rest[0] === '--' ? rest.slice(1) : rest };
    }
    return { failOpen: flag, command };
  }
  const value = flag.trim().toLowerCase();
  if (value === 'true' || value === '1') return { failOpen: true, command };
  if (value === 'false' || value === '0') return { failOpen: false, command };
  throw new UsageError(`Invalid value for --fail-open: expected true or false (got ${JSON.stringify(flag)})`);
}

/** RAMPART_FAIL_OPEN as the library reads it: 1 (default) or 0; anything else is a usage error. */
function envFailOpen(env: NodeJS.ProcessEnv): boolean {
  const value = env.RAMPART_FAIL_OPEN?.trim();
  if (value === undefined || value === '' || value === '1') return true;
  if (value === '0') return false;
  throw new UsageError(`RAMPART_FAIL_OPEN must be 1 or 0 (got ${JSON.stringify(env.RAMPART_FAIL_OPEN)})`);
}

/** --mode, else RAMPART_MODE, else enforce. */
export function resolveMode(flag: Mode | undefined, env: NodeJS.ProcessEnv): Mode {
  if (flag !== undefined) return flag;
  const value = env.RAMPART_MODE?.trim();
  if (value === undefined || value === '') return 'enforce';
  if ((MODES as readonly string[]).includes(value)) return value as Mode;
  throw new UsageError(`RAMPART_MODE must be one of ${MODES.join(', ')} (got ${JSON.stringify(env.RAMPART_MODE)})`);
}

/** A flag, else a non-empty exported variable, else the default. */
export function flagOrEnv(flag: string | undefined, value: string | undefined, fallback: string): string {
  if (flag !== undefined) return flag;
  return value !== undefined && value.trim() !== '' ? value : fallback;
}

export interface PreloadSettings {
  command: string[];
  address: ServerAddress;
  tokenFlag?: string;
  mode: Mode;
  failOpen: boolean;
  agent: string;
  session: string;
  debug: boolean;
  autostart: boolean;
}
