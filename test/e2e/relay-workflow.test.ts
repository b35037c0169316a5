import { GetObjectTaggingCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalRelay } from '../../local/workflow/relay.js';
import { sha256 } from '../helpers/bytes.js';
import {
  deliveredPackage,
  expectDelivered,
  KiB,
  putSource,
  relayObject,
  relayRequest,
  testRelayOptions,
} from '../helpers/local-relay.js';

let relay: LocalRelay;

beforeAll(async () => {
  relay = await LocalRelay.start(testRelayOptions());
});
afterAll(() => relay.close());

/** Relays `size` bytes at `key` and checks they were delivered byte-exact. */
async function relayedByteExact(key: string, size: number) {
  const { body, outcome, run } = await relayObject(relay, key, size);
  return { pkg: await expectDelivered(relay, outcome, body), run };
}

describe('relay workflow on local stand-ins', () => {
  it('delivers a single-part object byte-exact', async () => {
    const { pkg } = await relayedByteExact('single/one-part.bin', 100 * KiB);
    expect(pkg.files[0]).toMatchObject({ name: 'one-part.bin', path: '', partsStored: 1 });
  });

  it('delivers a multi-part object in several batches', async () => {
    const { pkg, run } = await relayedByteExact('multi/many-parts.bin', 2 * 1024 * KiB + 123);
    expect(pkg.files[0]!.partsStored).toBe(9);
    expect(run.prepared!.batches).toHaveLength(3);
  });

  it('delivers an object of exactly a multiple of the part size', async () => {
    const { pkg } = await relayedByteExact('multi/exact.bin', 4 * 256 * KiB);
    expect(pkg.files[0]!.partsStored).toBe(4);
  });

  it('delivers a 0-byte object as one empty part', async () => {
    const { pkg } = await relayedByteExact('edge/empty.bin', 0);
    expect(pkg.files[0]).toMatchObject({ size: 0, partsStored: 1 });
  });

  it('delivers a 1-byte object', async () => {
    await relayedByteExact('edge/one-byte.bin', 1);
  });

  it.each([
    'names/with space.mov',
    'names/plus+sign.mov',
    'names/percent%20literal.mov',
    'names/ünïcødé-日本.mov',
  ])('delivers the key %s with its exact name', async (key) => {
    const { pkg } = await relayedByteExact(key, 70 * KiB);
    expect(pkg.files[0]!.name).toBe(key.slice(key.lastIndexOf('/') + 1));
  });

  it('delivers a multi-file request with nested paths as one package', async () => {
    const a = await putSource(relay, 'shoot/day1/cam-a/a.mov', 300 * KiB);
    const b = await putSource(relay, 'shoot/day1/cam-b/b.mov', 10 * KiB);
    const c = await putSource(relay, 'shoot/day1/notes.txt', 5);
    const { outcome } = await relayRequest(relay, {
      bucket: 'source',
      prefix: 'shoot/day1/',
      package: { name: 'Day 1' },
    });
    expect(outcome.status).toBe('SUCCEEDED');
    const pkg = deliveredPackage(relay, (outcome as { output: { packageId: string } }).output.packageId);
    expect(pkg.name).toBe('Day 1');
    const byName = Object.fromEntries(pkg.files.map((f) => [f.path + f.name, f]));
    expect(Object.keys(byName).sort()).toEqual(['cam-a/a.mov', 'cam-b/b.mov', 'notes.txt']);
    await expect(relay.emulator!.inspect.fileSha256(byName['cam-a/a.mov']!.id)).resolves.toBe(sha256(a.body));
    await expect(relay.emulator!.inspect.fileSha256(byName['cam-b/b.mov']!.id)).resolves.toBe(sha256(b.body));
    await expect(relay.emulator!.inspect.fileSha256(byName['notes.txt']!.id)).resolves.toBe(sha256(c.body));
  });

  it('makes one package when the same object version is started three times', async () => {
    const key = 'dupes/thrice.bin';
    const { etag } = await putSource(relay, key, 90 * KiB);
    const event = relay.objectCreatedEvent(key, etag, 90 * KiB, 'ABC123');
    const summaries = [];
    for (let i = 0; i < 3; i++)
      summaries.push((await relay.trigger(event)) as { started: string[]; duplicates: string[] });
    expect(summaries.map((s) => s.started.length)).toEqual([1, 0, 0]);
    expect(summaries[2]!.duplicates).toEqual(summaries[0]!.started);
    await relay.settle();
    const packages = relay
      .emulator!.inspect.packages()
      .filter((p) => p.files.some((f) => f.name === 'thrice.bin'));
    expect(packages).toHaveLength(1);
  });

  it('publishes a success event and tags the source with the status and package id', async () => {
    const { outcome } = await relayObject(relay, 'events/tagged.bin', 10 * KiB);
    const packageId = (outcome as { output: { packageId: string } }).output.packageId;
    const event = relay.events.events.find((e) => e.detail.packageId === packageId);
    expect(event).toMatchObject({
      detailType: 'MASV Relay Delivery Succeeded',
      detail: {
        bytes: 10 * KiB,
        files: [{ bucket: 'source', key: 'events/tagged.bin', name: 'tagged.bin' }],
      },
    });
    const tags = await relay.sourceClient.send(
      new GetObjectTaggingCommand({ Bucket: 'source', Key: 'events/tagged.bin' }),
    );
    expect(Object.fromEntries(tags.TagSet!.map((t) => [t.Key, t.Value]))).toEqual({
      'masv-relay:status': 'delivered',
      'masv-relay:package-id': packageId,
    });
  });

  it('takes recipients, name and description from object metadata', async () => {
    const { outcome } = await relayObject(relay, 'meta/clip.mov', 10 * KiB, {
      'masv-recipients': 'a@example.com,b@example.com',
      'masv-name': 'Rough cut {date}',
      'masv-description': 'For review',
    });
    const pkg = deliveredPackage(relay, (outcome as { output: { packageId: string } }).output.packageId);
    expect(pkg).toMatchObject({
      recipients: ['a@example.com', 'b@example.com'],
      name: `Rough cut ${new Date().toISOString().slice(0, 10)}`,
    });
    // The reference line lets the relay recognise its own package if MASV's answer is lost.
    expect(pkg.description).toMatch(/^For review\n\n\[masv-relay [0-9a-f]{12}\.1\]$/);
  });

  it('creates and emails a download link when the request asks for one', async () => {
    await putSource(relay, 'links/clip.mov', 10 * KiB);
    const { outcome } = await relayRequest(relay, {
      bucket: 'source',
      key: 'links/clip.mov',
      link: { email: 'producer@example.com' },
    });
    const output = (outcome as { output: { packageId: string; linkId: string } }).output;
    expect(output.linkId).toMatch(/^[0-9A-Z]{26}$/);
    expect(deliveredPackage(relay, output.packageId).links).toEqual([
      { id: output.linkId, email: 'producer@example.com' },
    ]);
  });
});

describe('relay configuration on local stand-ins', () => {
  it('applies the longest matching prefix rule from the configuration', async () => {
    const own = await LocalRelay.start(
      testRelayOptions({
        config: {
          prefixRules: [
            { prefix: 'clients/', package: { recipients: ['clients@example.com'] } },
            {
              prefix: 'clients/acme/',
              package: { recipients: ['post@acme.example'], nameTemplate: 'ACME {basename}' },
            },
          ],
        },
      }),
    );
    const { outcome } = await relayObject(own, 'clients/acme/reel.mov', 10 * KiB);
    const pkg = deliveredPackage(own, (outcome as { output: { packageId: string } }).output.packageId);
    expect(pkg).toMatchObject({ name: 'ACME reel.mov', recipients: ['post@acme.example'] });
    await own.close();
  });
});
