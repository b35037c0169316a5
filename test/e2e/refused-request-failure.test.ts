import { GetObjectTaggingCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalRelay, SOURCE_BUCKET } from '../../local/workflow/relay.js';
import { KiB, putSource, testRelayOptions } from '../helpers/local-relay.js';

/**
 * A request given to StartExecution that Prepare refuses (DeliveryRequestError) still names real
 * source objects: Abort tags them failed and lists them in the failure event, so the owner learns
 * which objects were not delivered.
 */
let relay: LocalRelay;

beforeAll(async () => {
  relay = await LocalRelay.start(testRelayOptions());
});
afterAll(async () => {
  await relay.close();
});

describe('Abort after Prepare refused a direct StartExecution request', () => {
  it('tags the named source failed and lists it in the failure event', async () => {
    // Prepare: a real object, and a request whose package override is invalid.
    const key = 'direct/clip.mov';
    await putSource(relay, key, 100 * KiB);
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
