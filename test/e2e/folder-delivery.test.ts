import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_FILES_PER_DELIVERY } from '../../functions/core/delivery/request.js';
import { DELIVERY_FAILED } from '../../functions/core/events.js';
import { causeMessage } from '../../functions/core/steps/abort.js';
import { LocalRelay, SOURCE_BUCKET } from '../../local/workflow/relay.js';
import { sha256 } from '../helpers/bytes.js';
import { deliveredPackage, KiB, putSource, testRelayOptions } from '../helpers/local-relay.js';

let relay: LocalRelay;

beforeAll(async () => {
  relay = await LocalRelay.start(
    testRelayOptions({
      config: {
        prefixRules: [{ prefix: 'folders/', delivery: 'folder' }],
        access: { recipientDomains: ['example.com'] },
      },
    }),
  );
});
afterAll(() => relay.close());

let uploads = 0;
let lastSequencer = '';

/** Drops an object and sends its "Object Created" event through the real start handler. */
async function drop(key: string, body: Buffer | string) {
  const put = await relay.sourceClient.send(
    new PutObjectCommand({ Bucket: SOURCE_BUCKET, Key: key, Body: Buffer.from(body) }),
  );
  const etag = put.ETag!.replace(/"/g, '');
  // Each upload has its own sequencer, as S3 gives it.
  lastSequencer = (++uploads).toString(16).padStart(18, '0');
  return (await relay.trigger(
    relay.objectCreatedEvent(key, etag, Buffer.byteLength(body), lastSequencer),
  )) as {
    started: string[];
    duplicates: string[];
    skipped: string[];
  };
}

async function outcomeOf(name: string) {
  return relay.deliveries.get(name)!.result;
}

describe('folder deliveries through the real workflow', () => {
  it('delivers a marked folder as one package with paths relative to the folder, marker excluded', async () => {
    const files = {
      'folders/DCP_01/ASSETMAP.xml': await putSource(relay, 'folders/DCP_01/ASSETMAP.xml', 2 * KiB),
      'folders/DCP_01/reel1/video.mxf': await putSource(relay, 'folders/DCP_01/reel1/video.mxf', 700 * KiB),
      'folders/DCP_01/reel1/audio/main.wav': await putSource(
        relay,
        'folders/DCP_01/reel1/audio/main.wav',
        90 * KiB,
      ),
    };
    for (const key of Object.keys(files)) {
      const summary = (await relay.trigger(
        relay.objectCreatedEvent(key, files[key as keyof typeof files].etag, 1),
      )) as {
        started: string[];
        skipped: string[];
      };
      expect(summary.started, key).toEqual([]);
      expect(summary.skipped[0]).toMatch(/delivered with its folder when a _MASV_READY marker/);
    }
    const marker = JSON.stringify({ name: 'DCP 01 — final', recipients: ['projection@example.com'] });
    const summary = await drop('folders/DCP_01/_MASV_READY', marker);
    expect(summary.started).toHaveLength(1);
    const outcome = await outcomeOf(summary.started[0]!);
    expect(outcome).toMatchObject({ status: 'SUCCEEDED' });
    const pkg = deliveredPackage(relay, (outcome as { output: { packageId: string } }).output.packageId);
    expect(pkg).toMatchObject({
      state: 'finalized',
      name: 'DCP 01 — final',
      recipients: ['projection@example.com'],
    });
    const byPath = Object.fromEntries(pkg.files.map((f) => [`${f.path}${f.name}`, f]));
    expect(Object.keys(byPath).sort()).toEqual(['ASSETMAP.xml', 'reel1/audio/main.wav', 'reel1/video.mxf']);
    for (const [key, { body }] of Object.entries(files)) {
      const relative = key.slice('folders/DCP_01/'.length);
      await expect(relay.emulator!.inspect.fileSha256(byPath[relative]!.id)).resolves.toBe(sha256(body));
    }

    // The same marker event again (at-least-once delivery): no second package.
    const markerEvent = relay.deliveries.get(summary.started[0]!)!.input.marker!;
    const again = (await relay.trigger(
      relay.objectCreatedEvent('folders/DCP_01/_MASV_READY', markerEvent.etag!, 1, lastSequencer),
    )) as { started: string[]; duplicates: string[] };
    expect(again.started).toEqual([]);
    expect(again.duplicates).toEqual(summary.started);
    // A new upload of the same marker (a reused folder): delivered again.
    const reupload = await drop('folders/DCP_01/_MASV_READY', marker);
    expect(reupload.started).toHaveLength(1);
    expect(reupload.started[0]).not.toBe(summary.started[0]);
    expect(await outcomeOf(reupload.started[0]!)).toMatchObject({ status: 'SUCCEEDED' });
  });

  it('names the package after the folder when the marker is empty', async () => {
    await putSource(relay, 'folders/card-A/CLIP0001.MOV', 40 * KiB);
    await putSource(relay, 'folders/card-A/CLIP0002.MOV', 30 * KiB);
    const summary = await drop('folders/card-A/_MASV_READY', '');
    const outcome = await outcomeOf(summary.started[0]!);
    expect(outcome.status).toBe('SUCCEEDED');
    const pkg = deliveredPackage(relay, (outcome as { output: { packageId: string } }).output.packageId);
    expect(pkg.name).toBe('card-A');
    expect(pkg.files.map((f) => f.name).sort()).toEqual(['CLIP0001.MOV', 'CLIP0002.MOV']);
  });

  it.each([
    [
      'invalid JSON',
      '{"name": "oops",',
      /folder marker s3:\/\/source\/folders\/bad-json\/_MASV_READY is not valid JSON/,
    ],
    ['an unknown field', '{"colour": "red"}', /is invalid: \(root\): unknown field\(s\) colour/],
    [
      'a recipient outside the allowed domains',
      '{"recipients": "leak@gmail.com"}',
      /"leak@gmail\.com", outside the allowed recipient domains \(example\.com\)/,
    ],
  ])(
    'fails a marker with %s with a failure event naming the problem, leaving no package',
    async (what, body, reason) => {
      const folder = `folders/${what === 'invalid JSON' ? 'bad-json' : what.replace(/\W+/g, '-')}/`;
      await putSource(relay, `${folder}take.mov`, 10 * KiB);
      const packagesBefore = relay.emulator!.inspect.packages().length;
      const summary = await drop(`${folder}_MASV_READY`, body);
      const outcome = await outcomeOf(summary.started[0]!);
      expect(outcome).toMatchObject({ status: 'FAILED', error: 'DeliveryRequestError' });
      expect(causeMessage((outcome as { cause: string }).cause)).toMatch(reason);
      const event = relay.events.events.find(
        (e) => e.detailType === DELIVERY_FAILED && e.detail.deliveryId === summary.started[0],
      );
      expect(String(event?.detail.reason)).toMatch(reason);
      const live = relay.emulator!.inspect.packages().filter((p) => p.state !== 'deleted');
      expect(live.length).toBeLessThanOrEqual(packagesBefore);
    },
  );

  it('refuses a folder beyond the delivery limits with a clear reason', async () => {
    const count = MAX_FILES_PER_DELIVERY + 1;
    await Promise.all(
      Array.from({ length: count }, (_, i) =>
        relay.sourceClient.send(
          new PutObjectCommand({
            Bucket: SOURCE_BUCKET,
            Key: `folders/huge/f${String(i).padStart(4, '0')}.txt`,
            Body: 'x',
          }),
        ),
      ),
    );
    const summary = await drop('folders/huge/_MASV_READY', '');
    const outcome = await outcomeOf(summary.started[0]!);
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'DeliveryRequestError' });
    expect((outcome as { cause: string }).cause).toMatch(
      new RegExp(`folders/huge/ holds ${count} objects; one package takes at most ${MAX_FILES_PER_DELIVERY}`),
    );
  });
});
