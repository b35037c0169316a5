import { randomBytes } from 'node:crypto';
import { Transform } from 'node:stream';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RelayDeps } from '../../functions/core/deps.js';
import type { BlueprintBody } from '../../functions/core/masv/blueprint.js';
import { MasvClient } from '../../functions/core/masv/client.js';
import type { Blueprint } from '../../functions/core/masv/types.js';
import { finalizeDelivery } from '../../functions/core/steps/finalize.js';
import { prepareDelivery } from '../../functions/core/steps/prepare.js';
import { type RunningEmulator, startEmulator } from '../../local/emulator/server.js';
import type { StorageEncryption } from '../../local/emulator/storage-encryption.js';
import { type LocalS3, startLocalS3 } from '../../local/s3/server.js';
import { createLocalDeps, SOURCE_BUCKET, STATE_BUCKET } from '../../local/workflow/local-deps.js';
import { sha256 } from '../helpers/bytes.js';
import { transferEveryBatch } from '../helpers/local-deps.js';
import { KiB, TINY_SPEC, zeroWaitClock } from '../helpers/local-relay.js';

/**
 * Bytes damaged on the way to storage are caught and sent again, whether storage's ETags are MD5s
 * (SSE-S3: the relay compares) or not (SSE-KMS: storage checks Content-MD5).
 */
class DamagingClient extends MasvClient {
  damaged = 0;
  constructor(
    url: string,
    private damage: number,
  ) {
    super({ baseUrl: url, retry: { clock: zeroWaitClock } });
  }
  override uploadPart(blueprint: Blueprint, body: BlueprintBody, signal?: AbortSignal) {
    if (this.damaged >= this.damage || body.contentLength === 0)
      return super.uploadPart(blueprint, body, signal);
    this.damaged++;
    let flipped = false;
    const flip = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        if (!flipped) {
          flipped = true;
          const copy = Buffer.from(chunk);
          copy[0] = copy[0]! ^ 0xff;
          return callback(null, copy);
        }
        callback(null, chunk);
      },
    });
    body.stream.pipe(flip);
    return super.uploadPart(blueprint, { stream: flip, contentLength: body.contentLength }, signal);
  }
}

let s3: LocalS3;
let masv: RunningEmulator;

beforeAll(async () => {
  s3 = await startLocalS3({ buckets: [SOURCE_BUCKET, STATE_BUCKET] });
  masv = await startEmulator({ port: 0, spec: TINY_SPEC });
});
afterAll(async () => {
  await masv.close();
  await s3.close();
});
afterEach(() => masv.inspect.updateSettings({ storageEncryption: 'SSE-S3' }));

async function deliverDamaged(encryption: StorageEncryption, key: string) {
  masv.inspect.updateSettings({ storageEncryption: encryption });
  const client = new DamagingClient(masv.url, 2);
  const deps: RelayDeps = {
    ...createLocalDeps({
      s3Endpoint: s3.endpoint,
      masv: { url: masv.url, apiKey: masv.accounts.apiKey, teamId: masv.accounts.teamId },
      config: { transfer: { partSizeMiB: 5, mapConcurrency: 2, partConcurrency: 1, partsPerBatch: 4 } },
      clock: zeroWaitClock,
    }).deps,
    masv: client,
  };
  const body = randomBytes(700 * KiB);
  await deps.s3.send(new PutObjectCommand({ Bucket: SOURCE_BUCKET, Key: key, Body: body }));
  const prepared = await prepareDelivery(deps, {
    deliveryId: key.replace(/\W/g, '-'),
    files: [{ bucket: SOURCE_BUCKET, key }],
  });
  const results = await transferEveryBatch(deps, prepared, {
    partConcurrency: 1,
    remainingMs: () => 600_000,
  });
  const retries = results.reduce((sum, result) => sum + result.partRetries, 0);
  await finalizeDelivery(deps, prepared);
  const file = masv.inspect.package(prepared.package.id)!.files[0]!;
  await expect(masv.inspect.fileSha256(file.id)).resolves.toBe(sha256(body));
  return { prepared, retries, damaged: client.damaged };
}

describe('damaged part bytes are caught and sent again', () => {
  it('under SSE-S3: the ETag differs from the MD5 of the bytes read, the part is re-sent with Content-MD5', async () => {
    const { damaged, prepared } = await deliverDamaged('SSE-S3', 'damaged/etag.bin');
    expect(damaged).toBe(2);
    expect(prepared.files[0]!.partCheck).toBeUndefined();
  });

  it('under SSE-KMS: storage refuses the damaged bytes (BadDigest) and the part is sent again', async () => {
    const { damaged, retries, prepared } = await deliverDamaged('SSE-KMS', 'damaged/kms.bin');
    expect(prepared.files[0]!.partCheck).toBe('content-md5');
    expect(damaged).toBe(2);
    expect(retries).toBe(2);
  });
});
