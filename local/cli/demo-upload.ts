import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

const MiB = 1024 * 1024;

/**
 * Uploads `sizeMiB` of random bytes with @aws-sdk/lib-storage (a multipart upload, as large
 * objects arrive in real buckets) and returns the SHA-256 of what was sent.
 */
export async function uploadRandomObject(s3: S3Client, bucket: string, key: string, sizeMiB: number) {
  const hash = createHash('sha256');
  let left = sizeMiB * MiB;
  const body = new Readable({
    read() {
      if (left <= 0) return this.push(null);
      const chunk = randomBytes(Math.min(MiB, left));
      left -= chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  const upload = new Upload({
    client: s3,
    params: { Bucket: bucket, Key: key, Body: body },
    partSize: 8 * MiB,
    queueSize: 2,
  });
  await upload.done();
  return { sha256: hash.digest('hex'), size: sizeMiB * MiB };
}
