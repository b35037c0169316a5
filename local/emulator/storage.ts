import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, unlink } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { type FaultRule, loseAnswerAfterCommit, lostAnswerFault } from './faults.js';
import type { EmulatorState } from './model.js';
import { verifyPresigned } from './signing.js';

export interface StoredPart {
  partNumber: number;
  size: number;
  /** Hex MD5 of the part. */
  md5: string;
  /** The part's ETag without quotes: its MD5, except under SSE-KMS where S3's ETags are not MD5s. */
  etag: string;
  file: string;
}

/**
 * How MASV's storage encrypts, as S3 does it:
 * - `SSE-S3`: create blueprints carry `x-amz-server-side-encryption: AES256`; part ETags are MD5s.
 * - `SSE-KMS`: create blueprints carry `aws:kms` and the key id; part ETags are opaque (not MD5s).
 * - `SSE-KMS-bucket-default`: the bucket encrypts with KMS by default, so blueprints carry no
 *   encryption header at all, yet part ETags are still not MD5s.
 * Under every mode, a part PUT may carry `Content-MD5`: storage checks it against the bytes it
 * received and refuses the part (400 BadDigest) when they differ, as S3 does.
 */
export type StorageEncryption = 'SSE-S3' | 'SSE-KMS' | 'SSE-KMS-bucket-default';

/** The emulator's stand-in KMS key. */
export const EMULATOR_KMS_KEY_ID =
  'arn:aws:kms:us-east-1:000000000000:key/00000000-0000-4000-8000-000000000000';

/** Headers MASV puts in a create blueprint (and signs) for an encryption mode. */
export function encryptionCreateHeaders(mode: StorageEncryption): Record<string, string> {
  if (mode === 'SSE-S3') return { 'x-amz-server-side-encryption': 'AES256' };
  if (mode === 'SSE-KMS')
    return {
      'x-amz-server-side-encryption': 'aws:kms',
      'x-amz-server-side-encryption-aws-kms-key-id': EMULATOR_KMS_KEY_ID,
    };
  return {};
}

/** Headers storage answers CreateMultipartUpload and UploadPart with. */
function encryptionResponseHeaders(mode: StorageEncryption): Record<string, string> {
  return mode === 'SSE-S3'
    ? { 'x-amz-server-side-encryption': 'AES256' }
    : {
        'x-amz-server-side-encryption': 'aws:kms',
        'x-amz-server-side-encryption-aws-kms-key-id': EMULATOR_KMS_KEY_ID,
      };
}

export interface StoredUpload {
  uploadId: string;
  packageId: string;
  fileId: string;
  bucketKey: string;
  parts: Map<number, StoredPart>;
  completed: boolean;
  /** Encryption the upload was created with (a setting change does not touch running uploads). */
  encryption: StorageEncryption;
}

/** S3-style multipart storage on disk: parts stream to files and are never held whole in memory. */
export class MultipartStore {
  readonly uploads = new Map<string, StoredUpload>();

  constructor(readonly dir: string) {}

  async createUpload(
    packageId: string,
    fileId: string,
    encryption: StorageEncryption,
  ): Promise<StoredUpload> {
    const uploadId = randomBytes(24).toString('base64url');
    const upload: StoredUpload = {
      uploadId,
      packageId,
      fileId,
      bucketKey: `${packageId}/${fileId}`,
      parts: new Map(),
      completed: false,
      encryption,
    };
    await mkdir(join(this.dir, packageId, uploadId), { recursive: true });
    this.uploads.set(uploadId, upload);
    return upload;
  }

  partFile(upload: StoredUpload, partNumber: number) {
    return join(this.dir, upload.packageId, upload.uploadId, String(partNumber));
  }

  /** Checks a finalize request against stored parts, S3 CompleteMultipartUpload style. */
  complete(
    upload: StoredUpload,
    parts: Array<{ partNumber: number; etag: string }>,
    minPartSize: number,
    declaredSize: number,
  ): { ok: true; parts: StoredPart[] } | { ok: false; message: string } {
    if (parts.length === 0) return { ok: false, message: 'InvalidPart: chunk_extras is empty' };
    const stored: StoredPart[] = [];
    for (const [index, part] of parts.entries()) {
      if (part.partNumber !== index + 1) {
        return {
          ok: false,
          message: `InvalidPartOrder: chunk_extras must list parts 1..N ascending without gaps; entry ${index} has part ${part.partNumber}, expected ${index + 1}`,
        };
      }
      const found = upload.parts.get(part.partNumber);
      if (!found) return { ok: false, message: `InvalidPart: part ${part.partNumber} was never uploaded` };
      if (stripQuotes(part.etag) !== found.etag) {
        return {
          ok: false,
          message: `InvalidPart: the ETag given for part ${part.partNumber} does not match the stored part's ETag`,
        };
      }
      stored.push(found);
    }
    for (const part of stored.slice(0, -1)) {
      if (part.size < minPartSize) {
        return {
          ok: false,
          message: `EntityTooSmall: part ${part.partNumber} is ${part.size} bytes, below the minimum part size ${minPartSize} (only the last part may be smaller)`,
        };
      }
    }
    const total = stored.reduce((sum, p) => sum + p.size, 0);
    if (total !== declaredSize) {
      return { ok: false, message: `size mismatch: parts hold ${total} bytes but size says ${declaredSize}` };
    }
    upload.completed = true;
    return { ok: true, parts: stored };
  }

