// Credentials never reach the audit log: values under sensitive keys are replaced, and every
// string is scrubbed of the credential shapes agents put on command lines.

export const REDACTED = '[REDACTED]';

/** Normalized key names (lower-case, letters and digits only) whose values are secrets. */
const SENSITIVE_KEY_SUFFIXES = [
  'token',
  'password',
  'passwd',
  'secret',
  'apikey',
  'cookie',
  'authorization',
  'commandb64',
  'privatekey',
  'accesskey',
  'credential',
  'credentials',
];

/** Answers for keys seen before (clients send the same few keys every time); bounded. */
const keyVerdicts = new Map<string, boolean>();
const MAX_CACHED_KEYS = 4096;

export function isSensitiveKey(key: string): boolean {
  let sensitive = keyVerdicts.get(key);
  if (sensitive === undefined) {
    const normalized = key.toLowerCase().replace(/[^a-z0-9]/g, '');
    sensitive = SENSITIVE_KEY_SUFFIXES.some((suffix) => normalized.endsWith(suffix));
    if (keyVerdicts.size < MAX_CACHED_KEYS) keyVerdicts.set(key, sensitive);
  }
  return sensitive;
}

// Each pattern keeps what names the credential (group 1) and replaces the secret itself.
const SCRUBBERS: Array<[RegExp, string]> = [
  // Authorization: Basic xxx / Token xxx headers, and "Bearer xxx" anywhere
  [/(authorization:\s*(?:basic|token|digest)\s+)[^\s'"]+/gi, `$1${REDACTED}`],
  [/\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi, `$1${REDACTED}`],
  // --password=xxx, --password xxx (also --passwd, --pass)
  [/(--pass(?:word|wd)?(?:=|\s+))(?:'[^']*'|"[^"]*"|[^\s'"]+)/gi, `$1${REDACTED}`],
  // token=xxx, api_key=xxx, secret=xxx, password=xxx (query strings, env assignments)
  [/(\b[A-Za-z0-9_]*(?:token|api[_-]?key|secret|password|passwd)[A-Za-z0-9_]*=)(?:'[^']*'|"[^"]*"|[^\s&'"]+)/gi, `$1${REDACTED}`],
  // Sensitive header values (-H "X-Api-Key: ...", --header 'PRIVATE-TOKEN: ...', cookies);
  // Authorization headers are the two scrubbers above.
  [/((?:-H|--header)[=\s]*['"]?[A-Za-z0-9_-]*(?:token|secret|passw|cookie|api-?key)[A-Za-z0-9_-]*:\s*)[^'"\n]+/gi, `$1${REDACTED}`],
  // The password of user:password in curl -u / --user and in URLs (https://user:pw@host).
  [/((?:\s-u\s*|\s--user[=\s]\s*)['"][^\s'":]+:)[^'"]*/g, `$1${REDACTED}`],
  [/((?:\s-u\s*|\s--user[=\s]\s*)[^\s'":]+:)[^\s'"]+/g, `$1${REDACTED}`],
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@'"]+:)[^\s/@'"]+(?=@)/gi, `$1${REDACTED}`],
  // Well-known key prefixes: GitHub, Slack, OpenAI-style, AWS access key ids.
  [/\bgh[pousr]_[A-Za-z0-9]{16,}/g, REDACTED],
  [/\bxox[abposr]-[A-Za-z0-9-]{8,}/g, REDACTED],
  [/\bsk-[A-Za-z0-9_-]{16,}/g, REDACTED],
  [/\bAKIA[0-9A-Z]{16}\b/g, REDACTED],
];

/**
 * A word that every SCRUBBERS pattern needs (case-insensitive, so a superset of each): most
 * commands contain none and are checked with one regex instead of nine replaces. A new
 * scrubber must add its word here (the redaction tests exercise every pattern through this).
 */
const MAY_HOLD_CREDENTIAL =
  /authorization|bearer|--pass|mysql|mariadb|token|api-?key|api_key|secret|passw|cookie|-u|--user|:\/\/|gh[pousr]_|xox[abposr]-|sk-|akia/i;

// mysql -pSECRET, -p'two words' (the password glued to -p): every lower-case -p of a MySQL-family
// command (-P is its port), so that `mkdir -p dir` or `cp -pr` elsewhere stay readable.
const MYSQL_COMMAND = /\b(?:mysql|mysqldump|mysqladmin|mariadb|mariadb-dump)\b[^\n;|&]*/gi;
const MYSQL_PASSWORD = /(\s-p)(?:'[^']*'|"[^"]*"|[^\s'"]+)/g;

/** A string with every credential shape replaced by [REDACTED]. */
export function scrubString(text: string): string {
  if (!MAY_HOLD_CREDENTIAL.test(text)) return text;
  let out = text;
  for (const [pattern, replacement] of SCRUBBERS) out = out.replace(pattern, replacement);
  return out.replace(MYSQL_COMMAND, (command) => command.replace(MYSQL_PASSWORD, `$1${REDACTED}`));
}

const MAX_DEPTH = 64;

/**
 * A redacted deep copy of a JSON value, object keys sorted (the audit hash input is
 * canonical JSON, as Go's encoding/json writes maps).
 */
export function redactValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubString(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[TRUNCATED: nested too deep]';
  if (Array.isArray(value)) return value.map((item) => redactValue(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const item = (value as Record<string, unknown>)[key];
    out[key] = isSensitiveKey(key) && item !== null && item !== '' ? REDACTED : redactValue(item, depth + 1);
  }
  return out;
}
