// The settings librampart.so reads from its environment (RAMPART_*), read here exactly as the
// library reads them (crates/settings): one table, the same accepted spellings and defaults, the
// same URL rules. A test (__tests__/settings.test.ts) runs both parsers on the same inputs, so a
// value the library would refuse is refused by the CLI before anything runs (docs/library.md,
// "Environment").
//
// Precedence for `rampart preload` (docs/cli.md):
//   server URL:  --port  >  RAMPART_URL  >  http://127.0.0.1:9090 (the only case that may autostart)
//   token:       --token >  RAMPART_TOKEN  >  ~/.rampart/token (src/util/token.ts)
//   mode, fail-open, agent, session: the flag > the exported variable > the default;
//   --debug sets RAMPART_DEBUG=1, otherwise an inherited RAMPART_DEBUG passes through untouched.
import { SettingsError } from '../errors.ts';
import { MODES, type Mode } from '../mode.ts';

export { MODES, type Mode };

export const DEFAULT_PORT = 9090;
export const DEFAULT_URL = `http://127.0.0.1:${DEFAULT_PORT}`;
export const DEFAULT_AGENT = 'preload';

export interface LibrarySetting {
  variable: string;
  /** The `rampart preload` flag that sets it. */
  flag: string;
  /** What an unset or empty variable means (null: nothing; for the token, no Authorization header). */
  default: string | null;
}

/** The variables librampart.so reads, in crates/settings order. */
export const LIBRARY_SETTINGS: readonly LibrarySetting[] = [
  { variable: 'RAMPART_URL', flag: '--port', default: DEFAULT_URL },
  { variable: 'RAMPART_TOKEN', flag: '--token', default: null },
  { variable: 'RAMPART_MODE', flag: '--mode', default: 'enforce' },
  { variable: 'RAMPART_FAIL_OPEN', flag: '--fail-open', default: '1' },
  { variable: 'RAMPART_AGENT', flag: '--agent', default: DEFAULT_AGENT },
  { variable: 'RAMPART_SESSION', flag: '--session', default: 'preload-<pid>' },
  { variable: 'RAMPART_DEBUG', flag: '--debug', default: '0' },
];

/** The library lower-cases ASCII only (Rust's to_ascii_lowercase). */
function asciiLower(text: string): string {
  return text.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** RAMPART_MODE / --mode: enforce, monitor or disabled, in any case; undefined otherwise. */
export function parseMode(text: string): Mode | undefined {
  const value = asciiLower(text);
  return (MODES as readonly string[]).includes(value) ? (value as Mode) : undefined;
}

/** RAMPART_FAIL_OPEN, RAMPART_DEBUG, --fail-open: 1/true/yes/on or 0/false/no/off, in any case. */
export function parseSwitch(text: string): boolean | undefined {
  const value = asciiLower(text);
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['0', 'false', 'no', 'off'].includes(value)) return false;
  return undefined;
}

export const SWITCH_SPELLINGS = '1, true, yes, on or 0, false, no, off';

/**
 * RAMPART_URL as the library checks it: the URL without trailing slashes, or what is wrong
 * (the library's own wording). The rules are the library's, character for character, not the
 * WHATWG URL parser's, which would accept (and rewrite) what the library refuses.
 */
export function checkUrl(url: string): { base: string } | { problem: string } {
  const invalid = (what: string) => ({ problem: `RAMPART_URL is invalid: ${what}` });
  if (/[\p{White_Space}\p{Cc}]/u.test(url)) return invalid('contains whitespace or control characters');
  const separator = url.indexOf('://');
  if (separator === -1) return invalid('missing scheme:// (expected http://host:port)');
  const scheme = url.slice(0, separator);
  const rest = url.slice(separator + 3);
  const lowerScheme = asciiLower(scheme);
  if (lowerScheme === 'https') return { problem: 'RAMPART_URL uses https, which librampart.so does not support' };
  if (lowerScheme !== 'http') return { problem: `RAMPART_URL scheme "${scheme}" is not http or https` };
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd === -1 ? rest : rest.slice(0, authorityEnd);
  const path = authorityEnd === -1 ? '' : rest.slice(authorityEnd);
  if (authority.includes('@')) return { problem: 'RAMPART_URL must not contain user:password@ (use RAMPART_TOKEN)' };
  if (/[?#]/.test(path)) return invalid('must not carry a query or fragment');
  let host: string;
  let port: string | undefined;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close === -1) return invalid('unclosed [ in IPv6 address');
    host = authority.slice(1, close);
    const after = authority.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) return invalid('unexpected text after ] in IPv6 address');
    port = after.startsWith(':') ? after.slice(1) : undefined;
  } else {
    const colon = authority.lastIndexOf(':');
    host = colon === -1 ? authority : authority.slice(0, colon);
    port = colon === -1 ? undefined : authority.slice(colon + 1);
  }
  if (host === '') return invalid('missing host');
  if (port !== undefined && !(/^[0-9]+$/.test(port) && Number(port) >= 1 && Number(port) <= 65535)) return invalid('port is not a number from 1 to 65535');
  return { base: url.replace(/\/+$/, '') };
}

/** What the library makes of an environment: its parse, with the notes it prints under RAMPART_DEBUG. */
export interface LibrarySettings {
  url: string;
  endpoint: string | null;
  urlProblem: string | null;
  token: string | null;
  mode: Mode;
  failOpen: boolean;
  agent: string;
  session: string;
  debug: boolean;
  notes: string[];
}

