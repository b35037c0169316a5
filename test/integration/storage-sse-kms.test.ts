import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageError } from '../../functions/core/errors.js';
import { MasvClient } from '../../functions/core/masv/client.js';
import { allowsContentMd5, partCheckFor } from '../../functions/core/source/part-integrity.js';
import { type RunningEmulator, startEmulator } from '../../local/emulator/server.js';
import { EMULATOR_KMS_KEY_ID } from '../../local/emulator/storage-encryption.js';
import { KiB, md5, sha256 } from '../helpers/bytes.js';
import { beginFileUpload, newTeamPackage } from '../helpers/emulator-uploads.js';

let masv: RunningEmulator;
let client: MasvClient;

beforeAll(async () => {
  masv = await startEmulator({
    port: 0,
    spec: { min_chunk_size: 4 * KiB, max_chunk_size: 1024 * KiB },
    settings: { storageEncryption: 'SSE-KMS' },
  });
  client = new MasvClient({ baseUrl: masv.url });
});
afterAll(() => masv.close());

async function startFile(size: number) {
  const access = await newTeamPackage(client, masv);
  return { access, ...(await beginFileUpload(client, access, size)) };
}

const bodyOf = (data: Buffer) => ({ stream: Readable.from([data]), contentLength: data.length });
const contentMd5 = (data: Buffer) => createHash('md5').update(data).digest('base64');

describe('MASV storage with SSE-KMS (emulator)', () => {
  it('puts the KMS headers in create blueprints, so the relay knows to verify with Content-MD5', async () => {
    const { createBlueprint } = await startFile(5);
    expect(createBlueprint.headers).toMatchObject({
      'x-amz-server-side-encryption': 'aws:kms',
      'x-amz-server-side-encryption-aws-kms-key-id': EMULATOR_KMS_KEY_ID,
    });
    expect(partCheckFor(createBlueprint)).toBe('content-md5');
    expect(partCheckFor({ ...createBlueprint, headers: { 'x-amz-server-side-encryption': 'AES256' } })).toBe(
      'etag',
    );
  });

  it('answers part PUTs with ETags that are not MD5s, and completes with those ETags', async () => {
    const data = Buffer.from(Array.from({ length: 9 * KiB }, (_, i) => (i * 7) % 256));
    const { access, fileId, uploadId } = await startFile(data.length);
    const blueprints = await client.getPartBlueprints(access, fileId, uploadId, 0, 3);
    expect(allowsContentMd5(blueprints[0]!.url)).toBe(true);
    const parts = [];
    for (const [i, bp] of blueprints.entries()) {
      const bytes = data.subarray(i * 4 * KiB, (i + 1) * 4 * KiB);
      const etag = await client.uploadPart(bp, bodyOf(bytes));
      expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
      expect(etag.replace(/"/g, '')).not.toBe(md5(bytes));
      parts.push({ partNumber: i + 1, etag });
    }
    await client.finalizeFile(access, fileId, { uploadId, size: data.length, partSize: 4 * KiB, parts });
    await expect(masv.inspect.fileSha256(fileId)).resolves.toBe(sha256(data));
  });

  it('checks Content-MD5 on a part: BadDigest keeps the earlier part, a malformed digest is InvalidDigest', async () => {
    const good = Buffer.alloc(4 * KiB, 1);
    const { access, fileId, uploadId } = await startFile(good.length);
    const [bp] = await client.getPartBlueprints(access, fileId, uploadId, 0, 1);
    const withMd5 = (value: string) => ({ ...bp!, headers: { ...bp!.headers, 'content-md5': value } });
    const first = await client.uploadPart(withMd5(contentMd5(good)), bodyOf(good));
    const bad = client.uploadPart(withMd5(contentMd5(good)), bodyOf(Buffer.alloc(4 * KiB, 2)));
    await expect(bad).rejects.toBeInstanceOf(StorageError);
    await expect(bad).rejects.toThrow(/BadDigest/);
    await expect(client.uploadPart(withMd5('not-a-digest'), bodyOf(good))).rejects.toThrow(/InvalidDigest/);
    await client.finalizeFile(access, fileId, {
      uploadId,
      size: good.length,
      partSize: 4 * KiB,
      parts: [{ partNumber: 1, etag: first }],
    });
    await expect(masv.inspect.fileSha256(fileId)).resolves.toBe(sha256(good));
  });

  it('accepts Content-MD5 only where the URL signature allows an extra header', () => {
    expect(allowsContentMd5('https://s/k?partNumber=1&X-Amz-SignedHeaders=host&X-Amz-Signature=ab')).toBe(
      true,
    );
    expect(allowsContentMd5('https://s/k?partNumber=1&AWSAccessKeyId=A&Expires=1&Signature=x')).toBe(false);
    expect(allowsContentMd5('https://s/k?X-Amz-SignedHeaders=content-md5%3Bhost&X-Amz-Signature=ab')).toBe(
      false,
    );
  });
});
