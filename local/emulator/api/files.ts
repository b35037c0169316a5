import { isoTime, ulid } from '../ids.js';
import type { EmuFile, EmulatorState, EmuPackage } from '../model.js';
import { presign } from '../signing.js';
import { encryptionCreateHeaders } from '../storage-encryption.js';
import { requireNotFinalized } from './auth.js';
import {
  type ApiContext,
  ApiError,
  type ApiReply,
  body,
  checkPartSize,
  ISO_WITH_ZONE,
  optionalInteger,
  requiredString,
} from './http.js';

function expectedPartCount(state: EmulatorState, file: EmuFile) {
  if (file.size === undefined) return state.settings.spec.max_chunk_count;
  return Math.max(1, Math.ceil(file.size / file.partSize));
}

function fileView(file: EmuFile) {
  return {
    id: file.id,
    kind: file.kind,
    name: file.name,
    path: file.path,
    size: file.size ?? 0,
    last_modified: file.lastModified,
    virus_detected: false,
    created_at: file.createdAt,
  };
}

export function addFile(ctx: ApiContext): ApiReply {
  const pkg = ctx.pkg!;
  requireNotFinalized(pkg);
  const { state } = ctx;
  const b = body(ctx);
  const kind = b.kind;
  if (kind !== 'file' && kind !== 'directory') throw new ApiError(400, 'kind must be "file" or "directory"');
  const name = requiredString(b, 'name');
  if (name.includes('/')) throw new ApiError(400, 'name must not contain "/": put folders in path');
  const path = requiredString(b, 'path', true);
  const lastModified = requiredString(b, 'last_modified');
  if (!ISO_WITH_ZONE.test(lastModified) || Number.isNaN(Date.parse(lastModified))) {
    throw new ApiError(400, 'last_modified must be an ISO 8601 UTC time such as 2020-10-30T17:37:00.998Z');
  }
  const size = optionalInteger(b, 'size');
  const partSize = optionalInteger(b, 'chunk_size', 1) ?? pkg.partSize;
  checkPartSize(state, partSize);
  if (kind === 'directory' && size !== undefined && size !== 0)
    throw new ApiError(400, 'a directory must have size 0');
  if (size !== undefined && Math.ceil(size / partSize) > state.settings.spec.max_chunk_count) {
    throw new ApiError(
      400,
      `size ${size} needs ${Math.ceil(size / partSize)} chunks of ${partSize} bytes, more than max_chunk_count ${state.settings.spec.max_chunk_count}`,
    );
  }
  const file: EmuFile = {
    id: ulid(state.now()),
    packageId: pkg.id,
    kind,
    name,
    path,
    size: kind === 'directory' ? 0 : size,
    lastModified,
    partSize,
    state: 'new',
    createHeaders: {
      ...encryptionCreateHeaders(state.settings.storageEncryption),
      'x-amz-meta-masv-file-id': '',
    },
    createdAt: isoTime(state.now()),
  };
  file.createHeaders['x-amz-meta-masv-file-id'] = file.id;
  pkg.files.set(file.id, file);
  pkg.updatedAt = file.createdAt;
  const { spec } = state.settings;
  const withBlueprint = kind === 'file' || state.settings.directoryBlueprint;
  return {
    status: 201,
    body: {
      file: fileView(file),
      ...(withBlueprint
        ? {
            create_blueprint: {
              url: presign(
                state.signingKey,
                state.storageUrl,
                'POST',
                storagePath(file),
                [['uploads', '']],
                state.now(),
                state.settings.urlTtlSeconds,
              ),
              method: 'POST',
              headers: file.createHeaders,
              body: '',
            },
          }
        : {}),
      max_chunks_count: spec.max_chunk_count,
      max_chunk_size: spec.max_chunk_size,
      min_chunk_size: spec.min_chunk_size,
    },
  };
}

function storagePath(file: EmuFile) {
  return `/storage/masv-emulator/${encodeURIComponent(file.packageId)}/${encodeURIComponent(file.id)}`;
}

export function findFile(pkg: EmuPackage, fileId: string): EmuFile {
  const file = pkg.files.get(fileId);
  if (!file) throw new ApiError(404, 'file not found');
  return file;
}

export function listFiles(ctx: ApiContext): ApiReply {
  const pkg = ctx.pkg!;
  return { status: 200, body: [...pkg.files.values()].map(fileView) };
}

