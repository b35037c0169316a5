import { GetObjectTaggingCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalRelay, SOURCE_BUCKET } from '../../local/workflow/relay.js';
import { sha256 } from '../helpers/bytes.js';
import {
  deliveredPackage,
  FILE_FINALIZE_REFUSED_ONCE,
  KiB,
  relayObject,
  testRelayOptions,
} from '../helpers/local-relay.js';

let relay: LocalRelay | undefined;
afterEach(async () => {
  await relay?.close();
  relay = undefined;
});

describe('relay workflow failure paths', () => {
  it('fails with SourceChangedError, deletes the package and publishes a failure event when the source is overwritten', async () => {
    let overwritten = false;
    relay = await LocalRelay.start(
      testRelayOptions({
        beforeTransfer: async () => {
          if (overwritten) return;
          overwritten = true;
          await relay!.sourceClient.send(
            new PutObjectCommand({
              Bucket: SOURCE_BUCKET,
              Key: 'changing/clip.mov',
              Body: Buffer.alloc(600 * KiB, 7),
            }),
          );
        },
      }),
    );
    const { outcome, run } = await relayObject(relay, 'changing/clip.mov', 600 * KiB);
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'SourceChangedError' });
    const pkg = deliveredPackage(relay, run.prepared!.package.id);
    expect(pkg.state).toBe('deleted');
    const failure = relay.events.events.find((e) => e.detailType === 'MASV Relay Delivery Failed');
    expect(failure?.detail).toMatchObject({
      error: 'SourceChangedError',
      packageId: pkg.id,
      packageDeleted: true,
      whatToDo: expect.stringContaining('new version'),
    });
    expect(String(failure?.detail.reason)).toContain('changed after the delivery started');
    // The key now holds another object: the failure of the old one is not written on it.
    const tags = await relay.sourceClient.send(
      new GetObjectTaggingCommand({ Bucket: SOURCE_BUCKET, Key: 'changing/clip.mov' }),
    );
    expect(tags.TagSet?.find((t) => t.Key === 'masv-relay:status')).toBeUndefined();
  });

  it('tags a failed source with its reason reduced to what S3 accepts in a tag', async () => {
    relay = await LocalRelay.start(testRelayOptions());
    relay.emulator!.faults.add(FILE_FINALIZE_REFUSED_ONCE);
    const { outcome } = await relayObject(relay, 'refused/clip.mov', 200 * KiB);
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'MasvValidationError' });
    const tags = await relay.sourceClient.send(
      new GetObjectTaggingCommand({ Bucket: SOURCE_BUCKET, Key: 'refused/clip.mov' }),
    );
    const byKey = Object.fromEntries(tags.TagSet!.map((t) => [t.Key, t.Value]));
    expect(byKey['masv-relay:status']).toBe('failed');
    // MASV's message had parentheses and a colon-free "(code 400)", which S3 refuses in a tag value.
    expect(byKey['masv-relay:reason']).toMatch(/^MasvValidationError: MASV POST /);
    expect(byKey['masv-relay:reason']).not.toMatch(/[()]/);
  });

  it('retries part uploads through storage resets, SlowDown and expired URLs, and delivers byte-exact', async () => {
    relay = await LocalRelay.start(testRelayOptions());
    const faults = relay.emulator!.faults;
    faults.add({ target: 'storage-part', kind: 'reset', times: 2, afterBytes: 10 * KiB });
    faults.add({ target: 'storage-part', kind: 'status', status: 503, times: 2, skip: 1 });
    faults.add({ target: 'storage-part', kind: 'expire-url', times: 2, skip: 3 });
    faults.add({
      target: 'route:POST /v1/packages/{package_id}/files/{file_id}',
      kind: 'status',
      status: 500,
      times: 1,
    });
    const { outcome, body } = await relayObject(relay, 'faulty/clip.mov', 1500 * KiB);
    expect(outcome.status).toBe('SUCCEEDED');
    const pkg = deliveredPackage(relay, (outcome as { output: { packageId: string } }).output.packageId);
    await expect(relay.emulator!.inspect.fileSha256(pkg.files[0]!.id)).resolves.toBe(sha256(body));
    expect(faults.list().every((f) => f.applied === f.times)).toBe(true);
  });

  it('stops a batch early when the Lambda runs short of time and resumes it from the ledger', async () => {
    relay = await LocalRelay.start(
      testRelayOptions({
        transferRemainingMs: () => () => 20_000,
        config: { transfer: { partSizeMiB: 5, mapConcurrency: 2, partConcurrency: 1, partsPerBatch: 8 } },
      }),
    );
    const { outcome, body, run } = await relayObject(relay, 'slow/clip.mov', 2000 * KiB);
    expect(outcome.status).toBe('SUCCEEDED');
    expect(run.prepared!.batches).toHaveLength(1);
    expect(relay.transferInvocations).toBe(8);
    const pkg = deliveredPackage(relay, (outcome as { output: { packageId: string } }).output.packageId);
    await expect(relay.emulator!.inspect.fileSha256(pkg.files[0]!.id)).resolves.toBe(sha256(body));
    expect(relay.emulator!.inspect.counters().partRetries).toBe(0);
  });

  it('refuses an object too large for MASV limits before creating any package', async () => {
    relay = await LocalRelay.start(
      testRelayOptions({
        emulator: { spec: { min_chunk_size: 64 * KiB, max_chunk_size: 64 * KiB, max_chunk_count: 3 } },
      }),
    );
    const { outcome } = await relayObject(relay, 'big/too-large.bin', 192 * KiB + 1);
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'FileTooLargeError' });
    expect(relay.emulator!.inspect.packages()).toHaveLength(0);
  });
});
