// The one small HTTP client the launcher and `rampart doctor` use to talk to `rampart serve`,
// built on got. Bounded in time and size; no retries (a retry would only add latency to the
// agent's start), no redirects (a redirect is a reply we do not trust), no keep-alive (nothing
// may linger after the command ends). got reads no proxy variables, so the token never goes to a proxy.
import http from 'node:http';
import https from 'node:https';
import got, { CancelError, RequestError } from 'got';

export interface HttpReply {
  status: number;
  body: string;
}

/** The request never reached a server or never got a full answer (refused, timed out, reset). */
export class TransportError extends Error {}

/** The server answered with more than we accept: a reply, but not one to trust. */
export class ReplyTooLargeError extends Error {}

export interface HttpOptions {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  json?: unknown;
  /** Whole request, connect to last byte. */
  timeoutMs?: number;
  /** Replies longer than this are refused (a hostile or confused server cannot flood us). */
  maxBytes?: number;
}

const noKeepAlive = { http: new http.Agent({ keepAlive: false }), https: new https.Agent({ keepAlive: false }) };

export async function request(url: URL, options: HttpOptions = {}): Promise<HttpReply> {
  const { method = 'GET', timeoutMs = 2000, maxBytes = 64 * 1024 } = options;
  const pending = got(url, {
    method,
    headers: { accept: 'application/json', ...options.headers },
    json: options.json,
    timeout: { request: timeoutMs },
    retry: { limit: 0 },
    followRedirect: false,
    throwHttpErrors: false,
    decompress: false,
    agent: noKeepAlive,
    responseType: 'text',
  });
  let tooLarge = false;
  pending.on('downloadProgress', ({ transferred }: { transferred: number }) => {
    if (transferred > maxBytes && !tooLarge) {
      tooLarge = true;
      pending.cancel();
    }
  });
  try {
    const response = await pending;
    return { status: response.statusCode, body: response.body };
  } catch (err) {
    if (tooLarge && err instanceof CancelError) {
      throw new ReplyTooLargeError(`reply from ${url.origin} is larger than ${maxBytes} bytes`);
    }
    if (err instanceof RequestError) throw new TransportError(describeNetworkError(err, url, timeoutMs));
    throw err;
  }
}

function describeNetworkError(err: RequestError, url: URL, timeoutMs: number): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return `connection refused by ${url.host}`;
    case 'ECONNRESET':
      return `connection reset by ${url.host}`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve host ${url.hostname}`;
    case 'ETIMEDOUT':
      return `no answer from ${url.origin} within ${timeoutMs} ms`;
    default:
      return `${url.origin}: ${err.message}`;
  }
}

/** Parses a reply body as one JSON object; undefined when it is anything else. */
export function parseObject(body: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The top-level keys of a body `parseObject` accepted, in order and with duplicates (which
 * JSON.parse silently collapses). Only keys are followed by ':' in valid JSON.
 */
export function topLevelKeys(body: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '"') {
      let end = i + 1;
      while (end < body.length && body[end] !== '"') end += body[end] === '\\' ? 2 : 1;
      if (end >= body.length) break; // not valid JSON: parseObject would have refused it
      let next = end + 1;
      while (/\s/.test(body[next] ?? '')) next++;
      if (depth === 1 && body[next] === ':') keys.push(JSON.parse(body.slice(i, end + 1)) as string);
      i = end;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return keys;
}
