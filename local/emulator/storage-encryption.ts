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
export function encryptionResponseHeaders(mode: StorageEncryption): Record<string, string> {
  return mode === 'SSE-S3'
    ? { 'x-amz-server-side-encryption': 'AES256' }
    : {
        'x-amz-server-side-encryption': 'aws:kms',
        'x-amz-server-side-encryption-aws-kms-key-id': EMULATOR_KMS_KEY_ID,
      };
}
