import {
  DeleteObjectsCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  PutObjectTaggingCommand,
  RestoreObjectCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceArchivedError, SourceChangedError, SourceNotFoundError } from '../../functions/core/errors.js';
import { restoreSource } from '../../functions/core/source/archive.js';
import { createS3Client, headSource, openRange, tagSource } from '../../functions/core/source/s3-source.js';
import { StateBucket } from '../../functions/core/state/state-bucket.js';
import { archiveControls } from '../../local/s3/archive.js';
import { LOCAL_S3_CREDENTIALS, type LocalS3, startLocalS3 } from '../../local/s3/server.js';

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
    const stateBucket = new StateBucket(client, 'bkt');
    await Promise.all(
      Array.from({ length: 1100 }, (_, i) =>
        stateBucket.recordPart('d1', 0, { partNumber: i + 1, etag: `"e${i}"` }),
      ),
    );
    await stateBucket.recordPart('d1', 0, { partNumber: 7, etag: '"again"' });
    const parts = await stateBucket.listParts('d1', 0);
    expect(parts.size).toBe(1100);
    expect(parts.get(1100)).toEqual({ partNumber: 1100, etag: '"e1099"' });
    await stateBucket.clear('d1');
    expect((await stateBucket.listParts('d1', 0)).size).toBe(0);
    await expect(
      client.send(new GetObjectCommand({ Bucket: 'bkt', Key: 'deliveries/parts/d1/0/00001.%22e0%22' })),
    ).rejects.toThrow();
  });

  it('refuses a second conditional PutObject (If-None-Match: *) sent by the SDK, which adds ?x-id=PutObject', async () => {
    await client.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'once.json', Body: '1', IfNoneMatch: '*' }));
    await expect(
      client.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'once.json', Body: '2', IfNoneMatch: '*' })),
    ).rejects.toMatchObject({ name: 'PreconditionFailed' });
  });

  it('refuses a DeleteObjects of more than 1,000 keys whole, as S3 does (MalformedXML); StateBucket.clear of more still works', async () => {
    const keys = Array.from({ length: 1001 }, (_, i) => `bulk/${String(i).padStart(4, '0')}`);
    await Promise.all(
      keys.map((Key) =>
        client.send(new PutObjectCommand({ Bucket: 'bkt', Key, Body: '', ContentLength: 0 })),
      ),
    );
    await expect(
      client.send(
        new DeleteObjectsCommand({
          Bucket: 'bkt',
          Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
        }),
      ),
    ).rejects.toMatchObject({ name: 'MalformedXML', $metadata: { httpStatusCode: 400 } });
    const exists = (Key: string) =>
      client.send(new HeadObjectCommand({ Bucket: 'bkt', Key })).then(
        () => true,
        () => false,
      );
    expect([await exists(keys[0]!), await exists(keys[1000]!)]).toEqual([true, true]);

    const deleted = await client.send(
      new DeleteObjectsCommand({
        Bucket: 'bkt',
        Delete: { Objects: keys.slice(0, 1000).map((Key) => ({ Key })) },
      }),
    );
    expect(deleted.Deleted).toHaveLength(1000);
    expect([await exists(keys[0]!), await exists(keys[1000]!)]).toEqual([false, true]);

    const stateBucket = new StateBucket(client, 'bkt');
    await Promise.all(
      Array.from({ length: 1001 }, (_, i) =>
        stateBucket.recordPart('d-clear', 0, { partNumber: i + 1, etag: `"e${i}"` }),
      ),
    );
    expect((await stateBucket.listParts('d-clear', 0)).size).toBe(1001);
    await stateBucket.clear('d-clear');
    expect((await stateBucket.listParts('d-clear', 0)).size).toBe(0);
  });

  it('refuses a version id other than null, as an unversioned S3 bucket does, so a pinned read is never served another object', async () => {
    await client.send(
      new PutObjectCommand({ Bucket: 'bkt', Key: 'versioned?.bin', Body: Buffer.alloc(10, 1) }),
    );
    const refused = { name: 'InvalidArgument', $metadata: { httpStatusCode: 400 } };
    await expect(
      client.send(
        new GetObjectCommand({
          Bucket: 'bkt',
          Key: 'versioned?.bin',
          VersionId: '3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY',
        }),
      ),
    ).rejects.toMatchObject(refused);
    await expect(
      client.send(new HeadObjectCommand({ Bucket: 'bkt', Key: 'versioned?.bin', VersionId: 'v1' })),
    ).rejects.toMatchObject({ $metadata: { httpStatusCode: 400 } });
    await expect(
      client.send(new GetObjectTaggingCommand({ Bucket: 'bkt', Key: 'versioned?.bin', VersionId: 'v1' })),
    ).rejects.toMatchObject(refused);
    await expect(
      client.send(
        new RestoreObjectCommand({
          Bucket: 'bkt',
          Key: 'versioned?.bin',
          VersionId: 'v1',
          RestoreRequest: { Days: 1 },
        }),
      ),
    ).rejects.toMatchObject(refused);
    await expect(
      headSource(client, { bucket: 'bkt', key: 'versioned?.bin', versionId: 'v1' }),
    ).rejects.toBeInstanceOf(SourceNotFoundError);
    // `null` is the one version an object of an unversioned bucket has.
    const head = await client.send(
      new HeadObjectCommand({ Bucket: 'bkt', Key: 'versioned?.bin', VersionId: 'null' }),
    );
    expect(head.ContentLength).toBe(10);
  });

  describe('object tagging as strict as S3', () => {
    const tagsOf = async (key: string) =>
      (await client.send(new GetObjectTaggingCommand({ Bucket: 'bkt', Key: key }))).TagSet?.map((t) => [
        t.Key,
        t.Value,
      ]);
    const putTags = (key: string, tags: Array<[string, string]>) =>
      client.send(
        new PutObjectTaggingCommand({
          Bucket: 'bkt',
          Key: key,
          Tagging: { TagSet: tags.map(([Key, Value]) => ({ Key, Value })) },
        }),
      );

    it.each([
      ['a value with parentheses', [['masv-relay:reason', 'failed (422)']], /TagValue/],
      ['a value with quotes and braces', [['r', '{"code":"x"}']], /TagValue/],
      ['a value over 256 characters', [['r', 'a'.repeat(257)]], /TagValue/],
      ['a key over 128 characters', [['k'.repeat(129), 'v']], /TagKey/],
      ['a key with a comma', [['a,b', 'v']], /TagKey/],
      ['an aws: key', [['AWS:thing', 'v']], /aws:/],
      [
        'duplicate keys',
        [
          ['k', '1'],
          ['k', '2'],
        ],
        /same key/,
      ],
      ['11 tags', Array.from({ length: 11 }, (_, i) => [`k${i}`, 'v']), /greater than 10/],
    ] as Array<[string, Array<[string, string]>, RegExp]>)(
      'refuses %s with InvalidTag (400)',
      async (_, tags, message) => {
        await client.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'tagged.bin', Body: 'x' }));
        const error = (await putTags('tagged.bin', tags).then(
          () => undefined,
          (e: unknown) => e,
        )) as (Error & { $metadata: { httpStatusCode: number } }) | undefined;
        expect(error).toBeInstanceOf(Error);
        expect(error!.name).toBe('InvalidTag');
        expect(error!.$metadata.httpStatusCode).toBe(400);
        expect(error!.message).toMatch(message);
        expect(await tagsOf('tagged.bin')).toEqual([]);
      },
    );

    it('accepts what S3 accepts: 10 tags, Unicode letters, + - = . _ : / @, an empty value, values kept as written', async () => {
      await client.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'ok.bin', Body: 'x' }));
      const tags: Array<[string, string]> = [
        ['Project', 'Blue'],
        ['équipe', 'Montréal 2026'],
        ['path', 'a/b:c=d+e-f_g.h@i'],
        ['empty', ''],
        ['zeros', '007'],
        ...Array.from({ length: 5 }, (_, i): [string, string] => [`k${i}`, 'v'.repeat(256)]),
      ];
      await putTags('ok.bin', tags);
      expect(await tagsOf('ok.bin')).toEqual(tags);
    });

    it('checks the x-amz-tagging header of PutObject by the same rules, and writes nothing when refused', async () => {
      await expect(
        client.send(
          new PutObjectCommand({ Bucket: 'bkt', Key: 'header.bin', Body: 'x', Tagging: 'why=(not)' }),
        ),
      ).rejects.toMatchObject({ name: 'InvalidTag' });
      await expect(
        client.send(new GetObjectCommand({ Bucket: 'bkt', Key: 'header.bin' })),
      ).rejects.toMatchObject({
        name: 'NoSuchKey',
      });
      await client.send(
        new PutObjectCommand({
          Bucket: 'bkt',
          Key: 'header.bin',
          Body: 'x',
          Tagging: 'team=post&shot=A 001',
        }),
      );
      expect(await tagsOf('header.bin')).toEqual([
        ['team', 'post'],
        ['shot', 'A 001'],
      ]);
    });

    it('drops the tags of an object written over (tags belong to the object, not the key)', async () => {
      await client.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'again.bin', Body: 'x' }));
      await putTags('again.bin', [['a', 'b']]);
      await client.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'again.bin', Body: 'y' }));
      expect(await tagsOf('again.bin')).toEqual([]);
    });

    it('lands a failure reason with parentheses, quotes and braces, next to the object’s own tags', async () => {
      await client.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'failed.bin', Body: 'x' }));
      await putTags('failed.bin', [
        ['team', 'post'],
        ['masv-relay:reason', 'stale'],
      ]);
      const reason =
        'MasvValidationError: MASV refused the package (HTTP 422): {"code":"recipients","message":"bad, \'x\'"}';
      const merged = await tagSource(
        client,
        { bucket: 'bkt', key: 'failed.bin' },
        {
          'masv-relay:status': 'failed',
          'masv-relay:reason': reason,
        },
      );
      expect(await tagsOf('failed.bin')).toEqual([
        ['masv-relay:status', 'failed'],
        ['team', 'post'],
        [
          'masv-relay:reason',
          'MasvValidationError: MASV refused the package HTTP 422 : code : recipients message : bad x',
        ],
      ]);
      expect(merged?.dropped).toEqual([]);
    });

    it('leaves a key alone that now holds another object (unversioned bucket)', async () => {
      const first = await client.send(
        new PutObjectCommand({ Bucket: 'bkt', Key: 'replaced.bin', Body: 'old' }),
      );
      await client.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'replaced.bin', Body: 'new' }));
      const merged = await tagSource(
        client,
        { bucket: 'bkt', key: 'replaced.bin', etag: first.ETag! },
        { 'masv-relay:status': 'failed' },
      );
      expect(merged).toBeUndefined();
      expect(await tagsOf('replaced.bin')).toEqual([]);
    });

    it('keeps the status when the object already has 10 tags of its own', async () => {
      await client.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'full.bin', Body: 'x' }));
      await putTags(
        'full.bin',
        Array.from({ length: 10 }, (_, i) => [`own${i}`, 'v']),
      );
      const merged = await tagSource(
        client,
        { bucket: 'bkt', key: 'full.bin' },
        {
          'masv-relay:status': 'delivered',
          'masv-relay:package-id': 'PKG1',
        },
      );
      const tags = await tagsOf('full.bin');
      expect(tags).toHaveLength(10);
      expect(tags![0]).toEqual(['masv-relay:status', 'delivered']);
      expect(merged?.dropped.map((d) => d.key)).toEqual(['own9', 'masv-relay:package-id']);
    });
  });

  describe('archived objects as S3 treats them', () => {
    const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const restore = (key: string, request: { Days?: number; Tier?: 'Standard' | 'Bulk' | 'Expedited' }) =>
      client
        .send(
          new RestoreObjectCommand({
            Bucket: 'bkt',
            Key: key,
            RestoreRequest: {
              ...(request.Days !== undefined ? { Days: request.Days } : {}),
              GlacierJobParameters: { Tier: request.Tier ?? 'Standard' },
            },
          }),
        )
        .then(
          (answer) => answer.$metadata.httpStatusCode,
          (error: Error & { $metadata: { httpStatusCode: number } }) =>
            `${error.$metadata.httpStatusCode} ${error.name}`,
        );

    it('serves HEAD but refuses GET of a Glacier object with InvalidObjectState until a restore completes', async () => {
      archiveControls(s3.server).restoreDelayMs = 300;
      await client.send(
        new PutObjectCommand({
          Bucket: 'bkt',
          Key: 'cold.bin',
          Body: Buffer.alloc(10, 1),
          StorageClass: 'GLACIER',
        }),
      );
      const head = await client.send(new HeadObjectCommand({ Bucket: 'bkt', Key: 'cold.bin' }));
      expect(head.StorageClass).toBe('GLACIER');
      expect(head.Restore).toBeUndefined();
      const refused = await client
        .send(new GetObjectCommand({ Bucket: 'bkt', Key: 'cold.bin' }))
        .catch((e: unknown) => e as Error & { StorageClass?: string; $metadata: { httpStatusCode: number } });
      expect(refused).toMatchObject({ name: 'InvalidObjectState', StorageClass: 'GLACIER' });
      expect((refused as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(403);
      await expect(
        openRange(client, { bucket: 'bkt', key: 'cold.bin', etag: head.ETag!.replace(/"/g, '') }, 0, 4),
      ).rejects.toBeInstanceOf(SourceArchivedError);

      expect(await restore('cold.bin', { Tier: 'Standard' })).toBe('400 MalformedXML'); // Days required
      expect(await restore('cold.bin', { Days: 1, Tier: 'Bulk' })).toBe(202);
      expect(await restore('cold.bin', { Days: 1 })).toBe('409 RestoreAlreadyInProgress');
      const ongoing = await client.send(new HeadObjectCommand({ Bucket: 'bkt', Key: 'cold.bin' }));
      expect(ongoing.Restore).toBe('ongoing-request="true"');
      await settle(400);
      const restored = await client.send(new HeadObjectCommand({ Bucket: 'bkt', Key: 'cold.bin' }));
      expect(restored.Restore).toMatch(
        /^ongoing-request="false", expiry-date="\w{3}, \d\d \w{3} \d{4} 00:00:00 GMT"$/,
      );
      expect(restored.StorageClass).toBe('GLACIER');
      const got = await client.send(new GetObjectCommand({ Bucket: 'bkt', Key: 'cold.bin' }));
      expect(Buffer.from(await got.Body!.transformToByteArray())).toEqual(Buffer.alloc(10, 1));
      expect(await restore('cold.bin', { Days: 2 })).toBe(200);
    });

    it('answers RestoreObject of a Standard object with ObjectAlreadyInActiveTierError and refuses Expedited for Deep Archive', async () => {
      await client.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'warm.bin', Body: 'x' }));
      expect(await restore('warm.bin', { Days: 1 })).toBe('403 ObjectAlreadyInActiveTierError');
      await client.send(
        new PutObjectCommand({ Bucket: 'bkt', Key: 'deep.bin', Body: 'x', StorageClass: 'DEEP_ARCHIVE' }),
      );
      expect(await restore('deep.bin', { Days: 1, Tier: 'Expedited' })).toBe('400 InvalidArgument');
    });

    it('reports an Intelligent-Tiering archive tier on HEAD, refuses Days for it, and moves it back once restored', async () => {
      const archive = archiveControls(s3.server);
      archive.restoreDelayMs = 100;
      await client.send(
        new PutObjectCommand({
          Bucket: 'bkt',
          Key: 'tiered.bin',
          Body: 'x',
          StorageClass: 'INTELLIGENT_TIERING',
        }),
      );
      archive.setAccessTier('bkt', 'tiered.bin', 'ARCHIVE_ACCESS');
      const source = await headSource(client, { bucket: 'bkt', key: 'tiered.bin' });
      expect(source.archived).toEqual({
        storageClass: 'INTELLIGENT_TIERING',
        accessTier: 'ARCHIVE_ACCESS',
        restoreOngoing: false,
      });
      await expect(
        client.send(new GetObjectCommand({ Bucket: 'bkt', Key: 'tiered.bin' })),
      ).rejects.toMatchObject({
        name: 'InvalidObjectState',
        AccessTier: 'ARCHIVE_ACCESS',
      });
      expect(await restore('tiered.bin', { Days: 1 })).toBe('400 InvalidArgument');
      // The relay's restore omits Days for these tiers and is safe to repeat.
      expect(await restoreSource(client, source, source.archived!, { tier: 'Standard', days: 2 })).toBe(
        'started',
      );
      expect(await restoreSource(client, source, source.archived!, { tier: 'Standard', days: 2 })).toBe(
        'ongoing',
      );
      await settle(150);
      const after = await headSource(client, { bucket: 'bkt', key: 'tiered.bin' });
      expect(after.archived).toBeUndefined();
      expect(await restoreSource(client, source, source.archived!, { tier: 'Standard', days: 2 })).toBe(
        'restored',
      );
    });

    it('forgets the archive state when the object is written over', async () => {
      await client.send(
        new PutObjectCommand({ Bucket: 'bkt', Key: 'reborn.bin', Body: 'x', StorageClass: 'GLACIER' }),
      );
      await client.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'reborn.bin', Body: 'y' }));
      const got = await client.send(new GetObjectCommand({ Bucket: 'bkt', Key: 'reborn.bin' }));
      expect(await got.Body!.transformToString()).toBe('y');
    });
  });
});
