import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  NetworkError,
  SourceChangedError,
  SourceNotFoundError,
  StateBucketError,
} from '../../functions/core/errors.js';
import { headSource, openRange } from '../../functions/core/source/s3-source.js';
import { StateBucket } from '../../functions/core/state/state-bucket.js';
import { s3Failure } from '../helpers/s3-errors.js';

const s3 = mockClient(S3Client);
const client = new S3Client({ region: 'us-east-1' });
beforeEach(() => s3.reset());

describe('S3 source reader', () => {
  it('pins a HEAD to the version id when there is one, else to the ETag with If-Match', async () => {
    s3.on(HeadObjectCommand).resolves({
      ContentLength: 5,
      ETag: '"abc"',
      LastModified: new Date(0),
      Metadata: { 'masv-name': 'x' },
    });
    await headSource(client, { bucket: 'bkt', key: 'k', versionId: 'v1', etag: 'abc' });
    await headSource(client, { bucket: 'bkt', key: 'k', etag: 'abc' });
    const [versioned, unversioned] = s3.commandCalls(HeadObjectCommand).map((c) => c.args[0].input);
    expect(versioned).toEqual({ Bucket: 'bkt', Key: 'k', VersionId: 'v1', IfMatch: undefined });
    expect(unversioned).toEqual({ Bucket: 'bkt', Key: 'k', VersionId: undefined, IfMatch: '"abc"' });
  });

  it('pins a ranged GET and checks the length it got', async () => {
    s3.on(GetObjectCommand).resolves({
      ContentLength: 3,
      Body: Readable.from([Buffer.from('abc')]) as never,
    });
    await expect(openRange(client, { bucket: 'bkt', key: 'k', etag: 'e' }, 10, 19)).rejects.toThrow(
      /returned 3 bytes instead of 10/,
    );
    expect(s3.commandCalls(GetObjectCommand)[0]!.args[0].input).toMatchObject({
      Range: 'bytes=10-19',
      IfMatch: '"e"',
    });
  });

  it.each([
    ['PreconditionFailed', 412, SourceChangedError, /changed after the delivery started/],
    ['NoSuchKey', 404, SourceChangedError, /deleted or replaced during the delivery/],
    ['AccessDenied', 403, SourceNotFoundError, /Grant the relay read access/],
    ['InternalError', 500, NetworkError, /Reading s3:\/\/bkt\/k failed/],
  ])('maps a GET failing with %s (%i) to a typed error', async (name, status, type, message) => {
    s3.on(GetObjectCommand).rejects(s3Failure(name, status));
    const error = await openRange(client, { bucket: 'bkt', key: 'k', etag: 'e' }, 0, 9).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(type);
    expect((error as Error).message).toMatch(message);
  });

  it('maps a HEAD 404 to SourceNotFoundError naming the object', async () => {
    s3.on(HeadObjectCommand).rejects(s3Failure('NotFound', 404));
    await expect(headSource(client, { bucket: 'bkt', key: 'gone.mov' })).rejects.toThrow(
      /s3:\/\/bkt\/gone\.mov/,
    );
  });
});

describe('parts ledger errors', () => {
  it('turns state-bucket 5xx into retryable NetworkError and 403 into a StateBucketError that says what to check', async () => {
    const stateBucket = new StateBucket(client, 'state');
    s3.on(PutObjectCommand)
      .rejectsOnce(s3Failure('SlowDown', 503))
      .rejectsOnce(s3Failure('AccessDenied', 403));
    await expect(stateBucket.recordPart('d', 0, { partNumber: 1, etag: '"e"' })).rejects.toBeInstanceOf(
      NetworkError,
    );
    const denied = (await stateBucket
      .recordPart('d', 0, { partNumber: 1, etag: '"e"' })
      .catch((e: unknown) => e)) as Error;
    expect(denied).toBeInstanceOf(StateBucketError);
    expect(denied.message).toMatch(/check the function's IAM permissions and the bucket's KMS key/);
  });

  it('encodes the ETag as received into the ledger key', async () => {
    const stateBucket = new StateBucket(client, 'state');
    s3.on(PutObjectCommand).resolves({});
    await stateBucket.recordPart('d1', 2, { partNumber: 17, etag: '"a b"' }, 1_764_000_000_000);
    expect(s3.commandCalls(PutObjectCommand)[0]!.args[0].input.Key).toBe(
      'deliveries/parts/d1/2/00017.%22a%20b%22~1764000000000',
    );
  });
});
