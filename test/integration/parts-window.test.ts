import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../functions/core/source/s3-source.js';
import { StateBucket } from '../../functions/core/state/state-bucket.js';
import { LOCAL_S3_CREDENTIALS, type LocalS3, startLocalS3 } from '../../local/s3/server.js';

let s3: LocalS3;
let client: S3Client;
beforeAll(async () => {
  s3 = await startLocalS3({ buckets: ['ledger'] });
  client = createS3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: LOCAL_S3_CREDENTIALS,
  });
});
afterAll(async () => {
  client.destroy();
  await s3.close();
});

describe('parts ledger: one batch reads only its own window', () => {
  it('returns exactly the parts first…last, the latest record of a part sent twice winning', async () => {
    const stateBucket = new StateBucket(client, 'ledger');
    await Promise.all(
      Array.from({ length: 1200 }, (_, i) =>
        stateBucket.recordPart('w1', 3, { partNumber: i + 1, etag: `"e${i + 1}"` }),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 1100)); // a later LastModified second
    await stateBucket.recordPart('w1', 3, { partNumber: 1100, etag: '"again"' });
    const lists: unknown[] = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'ListObjectsV2Command') lists.push(args.input);
        return next(args);
      },
      { step: 'initialize', name: 'countLists' },
    );
    const window = await stateBucket.listPartsInWindow('w1', 3, 1091, 1110);
    expect([...window.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => 1091 + i));
    expect(window.get(1100)).toEqual({ partNumber: 1100, etag: '"again"' });
    expect(window.get(1091)).toEqual({ partNumber: 1091, etag: '"e1091"' });
    // One page, started right before the window (the whole file would take two).
    expect(lists).toHaveLength(1);
    expect(lists[0]).toMatchObject({ StartAfter: 'deliveries/parts/w1/3/01090/' });
    const first = await stateBucket.listPartsInWindow('w1', 3, 1, 5);
    expect([...first.keys()]).toEqual([1, 2, 3, 4, 5]);
    expect((await stateBucket.listPartsInWindow('w1', 3, 1201, 1220)).size).toBe(0);
    expect((await stateBucket.listPartsInWindow('w1', 4, 1, 20)).size).toBe(0);
    const all = await client.send(
      new ListObjectsV2Command({ Bucket: 'ledger', Prefix: 'deliveries/parts/w1/3/' }),
    );
    expect(all.IsTruncated).toBe(true);
  }, 60_000);
});
