import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { type FaultRule, loseAnswerAfterCommit, lostAnswerFault } from './faults.js';
import type { EmulatorState } from './model.js';
import type { StoredUpload } from './multipart-store.js';
import { verifyPresigned } from './signing.js';
import { encryptionResponseHeaders } from './storage-encryption.js';

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
  const request = checkPartRequest(state, params, req.headers);
  if (!request.ok) {
    req.resume();
    xmlError(res, request.status, request.code, request.message, CORS);
    return { route, status: request.status };
  }
  const { upload, partNumber, expectedMd5 } = request;
  const target = state.store.partFile(upload, partNumber);
  const body = await receivePartBody(state, req, upload, target, request.length, resetFault);
  if (!body) return { route, status: 0 };
  if (expectedMd5 && expectedMd5.toString('hex') !== body.digest) {
    // S3 keeps nothing of a part whose bytes do not match its Content-MD5 (an earlier part stays).
    await unlink(body.temp).catch(() => undefined);
    xmlError(res, 400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.', CORS);
    return { route, status: 400 };
  }
  await rename(body.temp, target);
  const { counters } = state;
  if (upload.parts.has(partNumber)) counters.partRetries++;
  else counters.partsStored++;
  counters.bytesStored += body.received - (upload.parts.get(partNumber)?.size ?? 0);
  const { encryption } = upload;
  // Under SSE-KMS, S3's ETag is not the MD5 of the part: an opaque 32-hex value.
  const etag = encryption === 'SSE-S3' ? body.digest : randomBytes(16).toString('hex');
  upload.parts.set(partNumber, { partNumber, size: body.received, md5: body.digest, etag, file: target });
  res.writeHead(200, { etag: `"${etag}"`, ...encryptionResponseHeaders(encryption), ...CORS });
  res.end();
  return { route, status: 200 };
}

type PartRequest =
  | { ok: true; upload: StoredUpload; partNumber: number; length: number; expectedMd5?: Buffer }
  | { ok: false; status: number; code: string; message: string };

/** What S3 checks of an UploadPart before reading its body: the upload, part number, length and Content-MD5. */
function checkPartRequest(
  state: EmulatorState,
  params: URLSearchParams,
  headers: IncomingHttpHeaders,
): PartRequest {
  const { settings } = state;
  const upload = state.store.uploads.get(params.get('uploadId') ?? '');
  const partNumber = Number(params.get('partNumber'));
  if (!upload || upload.completed) {
    return {
      ok: false,
      status: 404,
      code: 'NoSuchUpload',
      message: 'The specified multipart upload does not exist or was completed.',
    };
  }
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > settings.spec.max_chunk_count) {
    return {
      ok: false,
      status: 400,
      code: 'InvalidArgument',
      message: `Part number must be an integer between 1 and ${settings.spec.max_chunk_count}.`,
    };
  }
  const lengthHeader = headers['content-length'];
  if (headers['transfer-encoding'] || lengthHeader === undefined) {
    return {
      ok: false,
      status: 411,
      code: 'MissingContentLength',
      message: 'You must provide the Content-Length HTTP header.',
    };
  }
  const length = Number(lengthHeader);
  const contentMd5 = headers['content-md5'];
  const expectedMd5 = typeof contentMd5 === 'string' ? Buffer.from(contentMd5, 'base64') : undefined;
  if (
    contentMd5 !== undefined &&
    (expectedMd5?.length !== 16 || expectedMd5.toString('base64') !== contentMd5)
  ) {
    return {
      ok: false,
      status: 400,
      code: 'InvalidDigest',
      message: 'The Content-MD5 you specified was invalid.',
    };
  }
  if (length > settings.spec.max_chunk_size) {
    return {
      ok: false,
      status: 400,
      code: 'EntityTooLarge',
      message: `Your proposed upload exceeds the maximum part size ${settings.spec.max_chunk_size}.`,
    };
  }
  return { ok: true, upload, partNumber, length, expectedMd5 };
}

/**
 * Streams a part's body into a temporary file beside its target, hashing it on the way. Undefined
 * (and the connection dropped) when the body did not arrive whole or the upload was purged meanwhile.
 */
async function receivePartBody(
  state: EmulatorState,
  req: IncomingMessage,
  upload: StoredUpload,
  target: string,
  length: number,
  resetFault: FaultRule | undefined,
): Promise<{ temp: string; received: number; digest: string } | undefined> {
  const { counters } = state;
  const socket = req.socket;
  counters.partUploads++;
  counters.concurrentPartUploads++;
  counters.peakConcurrentPartUploads = Math.max(
    counters.peakConcurrentPartUploads,
    counters.concurrentPartUploads,
  );
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
    return undefined;
  }
  counters.concurrentPartUploads--;
  return { temp, received, digest: md5.digest('hex') };
}

export function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
