// The one small HTTP client the launcher and `rampart doctor` use to talk to `rampart serve`.
// node:http instead of got: importing got costs ~80 ms of CLI start-up (benchmark/cli.ts), and the
// launcher needs exactly two bounded requests. No proxy is ever used (the token must not leave
// the machine through one), no keep-alive (nothing may linger after the command ends).
import http from 'node:http';

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

export async function request(url: URL, options: HttpOptions = {}): Promise<HttpReply> {
  const { method = 'GET', timeoutMs = 2000, maxBytes = 64 * 1024 } = options;
  const transport = url.protocol === 'https:' ? await import('node:https') : http;
  const body = options.json === undefined ? undefined : JSON.stringify(options.json);
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (body !== undefined) headers['content-type'] = 'application/json';

  return new Promise((resolve, reject) => {
    const req = transport.request(url, { method, headers, agent: false });
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
    };
    // Settle first, then tear the socket down: whatever events destroy() emits are ignored.
    const fail = (err: Error) => {
      const known = err instanceof TransportError || err instanceof ReplyTooLargeError;
      settle(() => reject(known ? err : new TransportError(describeNetworkError(err, url))));
      req.destroy();
    };
    const timer = setTimeout(() => fail(new TransportError(`no answer from ${url.origin} within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', fail);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) fail(new ReplyTooLargeError(`reply from ${url.origin} is larger than ${maxBytes} bytes`));
        else chunks.push(chunk);
      });
      res.on('error', fail);
      res.on('end', () => {
        settle(() => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      });
    });
    req.end(body);
  });
}

function describeNetworkError(err: Error, url: URL): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED') return `connection refused by ${url.host}`;
  if (code === 'ECONNRESET') return `connection reset by ${url.host}`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `cannot resolve host ${url.hostname}`;
  return `${url.origin}: ${err.message}`;
}

/** Parses a reply body as one JSON object; undefined when it is anything else. */
export function parseObject(body: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