export function partBlueprints(ctx: ApiContext): ApiReply {
  const pkg = ctx.pkg!;
  requireNotFinalized(pkg);
  const { state } = ctx;
  const file = findFile(pkg, ctx.params[1]!);
  if (file.state === 'finalized') throw new ApiError(409, 'file is finalized');
  const b = body(ctx);
  const uploadId = requiredString(b, 'upload_id');
  if (!file.uploadId) throw new ApiError(400, 'the file has no upload yet: run its create_blueprint first');
  if (uploadId !== file.uploadId) throw new ApiError(400, "upload_id does not match this file's upload");
  const start = Number(ctx.query.get('start'));
  const count = Number(ctx.query.get('count'));
  if (!ctx.query.has('start') || !Number.isInteger(start) || start < 0) {
    throw new ApiError(400, 'start must be an integer ≥ 0 (zero-based chunk index)');
  }
  if (!ctx.query.has('count') || !Number.isInteger(count) || count < 1)
    throw new ApiError(400, 'count must be an integer ≥ 1');
  if (count > state.settings.maxBlueprintWindow) {
    throw new ApiError(
      400,
      `count ${count} exceeds the maximum of ${state.settings.maxBlueprintWindow} chunk URLs per request`,
    );
  }
  const total = expectedPartCount(state, file);
  if (start + count > total) {
    throw new ApiError(400, `chunks ${start}..${start + count - 1} are outside this file's ${total} chunks`);
  }
  const blueprints = [];
  for (let i = 0; i < count; i++) {
    const url = presign(
      state.signingKey,
      state.storageUrl,
      'PUT',
      storagePath(file),
      [
        ['partNumber', String(start + i + 1)],
        ['uploadId', file.uploadId],
      ],
      state.now(),
      state.settings.urlTtlSeconds,
    );
    blueprints.push({ url, method: 'PUT', headers: {}, body: '' });
  }
  return { status: 200, body: blueprints };
}

function partNumberOf(state: EmulatorState, entry: Record<string, unknown>, index: number): number {
  const keys = state.settings.partNumberKeys;
  const camel = keys === 'part_number' ? undefined : entry.partNumber;
  const snake = keys === 'partNumber' ? undefined : entry.part_number;
  if (camel !== undefined && snake !== undefined && String(camel) !== String(snake)) {
    throw new ApiError(
      400,
      `chunk_extras[${index}] has partNumber ${String(camel)} and part_number ${String(snake)}, which disagree`,
    );
  }
  const value = camel ?? snake;
  if (camel === undefined && snake !== undefined && index === 0) {
    state.log(
      "finalize used part_number (the upload reference's spelling) without partNumber; accepted leniently",
    );
  }
  const accepted = keys === 'both' ? 'partNumber or part_number' : keys;
  if (value === undefined) throw new ApiError(400, `chunk_extras[${index}] needs ${accepted}`);
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw new ApiError(400, `chunk_extras[${index}] part number must be a positive integer (as a string)`);
  }
  return n;
}

export async function finalizeFile(ctx: ApiContext): Promise<ApiReply> {
  const pkg = ctx.pkg!;
  const { state } = ctx;
  const file = findFile(pkg, ctx.params[1]!);
  if (file.state === 'finalized') {
    if (state.settings.repeatFinalize === 'idempotent') return { status: 204 };
    throw new ApiError(409, 'file is already finalized');
  }
  requireNotFinalized(pkg);
  const b = body(ctx);
  const extras = b.chunk_extras;
  if (!Array.isArray(extras)) throw new ApiError(400, 'chunk_extras is required and must be an array');
  const fileExtras = b.file_extras as Record<string, unknown> | undefined;
  if (!fileExtras || typeof fileExtras !== 'object')
    throw new ApiError(400, 'file_extras.upload_id is required');
  const uploadId = requiredString(fileExtras, 'upload_id');
  const size = optionalInteger(b, 'size');
  if (size === undefined) throw new ApiError(400, 'size is required');
  if (file.size !== undefined && size !== file.size) {
    throw new ApiError(
      400,
      `size ${size} differs from the ${file.size} bytes declared when the file was added`,
    );
  }
  const chunkSize = optionalInteger(b, 'chunk_size', 1);
  if (chunkSize !== undefined && chunkSize !== file.partSize) {
    throw new ApiError(400, `chunk_size ${chunkSize} differs from the file's chunk size ${file.partSize}`);
  }
  if (uploadId !== file.uploadId)
    throw new ApiError(400, "file_extras.upload_id does not match this file's upload");
  const upload = state.store.uploads.get(uploadId);
  if (!upload) throw new ApiError(400, 'NoSuchUpload: the upload does not exist');
  const parts = extras.map((entry, index) => {
    if (!entry || typeof entry !== 'object')
      throw new ApiError(400, `chunk_extras[${index}] must be an object`);
    const record = entry as Record<string, unknown>;
    if (typeof record.etag !== 'string' || record.etag === '')
      throw new ApiError(400, `chunk_extras[${index}].etag is required`);
    return { partNumber: partNumberOf(state, record, index), etag: record.etag };
  });
  const result = state.store.complete(upload, parts, state.settings.spec.min_chunk_size, size);
  if (!result.ok) throw new ApiError(400, result.message);
  file.size = size;
  file.state = 'finalized';
  file.finalParts = result.parts;
  pkg.updatedAt = isoTime(state.now());
  return { status: 204 };
}

export function deleteFile(ctx: ApiContext): ApiReply {
  const pkg = ctx.pkg!;
  requireNotFinalized(pkg);
  const file = findFile(pkg, ctx.params[1]!);
  pkg.files.delete(file.id);
  if (file.uploadId) ctx.state.store.uploads.delete(file.uploadId);
  return { status: 204 };
}
