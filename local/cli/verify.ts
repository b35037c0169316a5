import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { PreparedDelivery } from '../../functions/core/delivery/request.js';
import type { RunningEmulator } from '../emulator/server.js';

/** SHA-256 of a source object, read back through S3. */
export async function sourceSha256(s3: S3Client, bucket: string, key: string): Promise<string> {
  const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const hash = createHash('sha256');
  for await (const chunk of response.Body as Readable) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Whether every file of a delivered package holds, in the MASV emulator, the bytes of its source
 * object; `null` when they cannot be read back (a real MASV, or no prepared package).
 * `firstFileSha256`, when the caller hashed file 0 as it uploaded it, spares reading it back.
 */
export async function deliveredBytesMatch(
  source: S3Client,
  emulator: RunningEmulator | undefined,
  prepared: PreparedDelivery | undefined,
  firstFileSha256?: string,
): Promise<boolean | null> {
  if (!emulator || !prepared) return null;
  let match = true;
  for (const file of prepared.files) {
    const sent =
      file.index === 0 && firstFileSha256
        ? firstFileSha256
        : await sourceSha256(source, file.bucket, file.key);
    const stored = await emulator.inspect.fileSha256(file.fileId);
    if (sent !== stored) match = false;
  }
  return match;
}
