// Bearer-token check for the /v1 routes. Comparing SHA-256 digests (equal length by
// construction) with timingSafeEqual keeps the time independent of where a guess goes wrong.
import crypto from 'node:crypto';
import { unauthorized } from './errors.ts';

const PREFIX = 'Bearer ';

function digest(text: string): Buffer {
  return crypto.hash('sha256', text, 'buffer'); // one-shot: no Hash object per request
}

/** A checker for one token: throws HttpError(401) unless `authorization` carries it. */
export function bearerAuth(token: string): (authorization: string | undefined) => void {
  if (token === '') throw new Error('the server token must not be empty');
  const expected = digest(token);
  return (authorization) => {
    if (!authorization || !authorization.startsWith(PREFIX) || authorization.length === PREFIX.length) {
      throw unauthorized('missing authorization token');
    }
    if (!crypto.timingSafeEqual(digest(authorization.slice(PREFIX.length)), expected)) {
      throw unauthorized('invalid authorization token');
    }
  };
}