  /** The bytes of a finalized file, streamed part after part. */
  openFile(parts: StoredPart[]): Readable {
    return Readable.from(
      (async function* () {
        for (const part of parts) yield* createReadStream(part.file, { highWaterMark: 1 << 20 });
      })(),
      { objectMode: false },
    );
  }

  async sha256(parts: StoredPart[]): Promise<string> {
    const hash = createHash('sha256');
    for await (const chunk of this.openFile(parts)) hash.update(chunk as Buffer);
    return hash.digest('hex');
  }

  async purgePackage(packageId: string) {
    for (const [id, upload] of this.uploads) if (upload.packageId === packageId) this.uploads.delete(id);
    await rm(join(this.dir, packageId), { recursive: true, force: true });
  }
}

export function stripQuotes(etag: string) {
  return etag.replace(/^W\//, '').replace(/"/g, '');
}

function xmlError(res: ServerResponse, status: number, code: string, message: string, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/xml', ...headers });
  res.end(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`,
  );
}

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'ETag',
};

/**
 * The storage endpoint behind MASV's blueprints: CreateMultipartUpload (POST `?uploads`) and
 * UploadPart (PUT `?partNumber&uploadId`) on presigned URLs.
 */
export async function handleStorageRequest(
  state: EmulatorState,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<{ route: string; status: number }> {
  const url = req.url ?? '/';
  const method = req.method ?? 'GET';
  if (method === 'OPTIONS') {
    res.writeHead(204, {
      ...CORS,
      'access-control-allow-methods': 'PUT, POST',
      'access-control-allow-headers': '*',
    });
    res.end();
    return { route: 'OPTIONS storage', status: 204 };
  }
  const params = new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');
  const isCreate = method === 'POST' && params.has('uploads');
  const isPart = method === 'PUT' && params.has('partNumber') && params.has('uploadId');
  const route = isCreate ? 'POST storage ?uploads' : isPart ? 'PUT storage ?partNumber' : `${method} storage`;
  if (!isCreate && !isPart) {
    xmlError(res, 405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
    return { route, status: 405 };
  }

  const faults = state.faults.match(isCreate ? 'storage-create' : 'storage-part');
  state.counters.faultsApplied += faults.length;
  const lostAnswer = lostAnswerFault(faults);
  if (lostAnswer) loseAnswerAfterCommit(res, lostAnswer);
  for (const fault of faults.filter((f) => f.kind === 'latency')) await sleep(fault.latencyMs ?? 0);

  const check = verifyPresigned(state.signingKey, method, url, state.now());
  const expireFault = faults.find((f) => f.kind === 'expire-url');
  if (!check.ok || expireFault) {
    const { code, message } = check.ok ? { code: 'AccessDenied', message: 'Request has expired' } : check;
    req.resume();
    xmlError(res, 403, code, message, CORS);
    return { route, status: 403 };
  }
  const statusFault = faults.find((f) => f.kind === 'status');
  if (statusFault) {
    req.resume();
    sendStatusFault(res, statusFault);
    return { route, status: statusFault.status! };
  }
  const resetFault = faults.find((f) => f.kind === 'reset');
  if (isCreate) {
    if (resetFault) {
      req.socket.destroy();
      return { route, status: 0 };
    }
    return createUpload(state, req, res, url, route);
  }
  return uploadPart(state, req, res, params, route, resetFault);
}

function sendStatusFault(res: ServerResponse, fault: FaultRule) {
  const headers: Record<string, string> = { ...CORS };
  if (fault.retryAfter) headers['retry-after'] = fault.retryAfter;
  if (fault.status === 503) xmlError(res, 503, 'SlowDown', 'Please reduce your request rate.', headers);
  else
    xmlError(
      res,
      fault.status!,
      'InternalError',
      'We encountered an internal error. Please try again.',
      headers,
    );
}

async function createUpload(
  state: EmulatorState,
  req: IncomingMessage,
  res: ServerResponse,
  url: string,
  route: string,
) {
  req.resume();
  const path = url.slice(0, url.indexOf('?'));
  const [packageId, fileId] = path.split('/').slice(-2).map(decodeURIComponent) as [string, string];
  const file = state.packages.get(packageId)?.files.get(fileId);
  if (!file || state.packages.get(packageId)?.state === 'deleted') {
    xmlError(res, 404, 'NoSuchKey', 'The specified key does not exist.', CORS);
    return { route, status: 404 };
  }
  for (const [name, value] of Object.entries(file.createHeaders)) {
    if (req.headers[name.toLowerCase()] !== value) {
      xmlError(
        res,
        403,
        'SignatureDoesNotMatch',
        `Header ${name} is missing or differs from the signed value; send the blueprint's headers verbatim.`,
        CORS,
      );
      return { route, status: 403 };
    }
  }
  const upload = await state.store.createUpload(packageId, fileId, state.settings.storageEncryption);
  file.uploadId = upload.uploadId;
  res.writeHead(200, {
    'content-type': 'application/xml',
    ...encryptionResponseHeaders(upload.encryption),
    ...CORS,
  });
  res.end(
    `<?xml version="1.0" encoding="UTF-8"?>\n<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>masv-emulator</Bucket><Key>${upload.bucketKey}</Key><UploadId>${upload.uploadId}</UploadId></InitiateMultipartUploadResult>`,
  );
  return { route, status: 200 };
}

