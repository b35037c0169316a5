import { GetObjectTaggingCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalRelay, SOURCE_BUCKET } from '../../local/relay.js';

/**
 * A request given to StartExecution that Prepare refuses (DeliveryRequestError) still names real
 * source objects: Abort tags them failed and lists them in the failure event, so the owner learns
 * which objects were not delivered.
 */
const KiB = 1024;
let relay: LocalRelay;

beforeAll(async () => {
  relay = await LocalRelay.start({
    fastRetries: true,
    clock: { sleep: async () => undefined, random: () => 0 },
    emulator: { spec: { min_chunk_size: 64 * KiB, max_chunk_size: 256 * KiB, max_chunk_count: 200 } },
    config: { transfer: { partSizeMiB: 5, mapConcurrency: 4, partConcurrency: 3, partsPerBatch: 4 } },
  });
});
afterAll(async () => {
  await relay.close();
});

describe('Abort after Prepare refused a direct StartExecution request', () => {
  it('tags the named source failed and lists it in the failure event', async () => {
    // Prepare: a real object, and a request whose package override is invalid.
    const key = 'direct/clip.mov';
    await relay.sourceClient.send(
      new PutObjectCommand({ Bucket: SOURCE_BUCKET, Key: key, Body: Buffer.alloc(100 * KiB, 1) }),
    );
    const name = 'refused-override';
    const input = { files: [{ bucket: SOURCE_BUCKET, key }], package: { recipients: ['not-an-email'] } };

    // Act
    expect(await relay.startExecution(name, input as never)).toBe(true);
    const outcome = await relay.deliveries.get(name)!.result;

    // Assess
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'DeliveryRequestError' });
    const failure = relay.events.events.find(
      (e) => e.detailType === 'MASV Relay Delivery Failed' && e.detail.deliveryId === name,
    );
    expect(failure?.detail.files).toEqual([{ bucket: SOURCE_BUCKET, key }]);
    const tags = await relay.sourceClient.send(
      new GetObjectTaggingCommand({ Bucket: SOURCE_BUCKET, Key: key }),
    );
    expect(tags.TagSet?.find((t) => t.Key === 'masv-relay:status')?.Value).toBe('failed');
  });
});
