import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceChangedError } from '../../functions/core/errors.js';
import { DeliveryStore } from '../../functions/core/parts-ledger.js';
import { createS3Client, openRange } from '../../functions/core/s3-source.js';
import { LOCAL_S3_CREDENTIALS, type LocalS3, startLocalS3 } from '../../local/s3-server.js';

let s3: LocalS3;
let client: ReturnType<typeof createS3Client>;
beforeAll(async () => {
  s3 = await startLocalS3({ buckets: ['bkt'] });
  client = createS3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: LOCAL_S3_CREDENTIALS,
  });
});
afterAll(() => s3.close());

describe('the local S3 stand-in (s3rver with shims)', () => {
  it('lists more than 1,000 keys page by page (s3rver alone fails: DES continuation tokens)', async () => {
    await Promise.all(
      Array.from({ length: 1234 }, (_, i) =>
        client.send(
          new PutObjectCommand({
            Bucket: 'bkt',
            Key: `many/${String(i).padStart(5, '0')} +%ü`,
            Body: '',
            ContentLength: 0,
          }),
        ),
      ),
    );
    const keys: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: 'bkt', Prefix: 'many/', ContinuationToken: token }),
      );
      keys.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
      pages++;
    } while (token);
    expect(pages).toBe(2);
    expect(keys).toHaveLength(1234);
    expect(new Set(keys).size).toBe(1234);
    expect(keys[0]).toBe('many/00000 +%ü');
  });

  it('answers 412 to a GET whose If-Match no longer holds (s3rver alone ignores If-Match)', async () => {
    const put = await client.send(
      new PutObjectCommand({ Bucket: 'bkt', Key: 'pinned.bin', Body: Buffer.alloc(100, 1) }),
    );
    const etag = put.ETag!.replace(/"/g, '');
    const body = await openRange(client, { bucket: 'bkt', key: 'pinned.bin', etag }, 0, 49);
    let read = 0;
    for await (const chunk of body) read += (chunk as Buffer).length;
    expect(read).toBe(50);
    await client.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'pinned.bin', Body: Buffer.alloc(100, 2) }));
    await expect(openRange(client, { bucket: 'bkt', key: 'pinned.bin', etag }, 0, 49)).rejects.toBeInstanceOf(
      SourceChangedError,
    );
  });

  it('keeps a parts ledger of thousands of parts and clears it', async () => {
    const store = new DeliveryStore(client, 'bkt');
    await Promise.all(
      Array.from({ length: 1100 }, (_, i) =>
        store.recordPart('d1', 0, { partNumber: i + 1, etag: `"e${i}"` }),
      ),
    );
    await store.recordPart('d1', 0, { partNumber: 7, etag: '"again"' });
    const parts = await store.listParts('d1', 0);
    expect(parts.size).toBe(1100);
    expect(parts.get(1100)).toEqual({ partNumber: 1100, etag: '"e1099"' });
    await store.clear('d1');
    expect((await store.listParts('d1', 0)).size).toBe(0);
    await expect(
      client.send(new GetObjectCommand({ Bucket: 'bkt', Key: 'deliveries/d1/parts/0/00001.%22e0%22' })),
    ).rejects.toThrow();
  });
});
