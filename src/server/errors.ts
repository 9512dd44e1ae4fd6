// Every error the HTTP layer can answer, and the one place that maps an error to a status.
import { AuditWriteError } from '../audit/log.ts';
import { PolicyLoadError } from '../policy/types.ts';

/** An error whose message is safe to show the client, with the status it answers. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const badRequest = (message: string) => new HttpError(400, message);
export const unauthorized = (message: string) => new HttpError(401, message);
export const notFound = () => new HttpError(404, 'not found');
export const tooManyRequests = (message: string) => new HttpError(429, message);

/** Status and client-facing message for any error thrown while handling a request. */
export function errorResponse(err: unknown): { status: number; message: string } {
  if (err instanceof HttpError) return { status: err.status, message: err.message };
  // The decision could not be logged: refuse rather than answer an unaudited decision.
  if (err instanceof AuditWriteError) return { status: 503, message: `audit log unavailable: ${err.message}` };
  if (err instanceof PolicyLoadError) return { status: 500, message: `policy load failed: ${err.message}` };
  return { status: 500, message: 'internal server error' };
}
