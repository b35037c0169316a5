import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { PutObjectCommand, RestoreObjectCommand, type StorageClass } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { archiveControls } from '../../local/s3/archive.js';
import { LocalRelay, SOURCE_BUCKET } from '../../local/workflow/relay.js';
import { sha256 } from '../helpers/bytes.js';
import { deliveredPackage, KiB, testRelayOptions } from '../helpers/local-relay.js';

/**
 * From the review of issue 11: a Glacier object the owner already restored is readable without
 * source.restoreArchived. (s3rver refuses PutObject with StorageClass GLACIER_IR, which S3 accepts,
 * so "Glacier Instant Retrieval is not archived" is checked on a HEAD answer in a unit test only.)
 */
let relay: LocalRelay | undefined;
afterEach(async () => {
  await relay?.close();
  relay = undefined;
});

async function relayWithClass(
  key: string,
  size: number,
  storageClass: StorageClass,
  before?: () => Promise<void>,
) {
  const body = randomBytes(size);
  const put = await relay!.sourceClient.send(
    new PutObjectCommand({ Bucket: SOURCE_BUCKET, Key: key, Body: body, StorageClass: storageClass }),
  );
  await before?.();
  const summary = (await relay!.trigger(
    relay!.objectCreatedEvent(key, put.ETag!.replace(/"/g, ''), size),
  )) as {
    started: string[];
  };
  const run = relay!.deliveries.get(summary.started[0]!)!;
  return { body, run, outcome: await run.result };
}

describe('storage classes that are readable', () => {
  it('delivers a GLACIER object whose restored copy exists, with restoreArchived off', async () => {
    relay = await LocalRelay.start(testRelayOptions());
    archiveControls(relay.s3.server!).restoreDelayMs = 50;
    const { outcome, body } = await relayWithClass('restored/clip.mov', 300 * KiB, 'GLACIER', async () => {
      await relay!.sourceClient.send(
        new RestoreObjectCommand({
          Bucket: SOURCE_BUCKET,
          Key: 'restored/clip.mov',
          RestoreRequest: { Days: 1, GlacierJobParameters: { Tier: 'Standard' } },
        }),
      );
      await sleep(200);
    });
    expect(outcome.status).toBe('SUCCEEDED');
    const pkg = deliveredPackage(relay, (outcome as { output: { packageId: string } }).output.packageId);
    await expect(relay.emulator!.inspect.fileSha256(pkg.files[0]!.id)).resolves.toBe(sha256(body));
  });
});
