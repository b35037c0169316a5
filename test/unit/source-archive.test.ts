import { RestoreObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { NetworkError, SourceArchivedError, SourceNotFoundError } from '../../functions/core/errors.js';
import { archivedSourcesError, archiveStatusOf, restoreSource } from '../../functions/core/source/archive.js';
import { s3Failure } from '../helpers/s3-errors.js';

const s3 = mockClient(S3Client);
const client = new S3Client({ region: 'us-east-1' });
beforeEach(() => s3.reset());

const object = { bucket: 'bkt', key: 'a.mov', versionId: 'v1' };

describe('archiveStatusOf (from HEAD)', () => {
  it('treats Glacier classes as archived until x-amz-restore says the copy is ready', () => {
    expect(archiveStatusOf({ StorageClass: 'GLACIER' })).toEqual({
      storageClass: 'GLACIER',
      restoreOngoing: false,
    });
    expect(archiveStatusOf({ StorageClass: 'DEEP_ARCHIVE', Restore: 'ongoing-request="true"' })).toEqual({
      storageClass: 'DEEP_ARCHIVE',
      restoreOngoing: true,
    });
    expect(
      archiveStatusOf({
        StorageClass: 'GLACIER',
        Restore: 'ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"',
      }),
    ).toBeUndefined();
  });

  it('treats Intelligent-Tiering archive tiers as archived, other classes as readable', () => {
    expect(
      archiveStatusOf({ StorageClass: 'INTELLIGENT_TIERING', ArchiveStatus: 'DEEP_ARCHIVE_ACCESS' }),
    ).toEqual({
      storageClass: 'INTELLIGENT_TIERING',
      accessTier: 'DEEP_ARCHIVE_ACCESS',
      restoreOngoing: false,
    });
    for (const storageClass of [undefined, 'STANDARD', 'STANDARD_IA', 'GLACIER_IR', 'INTELLIGENT_TIERING'])
      expect(archiveStatusOf({ StorageClass: storageClass })).toBeUndefined();
  });

  it('names every archived object (up to five) and what to do', () => {
    const status = { storageClass: 'GLACIER', restoreOngoing: false };
    const error = archivedSourcesError(
      Array.from({ length: 7 }, (_, i) => ({ bucket: 'bkt', key: `k${i}`, status })),
    );
    expect(error).toBeInstanceOf(SourceArchivedError);
    expect(error.message).toContain('s3://bkt/k4 is archived in S3 Glacier Flexible Retrieval');
    expect(error.message).not.toContain('k5 is');
    expect(error.message).toContain('(and 2 more)');
    expect(error.message).toMatch(/source\.restoreArchived/);
  });
});

describe('restoreSource', () => {
  const glacier = { storageClass: 'GLACIER', restoreOngoing: false };

  it('sends Days and the tier for Glacier, no Days for Intelligent-Tiering, Standard instead of Expedited for Deep Archive', async () => {
    s3.on(RestoreObjectCommand).resolves({ $metadata: { httpStatusCode: 202 } });
    await restoreSource(client, object, glacier, { tier: 'Bulk', days: 3 });
    await restoreSource(
      client,
      object,
      { ...glacier, accessTier: 'ARCHIVE_ACCESS', storageClass: 'INTELLIGENT_TIERING' },
      { tier: 'Expedited', days: 3 },
    );
    await restoreSource(
      client,
      object,
      { ...glacier, storageClass: 'DEEP_ARCHIVE' },
      { tier: 'Expedited', days: 3 },
    );
    const inputs = s3.commandCalls(RestoreObjectCommand).map((c) => c.args[0].input);
    expect(inputs[0]).toEqual({
      Bucket: 'bkt',
      Key: 'a.mov',
      VersionId: 'v1',
      RestoreRequest: { Days: 3, GlacierJobParameters: { Tier: 'Bulk' } },
    });
    expect(inputs[1]!.RestoreRequest).toEqual({ GlacierJobParameters: { Tier: 'Expedited' } });
    expect(inputs[2]!.RestoreRequest).toEqual({ Days: 3, GlacierJobParameters: { Tier: 'Standard' } });
  });

  const ask = () => restoreSource(client, object, glacier, { tier: 'Standard', days: 1 });

  it('is safe to repeat: 202 started, 200 restored, 409 ongoing, not archived any more = restored', async () => {
    s3.on(RestoreObjectCommand)
      .resolvesOnce({ $metadata: { httpStatusCode: 202 } })
      .resolvesOnce({ $metadata: { httpStatusCode: 200 } })
      .rejectsOnce(s3Failure('RestoreAlreadyInProgress', 409))
      .rejectsOnce(s3Failure('ObjectAlreadyInActiveTierError', 403));
    expect([await ask(), await ask(), await ask(), await ask()]).toEqual([
      'started',
      'restored',
      'ongoing',
      'restored',
    ]);
  });

  it('says which permission is missing on 403, retries on 5xx, and names any other refusal', async () => {
    s3.on(RestoreObjectCommand)
      .rejectsOnce(s3Failure('AccessDenied', 403))
      .rejectsOnce(s3Failure('InternalError', 500))
      .rejectsOnce(s3Failure('MalformedXML', 400));
    const denied = await ask().catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(SourceNotFoundError);
    expect((denied as Error).message).toMatch(/s3:RestoreObject/);
    await expect(ask()).rejects.toThrow(NetworkError);
    await expect(ask()).rejects.toThrow(SourceArchivedError);
  });
});
