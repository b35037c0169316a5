import { createHash } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Blueprint } from '../masv/types.js';
import { openRange, type PinnedSource } from './s3-source.js';

/**
 * How a part's bytes are verified once they reach MASV's storage.
 *
 * - `etag` (storage encrypts with SSE-S3, the usual case): S3's part ETag is the MD5 of what it
 *   stored. The relay hashes the bytes as they stream from the source GET into the PUT and
 *   compares: one read of the source, and the relay itself verifies.
 * - `content-md5` (storage encrypts with SSE-KMS, where S3's part ETags are not MD5s): the relay
 *   first reads the part once to hash it, then streams it again with that MD5 in `Content-MD5`.
 *   Storage refuses the part (400 BadDigest) unless the bytes it received have that MD5, and the
 *   relay checks that the second read hashed the same. Storage verifies; the source is read twice.
 */
export type PartCheck = 'etag' | 'content-md5';

/** The check a file's parts need, from its create blueprint: SSE-KMS headers mean opaque ETags. */
export function partCheckFor(createBlueprint: Blueprint): PartCheck {
  const sse = Object.entries(createBlueprint.headers ?? {}).find(
    ([name]) => name.toLowerCase() === 'x-amz-server-side-encryption',
  )?.[1];
  return typeof sse === 'string' && sse.toLowerCase().startsWith('aws:kms') ? 'content-md5' : 'etag';
}

/**
 * Whether a part URL lets the relay add a `Content-MD5` header. A SigV4 query signature signs only
 * the headers it lists in `X-Amz-SignedHeaders` (usually just `host`), so an extra header is
 * accepted; a SigV2 query signature (`Signature=`, `AWSAccessKeyId=`) covers Content-MD5 itself,
 * so adding it would break the signature.
 */
export function allowsContentMd5(url: string): boolean {
  const query = new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');
  if (query.has('Signature') && query.has('AWSAccessKeyId')) return false;
  const signed = query.get('X-Amz-SignedHeaders');
  return !signed?.toLowerCase().split(';').includes('content-md5');
}

/** The MD5 of a source range, read once (the first of the two reads of `content-md5`). */
export async function md5OfRange(
  s3: S3Client,
  object: PinnedSource,
  first: number,
  last: number,
  signal?: AbortSignal,
): Promise<{ hex: string; base64: string }> {
  const hash = createHash('md5');
  if (last >= first) {
    const body = await openRange(s3, object, first, last, signal);
    for await (const chunk of body) hash.update(chunk as Buffer);
  }
  const digest = hash.digest();
  return { hex: digest.toString('hex'), base64: digest.toString('base64') };
}
