import {
  MasvAuthError,
  MasvNotFoundError,
  MasvServerError,
  MasvThrottledError,
  MasvValidationError,
  PartUrlExpiredError,
  type RelayError,
  StorageError,
} from '../errors.js';
import { redact } from '../redact.js';
import { parseRetryAfter } from '../retry.js';
import { parseStorageError } from './upload-id.js';

/** MASV's error body: `{code, message}` when JSON, otherwise the raw text. */
function masvMessage(text: string): string {
  if (!text) return '(empty body)';
  try {
    const body = JSON.parse(text) as { message?: unknown; code?: unknown };
    if (typeof body.message === 'string') {
      return body.code === undefined ? body.message : `${body.message} (code ${String(body.code)})`;
    }
  } catch {
    // not JSON: fall through to the raw text
  }
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

function hintFor(status: number): string {
  if (status === 401)
    return 'Check that the API key (or the portal access code) is valid and active; a package token may have expired.';
  if (status === 403) return 'The credentials lack permission for this team, portal or package.';
  if (status === 404)
    return 'The team, portal, package or file does not exist (it may have been deleted); check the ids in the configuration.';
  if (status === 408 || status === 429 || status >= 500)
    return 'This is transient; it was retried with backoff. If it persists, check MASV service status.';
  return 'Fix the request as the message says; retrying the same request will not help.';
}

/**
 * Turns a non-2xx MASV API response into a typed error whose message names the route, the status,
 * MASV's message and what to do — with any secret redacted.
 */
export function masvResponseError(
  route: string,
  status: number,
  bodyText: string,
  retryAfter?: string,
): RelayError {
  const message = redact(`MASV ${route} answered ${status}: ${masvMessage(bodyText)}. ${hintFor(status)}`);
  let error: RelayError;
  if (status === 401 || status === 403) error = new MasvAuthError(message);
  else if (status === 404 || status === 410) error = new MasvNotFoundError(message);
  else if (status === 429) error = new MasvThrottledError(message);
  else if (status === 408 || status >= 500) error = new MasvServerError(message);
  else error = new MasvValidationError(message);
  error.httpStatus = status;
  const retryAfterMs = parseRetryAfter(retryAfter);
  if (retryAfterMs !== undefined) error.retryAfterMs = retryAfterMs;
  return error;
}

/** Turns a non-2xx answer from MASV's storage (a blueprint request) into a typed error. */
export function storageResponseError(
  what: string,
  status: number,
  bodyText: string,
  retryAfter?: string,
): RelayError {
  const { code, message: storageMessage } = parseStorageError(bodyText);
  const said = [code, storageMessage].filter(Boolean).join(': ') || masvMessage(bodyText);
  const base = `MASV storage refused ${what} with ${status} (${said}).`;
  let error: RelayError;
  if (status === 403)
    error = new PartUrlExpiredError(
      `${base} The presigned URL expired or was rejected; a fresh blueprint is requested.`,
    );
  else if (status === 429 || code === 'SlowDown')
    error = new MasvThrottledError(`${base} Storage is throttling; retried with backoff.`);
  else if (status === 408 || status >= 500)
    error = new MasvServerError(`${base} Transient storage failure; retried with backoff.`);
  else error = new StorageError(`${base} This is not transient; report it to MASV support if it persists.`);
  const retryAfterMs = parseRetryAfter(retryAfter);
  if (retryAfterMs !== undefined) error.retryAfterMs = retryAfterMs;
  error.message = redact(error.message);
  return error;
}
