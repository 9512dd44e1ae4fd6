// The bearer token shared by `rampart serve` (which checks it) and the CLI commands that talk to
// it (which send it). Order: RAMPART_TOKEN, then ~/.rampart/token, then (server only) a fresh
// random token persisted to ~/.rampart/token before the server answers anything.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { RampartError } from '../errors.ts';
import { rampartHome } from './paths.ts';

export interface ServerToken {
  token: string;
  source: 'env' | 'file' | 'generated';
}

export interface ClientToken {
  token: string;
  source: 'flag' | 'env' | 'file';
}

/** `<home>/token`; `home` defaults to ~/.rampart. */
export function tokenPath(home: string = rampartHome()): string {
  return path.join(home, 'token');
}

/** A token that exists but cannot be used: the message says which and how to fix it. */
export class TokenError extends RampartError {}

/** What an Authorization header and an environment variable can both carry. */
const USABLE_TOKEN = /^[\x21-\x7e]+$/;

function checked(token: string, where: string, fix: string): string {
  if (!USABLE_TOKEN.test(token)) {
    throw new TokenError(`the token in ${where} contains spaces or control or non-ASCII characters; ${fix}`);
  }
  return token;
}

function readTokenFile(file: string): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TokenError(`cannot read token file ${file}: ${(err as Error).message}`);
  }
  const fix = `delete ${file} to have rampart serve generate a new one, or write the server's token into it`;
  // Editors add a trailing newline; a token never contains whitespace.
  const token = text.trim();
  if (token === '') throw new TokenError(`token file ${file} is empty; ${fix}`);
  return checked(token, file, fix);
}

function envToken(): string | undefined {
  const value = process.env.RAMPART_TOKEN?.trim();
  return value ? checked(value, 'RAMPART_TOKEN', "set it to the server's token") : undefined;
}

/** The token `rampart serve` accepts; generates and persists one (0600, dir 0700) when none exists. */
export function resolveServerToken(home: string = rampartHome()): ServerToken {
  const fromEnv = envToken();
  if (fromEnv) return { token: fromEnv, source: 'env' };
  const file = tokenPath(home);
  const fromFile = readTokenFile(file);
  if (fromFile) return { token: fromFile, source: 'file' };

  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  const token = crypto.randomBytes(32).toString('hex');
  // Write to a temp file then link it in place: two servers starting at once agree on one token.
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, token, { mode: 0o600 });
  try {
    fs.linkSync(temp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    fs.rmSync(temp, { force: true });
  }
  const stored = readTokenFile(file);
  if (!stored) throw new TokenError(`token file ${file} vanished while it was being created; start the server again`);
  return { token: stored, source: stored === token ? 'generated' : 'file' };
}

/** The token a client sends: `--token`, then RAMPART_TOKEN, then ~/.rampart/token; undefined if none. */
export function resolveClientToken(flag?: string, home: string = rampartHome()): ClientToken | undefined {
  const fromFlag = flag?.trim();
  if (fromFlag) return { token: checked(fromFlag, '--token', "pass the server's token"), source: 'flag' };
  const fromEnv = envToken();
  if (fromEnv) return { token: fromEnv, source: 'env' };
  const fromFile = readTokenFile(tokenPath(home));
  return fromFile ? { token: fromFile, source: 'file' } : undefined;
}
