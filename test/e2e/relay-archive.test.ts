import { randomBytes } from 'node:crypto';
import { GetObjectTaggingCommand, PutObjectCommand, type StorageClass } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { archiveControls } from '../../local/s3/archive.js';
import { LocalRelay, SOURCE_BUCKET } from '../../local/workflow/relay.js';
import { sha256 } from '../helpers/bytes.js';
import { deliveredPackage, KiB, testRelayOptions } from '../helpers/local-relay.js';

let relay: LocalRelay | undefined;
afterEach(async () => {
  await relay?.close();
  relay = undefined;
});

/** Puts an object with a storage class and relays it through the EventBridge path. */
async function relayArchived(key: string, size: number, storageClass: StorageClass, before?: () => void) {
  const body = randomBytes(size);
  const put = await relay!.sourceClient.send(
    new PutObjectCommand({ Bucket: SOURCE_BUCKET, Key: key, Body: body, StorageClass: storageClass }),
  );
  before?.();
  const summary = (await relay!.trigger(
    relay!.objectCreatedEvent(key, put.ETag!.replace(/"/g, ''), size),
  )) as { started: string[] };
  const run = relay!.deliveries.get(summary.started[0]!)!;
  return { body, run, outcome: await run.result };
}

const entered = (run: { events: Array<{ type: string; state?: { name: string } }> }, name: string) =>
  run.events.filter((e) => e.type === 'StateEntered' && e.state?.name === name).length;

describe('archived sources through the real workflow', () => {
  it('refuses a Glacier object at Prepare with a clear error, before any package exists', async () => {
    relay = await LocalRelay.start(testRelayOptions());
    const { outcome, run } = await relayArchived('cold/clip.mov', 300 * KiB, 'GLACIER');
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'SourceArchivedError' });
    const cause = (outcome as { cause: string }).cause;
    expect(cause).toContain('S3 Glacier Flexible Retrieval (storage class GLACIER)');
    expect(cause).toContain('source.restoreArchived');
    expect(relay.emulator!.inspect.packages()).toHaveLength(0);
    expect(entered(run, 'Transfer')).toBe(0);
    expect(archiveControls(relay.s3.server!).restoreRequests).toHaveLength(0);
    const failure = relay.events.events.find((e) => e.detailType === 'MASV Relay Delivery Failed');
    expect(failure?.detail).toMatchObject({
      error: 'SourceArchivedError',
      whatToDo: expect.stringContaining('source.restoreArchived'),
    });
    expect(failure?.detail).not.toHaveProperty('packageId');
    const tags = await relay.sourceClient.send(
      new GetObjectTaggingCommand({ Bucket: SOURCE_BUCKET, Key: 'cold/clip.mov' }),
    );
    expect(Object.fromEntries(tags.TagSet!.map((t) => [t.Key, t.Value]))).toMatchObject({
      'masv-relay:status': 'failed',
    });
  });

  it('refuses an Intelligent-Tiering object in the Deep Archive Access tier, naming the tier', async () => {
    relay = await LocalRelay.start(testRelayOptions());
    const { outcome } = await relayArchived('cold/tiered.mov', 100 * KiB, 'INTELLIGENT_TIERING', () =>
      archiveControls(relay!.s3.server!).setAccessTier(
        SOURCE_BUCKET,
        'cold/tiered.mov',
        'DEEP_ARCHIVE_ACCESS',
      ),
    );
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'SourceArchivedError' });
    expect((outcome as { cause: string }).cause).toContain('Intelligent-Tiering Deep Archive Access tier');
    expect(relay.emulator!.inspect.packages()).toHaveLength(0);
  });

  it('with source.restoreArchived, restores a Deep Archive object, waits, then delivers it byte-exact', async () => {
    relay = await LocalRelay.start(
      testRelayOptions({
        config: {
          transfer: { partSizeMiB: 5, mapConcurrency: 4, partConcurrency: 3, partsPerBatch: 4 },
          source: { restoreArchived: true, restoreTier: 'Expedited', restoreDays: 3, restorePollSeconds: 1 },
        },
      }),
    );
    const archive = archiveControls(relay.s3.server!);
    archive.restoreDelayMs = 1500;
    const { outcome, body, run } = await relayArchived('cold/deep.mov', 700 * KiB, 'DEEP_ARCHIVE');
    expect(outcome.status).toBe('SUCCEEDED');
    const pkg = deliveredPackage(relay, (outcome as { output: { packageId: string } }).output.packageId);
    await expect(relay.emulator!.inspect.fileSha256(pkg.files[0]!.id)).resolves.toBe(sha256(body));
    // One restore asked (Expedited is not offered for Deep Archive: Standard), then checks until ready.
    expect(archive.restoreRequests).toEqual([
      { bucket: SOURCE_BUCKET, key: 'cold/deep.mov', tier: 'Standard', days: 3 },
    ]);
    expect(entered(run, 'Wait For Restore')).toBeGreaterThanOrEqual(1);
    expect(entered(run, 'Prepare')).toBe(entered(run, 'Wait For Restore') + 1);
    expect(relay.emulator!.inspect.packages()).toHaveLength(1);
  });

  it('with source.restoreArchived, restores an Intelligent-Tiering archived object (no Days) and delivers it', async () => {
    relay = await LocalRelay.start(
      testRelayOptions({
        config: {
          transfer: { partSizeMiB: 5, mapConcurrency: 4, partConcurrency: 3, partsPerBatch: 4 },
          source: { restoreArchived: true, restoreTier: 'Bulk', restorePollSeconds: 1 },
        },
      }),
    );
    const archive = archiveControls(relay.s3.server!);
    archive.restoreDelayMs = 500;
    const { outcome, body } = await relayArchived('cold/tiered.mov', 200 * KiB, 'INTELLIGENT_TIERING', () =>
      archive.setAccessTier(SOURCE_BUCKET, 'cold/tiered.mov', 'ARCHIVE_ACCESS'),
    );
    expect(outcome.status).toBe('SUCCEEDED');
    const pkg = deliveredPackage(relay, (outcome as { output: { packageId: string } }).output.packageId);
    await expect(relay.emulator!.inspect.fileSha256(pkg.files[0]!.id)).resolves.toBe(sha256(body));
    expect(archive.restoreRequests).toEqual([
      { bucket: SOURCE_BUCKET, key: 'cold/tiered.mov', tier: 'Bulk' },
    ]);
  });
});