/** The library's reading of `env` (crates/settings `Settings::from_lookup`), in TypeScript. */
export function librarySettings(env: NodeJS.ProcessEnv, pid: number): LibrarySettings {
  const value = (name: string) => {
    const text = env[name];
    return text === undefined || text === '' ? undefined : text;
  };
  const notes: string[] = [];
  const url = value('RAMPART_URL') ?? DEFAULT_URL;
  const checked = checkUrl(url);
  const modeText = value('RAMPART_MODE');
  let mode: Mode = 'enforce';
  if (modeText !== undefined) {
    const parsed = parseMode(modeText);
    if (parsed === undefined) notes.push(`RAMPART_MODE "${asciiLower(modeText)}" is not enforce, monitor or disabled; using enforce`);
    mode = parsed ?? 'enforce';
  }
  const failOpenText = value('RAMPART_FAIL_OPEN');
  let failOpen = true;
  if (failOpenText !== undefined) {
    const parsed = parseSwitch(failOpenText);
    if (parsed === undefined) notes.push(`RAMPART_FAIL_OPEN "${asciiLower(failOpenText)}" is not 1 or 0; failing closed`);
    failOpen = parsed ?? false;
  }
  const debugText = value('RAMPART_DEBUG');
  return {
    url,
    endpoint: 'base' in checked ? `${checked.base}/v1/preflight/exec` : null,
    urlProblem: 'problem' in checked ? checked.problem : null,
    token: value('RAMPART_TOKEN') ?? null,
    mode,
    failOpen,
    agent: value('RAMPART_AGENT') ?? DEFAULT_AGENT,
    session: value('RAMPART_SESSION') ?? `preload-${pid}`,
    debug: debugText !== undefined && parseSwitch(debugText) === true,
    notes,
  };
}

export interface ServerAddress {
  /** The server URL, for the CLI's own requests. */
  url: URL;
  /** The same URL as the library gets it (RAMPART_URL): the user's text, trailing slashes removed. */
  childUrl: string;
  /** Where the URL came from; only 'default' lets the launcher start a server. */
  source: 'port' | 'env' | 'default';
  port: number;
}

/** --port, else RAMPART_URL (refused as the library would refuse it), else the default. */
export function serverAddress(portFlag: number | undefined, env: NodeJS.ProcessEnv): ServerAddress {
  if (portFlag !== undefined) return addressOf(`http://127.0.0.1:${portFlag}`, 'port');
  const fromEnv = env.RAMPART_URL;
  if (fromEnv !== undefined && fromEnv !== '') {
    const checked = checkUrl(fromEnv);
    if ('problem' in checked) throw new SettingsError(`${checked.problem} (got ${JSON.stringify(fromEnv)})`);
    return addressOf(checked.base, 'env');
  }
  return addressOf(DEFAULT_URL, 'default');
}

function addressOf(base: string, source: ServerAddress['source']): ServerAddress {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new SettingsError(`RAMPART_URL is invalid: not a URL (got ${JSON.stringify(base)})`);
  }
  return { url, childUrl: base, source, port: Number(url.port || 80) };
}

/**
 * An API endpoint under the server URL, joined the way librampart.so joins it (appended, so a
 * RAMPART_URL with a path prefix such as http://host:9090/rampart keeps it): the CLI must ask
 * the same place the library will.
 */
export function endpoint(url: URL, apiPath: `/${string}`): URL {
  return new URL(url.href.replace(/\/+$/, '') + apiPath);
}

/**
 * `--fail-open` is a clipanion string option that tolerates being a boolean, so `--fail-open`,
 * `--no-fail-open`, `--fail-open=true` and `--fail-open=false` all work. `--fail-open false --
 * agent` (the value as the next word) arrives as a bare `--fail-open` followed by the word: a
 * leading switch word is always its value (so `--fail-open false` alone is a missing-command
 * error, never a run of /bin/false). Unset, the exported RAMPART_FAIL_OPEN applies.
 */
export function resolveFailOpen(flag: string | boolean | undefined, command: string[], env: NodeJS.ProcessEnv = {}): { failOpen: boolean; command: string[] } {
  if (flag === undefined) return { failOpen: switchFromEnv(env, 'RAMPART_FAIL_OPEN', true), command };
  if (typeof flag === 'boolean') {
    const [first, ...rest] = command;
    const value = first === undefined ? undefined : parseSwitch(first);
    if (flag && value !== undefined) return { failOpen: value, command: rest[0] === '--' ? rest.slice(1) : rest };
    return { failOpen: flag, command };
  }
  const value = parseSwitch(flag.trim());
  if (value === undefined) throw new SettingsError(`Invalid value for --fail-open: expected ${SWITCH_SPELLINGS} (got ${JSON.stringify(flag)})`);
  return { failOpen: value, command };
}

/** An exported switch variable: its value, the default when unset or empty; a bad spelling is an error. */
function switchFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const value = parseSwitch(text);
  if (value === undefined) throw new SettingsError(`${name} must be ${SWITCH_SPELLINGS} (got ${JSON.stringify(text)})`);
  return value;
}

/** --mode, else RAMPART_MODE, else enforce. */
export function resolveMode(flag: string | undefined, env: NodeJS.ProcessEnv): Mode {
  const [text, where] = flag !== undefined ? [flag, '--mode'] : [env.RAMPART_MODE, 'RAMPART_MODE'];
  if (text === undefined || (flag === undefined && text === '')) return 'enforce';
  const mode = parseMode(text);
  if (mode === undefined) throw new SettingsError(`${where} must be one of ${MODES.join(', ')} (got ${JSON.stringify(text)})`);
  return mode;
}

/** A flag, else an exported variable the library would use (non-empty), else the default. */
export function flagOrEnv(flag: string | undefined, value: string | undefined, fallback: string): string {
  if (flag !== undefined) return flag;
  return value !== undefined && value !== '' ? value : fallback;
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
