import { GetObjectTaggingCommand } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalRelay, SOURCE_BUCKET } from '../../local/workflow/relay.js';
import { dropObject, KiB, putSource, testRelayOptions } from '../helpers/local-relay.js';

/**
 * Reviewer's break test (issue 11 item 1: "a documented merge rule ... that always keeps
 * masv-relay:status"; issue 12: deliveries wait for hours under a burst). A delivery of the old
 * version of an object waits for a transfer slot; meanwhile the object is overwritten and the new
 * version is delivered (status=delivered, package-id). When the old delivery finally read its
 * source it got SourceChangedError, and Abort tagged the *key* — in an unversioned bucket that is
 * the new object — with status=failed, replacing the delivered status and dropping its package id.
 * This test guards that the new version keeps its delivered status and package id.
 */
let relay: LocalRelay | undefined;
afterEach(async () => {
  await relay?.close();
  relay = undefined;
});

describe('break1112: the failure of a stale delivery does not overwrite the status of the new version', () => {
  it('keeps masv-relay:status=delivered on the object that was delivered', async () => {
    let oldEtag = '';
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const r = await LocalRelay.start(
      testRelayOptions({
        // The old delivery's transfer waits (as a throttled batch would under a burst).
        beforeTransfer: async (event) => {
          if ((event as { file: { etag: string } }).file.etag === oldEtag) await gate;
        },
      }),
    );
    relay = r;
    const key = 'shoot/clip.mov';
    // Dropped by hand: the hold above must know the old ETag before the event is sent.
    const first = await putSource(r, key, 300 * KiB);
    oldEtag = first.etag;
    const a = (await r.trigger(r.objectCreatedEvent(key, first.etag, 300 * KiB, '01'))) as {
      started: string[];
    };
    const oldRun = r.deliveries.get(a.started[0]!)!;
    while (r.transferInvocations === 0) await new Promise((resolve) => setTimeout(resolve, 10));

    // The object is replaced; the new version is delivered first.
    const newDrop = await dropObject(r, key, 200 * KiB, { sequencer: '02' });
    const newOutcome = await newDrop.run.result;
    expect(newOutcome.status).toBe('SUCCEEDED');
    const tagsOf = async () =>
      Object.fromEntries(
        (
          (await r.sourceClient.send(new GetObjectTaggingCommand({ Bucket: SOURCE_BUCKET, Key: key })))
            .TagSet ?? []
        ).map((t) => [t.Key, t.Value]),
      );
    expect((await tagsOf())['masv-relay:status']).toBe('delivered');

    // The old delivery gets its slot, finds its version gone, and fails.
    release();
    const oldOutcome = await oldRun.result;
    expect(oldOutcome).toMatchObject({ status: 'FAILED', error: 'SourceChangedError' });

    const tags = await tagsOf();
    expect(tags, 'tags of the object now in the bucket (the delivered new version)').toMatchObject({
      'masv-relay:status': 'delivered',
      'masv-relay:package-id': (newOutcome as { output: { packageId: string } }).output.packageId,
    });
  }, 120_000);
});
