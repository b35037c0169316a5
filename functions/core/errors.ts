/**
 * Typed errors of the relay. Step Functions `Retry`/`Catch` match on `name`, so every name here is
 * part of the workflow's contract: rename one and `statemachines/relay.asl.json` must follow.
 */
export abstract class RelayError extends Error {
  /** Whether trying the same operation again can help. */
  abstract readonly retryable: boolean;
  /** Milliseconds the remote side asked us to wait before retrying (`Retry-After`). */
  retryAfterMs?: number;
  /** HTTP status of the answer that caused it, when there was one. */
  httpStatus?: number;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** MASV refused the credentials: missing, invalid or expired API key, package token or access code. */
export class MasvAuthError extends RelayError {
  override readonly name = 'MasvAuthError';
  readonly retryable = false;
}

/** MASV rejected the request as invalid (400, 409, 422 and other 4xx not covered below). */
export class MasvValidationError extends RelayError {
  override readonly name = 'MasvValidationError';
  readonly retryable = false;
}

/** The package, file or route does not exist (404), e.g. a package deleted meanwhile. */
export class MasvNotFoundError extends RelayError {
  override readonly name = 'MasvNotFoundError';
  readonly retryable = false;
}

/** MASV or its storage asked us to slow down (429, 503 SlowDown). */
export class MasvThrottledError extends RelayError {
  override readonly name = 'MasvThrottledError';
  readonly retryable = true;
}

/** MASV or its storage failed on its side (408, 5xx). */
export class MasvServerError extends RelayError {
  override readonly name = 'MasvServerError';
  readonly retryable = true;
}

/** The connection failed before a complete response arrived (reset, refused, timeout). */
export class NetworkError extends RelayError {
  override readonly name = 'NetworkError';
  readonly retryable = true;
}

/**
 * A request that changes MASV's state (create a package, add a file, create a link) may have been
 * carried out, but its answer was lost (connection reset, timeout, a gateway's 502/503/504). It is
 * never repeated blindly: the step reads MASV's state and reconciles.
 */
export class MasvOutcomeUnknownError extends RelayError {
  override readonly name = 'MasvOutcomeUnknownError';
  readonly retryable = true;
}

/**
 * A step found the delivery's package record naming another package than the one it was given:
 * an older, overlapping invocation. It stops without touching either package.
 */
export class PackageRecordConflictError extends RelayError {
  override readonly name = 'PackageRecordConflictError';
  readonly retryable = true;
}

/** A presigned part URL was refused as expired or invalid (403 from storage); ask for a new blueprint. */
export class PartUrlExpiredError extends RelayError {
  override readonly name = 'PartUrlExpiredError';
  readonly retryable = true;
}

/** MASV's storage refused a blueprint request for a reason a retry cannot fix. */
export class StorageError extends RelayError {
  override readonly name = 'StorageError';
  readonly retryable = false;
}

/** The relay's own state bucket refused a request (permissions, KMS key): a retry cannot fix it. */
export class StateBucketError extends RelayError {
  override readonly name = 'StateBucketError';
  readonly retryable = false;
}

/** The ETag storage returned for a part does not match the MD5 of the bytes we sent. */
export class PartIntegrityError extends RelayError {
  override readonly name = 'PartIntegrityError';
  readonly retryable = true;
}

/** The source object changed (or vanished) after the delivery pinned its version. */
export class SourceChangedError extends RelayError {
  override readonly name = 'SourceChangedError';
  readonly retryable = false;
}

/** The source object or bucket cannot be read (missing, access denied). */
export class SourceNotFoundError extends RelayError {
  override readonly name = 'SourceNotFoundError';
  readonly retryable = false;
}

/** A file cannot be split within MASV's limits (size over max part size × max part count). */
export class FileTooLargeError extends RelayError {
  override readonly name = 'FileTooLargeError';
  readonly retryable = false;
}

/**
 * A delivery's files together cannot be sent within the workflow's limits (1,000 batches and the
 * execution history budget), whatever the batch size: refused before any package exists.
 */
export class DeliveryTooLargeError extends RelayError {
  override readonly name = 'DeliveryTooLargeError';
  readonly retryable = false;
}

/**
 * A source is archived (S3 Glacier Flexible Retrieval, Glacier Deep Archive, or an S3
 * Intelligent-Tiering archive access tier) and cannot be read until it is restored.
 */
export class SourceArchivedError extends RelayError {
  override readonly name = 'SourceArchivedError';
  readonly retryable = false;
}

/** A delivery request (trigger event or direct request) is malformed. */
export class DeliveryRequestError extends RelayError {
  override readonly name = 'DeliveryRequestError';
  readonly retryable = false;
}

/** A response from MASV or storage did not have the shape the API documents. */
export class MasvProtocolError extends RelayError {
  override readonly name = 'MasvProtocolError';
  readonly retryable = false;
}

/** Parts are missing from the ledger at finalize time (a batch did not finish). */
export class IncompleteUploadError extends RelayError {
  override readonly name = 'IncompleteUploadError';
  readonly retryable = false;
}

/**
 * A secret the relay reads (API key, access code, download password) is not one plain-text value:
 * binary, empty, or key/value JSON, which would otherwise be sent verbatim as the credential.
 */
export class SecretFormatError extends RelayError {
  override readonly name = 'SecretFormatError';
  readonly retryable = false;
}

/** Names of the errors a Step Functions `Retry` may retry; kept in sync with the definition by a test. */
export const RETRYABLE_ERROR_NAMES = [
  'MasvThrottledError',
  'MasvServerError',
  'NetworkError',
  'PartUrlExpiredError',
  'PartIntegrityError',
  'MasvOutcomeUnknownError',
  'PackageRecordConflictError',
] as const;

/** Transport failures that prove the request never reached the server (nothing can have committed). */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * True when a failed request certainly changed nothing on the server: it was refused before it was
 * read (429) or the connection was never made. Anything else (reset, timeout, 5xx) may hide a commit.
 */
export function provesNotCommitted(error: unknown): boolean {
  return error instanceof MasvThrottledError || hasErrorCode(error, NOT_SENT_CODES);
}

/** Whether the error, or one of its causes, carries one of these transport error codes. */
function hasErrorCode(error: unknown, codes: ReadonlySet<string>): boolean {
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && codes.has(code)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** The one place that decides whether an error is worth another attempt. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof RelayError) return error.retryable;
  return isNetworkFailure(error);
}

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/** True for transport failures (socket reset, refused, timeouts) as thrown by undici or node:net. */
export function isNetworkFailure(error: unknown): boolean {
  return hasErrorCode(error, NETWORK_CODES);
}