async function uploadPart(
  state: EmulatorState,
  req: IncomingMessage,
  res: ServerResponse,
  params: URLSearchParams,
  route: string,
  resetFault: FaultRule | undefined,
) {
  const { counters, settings } = state;
  const upload = state.store.uploads.get(params.get('uploadId') ?? '');
  const partNumber = Number(params.get('partNumber'));
  if (!upload || upload.completed) {
    req.resume();
    xmlError(
      res,
      404,
      'NoSuchUpload',
      'The specified multipart upload does not exist or was completed.',
      CORS,
    );
    return { route, status: 404 };
  }
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > settings.spec.max_chunk_count) {
    req.resume();
    xmlError(
      res,
      400,
      'InvalidArgument',
      `Part number must be an integer between 1 and ${settings.spec.max_chunk_count}.`,
      CORS,
    );
    return { route, status: 400 };
  }
  const lengthHeader = req.headers['content-length'];
  if (req.headers['transfer-encoding'] || lengthHeader === undefined) {
    req.resume();
    xmlError(res, 411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.', CORS);
    return { route, status: 411 };
  }
  const length = Number(lengthHeader);
  const contentMd5 = req.headers['content-md5'];
  const expectedMd5 = typeof contentMd5 === 'string' ? Buffer.from(contentMd5, 'base64') : undefined;
  if (
    contentMd5 !== undefined &&
    (expectedMd5?.length !== 16 || expectedMd5.toString('base64') !== contentMd5)
  ) {
    req.resume();
    xmlError(res, 400, 'InvalidDigest', 'The Content-MD5 you specified was invalid.', CORS);
    return { route, status: 400 };
  }
  if (length > settings.spec.max_chunk_size) {
    req.resume();
    xmlError(
      res,
      400,
      'EntityTooLarge',
      `Your proposed upload exceeds the maximum part size ${settings.spec.max_chunk_size}.`,
      CORS,
    );
    return { route, status: 400 };
  }

  const socket = req.socket;
  counters.partUploads++;
  counters.concurrentPartUploads++;
  counters.peakConcurrentPartUploads = Math.max(
    counters.peakConcurrentPartUploads,
    counters.concurrentPartUploads,
  );
  const target = state.store.partFile(upload, partNumber);
  const temp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
  const out = createWriteStream(temp, { highWaterMark: 1 << 20 });
  const md5 = createHash('md5');
  let received = 0;
  const resetAt = resetFault ? (resetFault.afterBytes ?? Math.floor(length / 2)) : Number.POSITIVE_INFINITY;
  try {
    await new Promise<void>((resolve, reject) => {
      req.on('data', (chunk: Buffer) => {
        received += chunk.length;
        md5.update(chunk);
        if (received >= resetAt) req.destroy(new Error('fault: connection reset mid-body'));
      });
      req.once('error', reject);
      req.once('aborted', () => reject(new Error('client aborted')));
      out.once('error', reject);
      out.once('finish', resolve);
      req.pipe(out);
    });
    if (received !== length) throw new Error('body shorter than Content-Length');
    if (!state.store.uploads.has(upload.uploadId)) throw new Error('upload purged meanwhile');
  } catch {
    out.destroy();
    await unlink(temp).catch(() => undefined);
    counters.concurrentPartUploads--;
    socket.destroy();
    return { route, status: 0 };
  }
  counters.concurrentPartUploads--;
  const digest = md5.digest('hex');
  if (expectedMd5 && expectedMd5.toString('hex') !== digest) {
    // S3 keeps nothing of a part whose bytes do not match its Content-MD5 (an earlier part stays).
    await unlink(temp).catch(() => undefined);
    xmlError(res, 400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.', CORS);
    return { route, status: 400 };
  }
  await rename(temp, target);
  if (upload.parts.has(partNumber)) counters.partRetries++;
  else counters.partsStored++;
  counters.bytesStored += received - (upload.parts.get(partNumber)?.size ?? 0);
  const { encryption } = upload;
  // Under SSE-KMS, S3's ETag is not the MD5 of the part: an opaque 32-hex value.
  const etag = encryption === 'SSE-S3' ? digest : randomBytes(16).toString('hex');
  upload.parts.set(partNumber, { partNumber, size: received, md5: digest, etag, file: target });
  res.writeHead(200, { etag: `"${etag}"`, ...encryptionResponseHeaders(encryption), ...CORS });
  res.end();
  return { route, status: 200 };
}

export function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
