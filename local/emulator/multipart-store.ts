import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { StorageEncryption } from './storage-encryption.js';

export interface StoredPart {
  partNumber: number;
  size: number;
  /** Hex MD5 of the part. */
  md5: string;
  /** The part's ETag without quotes: its MD5, except under SSE-KMS where S3's ETags are not MD5s. */
  etag: string;
  file: string;
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

function stripQuotes(etag: string) {
  return etag.replace(/^W\//, '').replace(/"/g, '');
}
