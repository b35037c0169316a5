import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalRelay } from '../../local/relay.js';
import { deliveredPackage, KiB, putSource, relayObject, testRelayOptions } from '../helpers/local-relay.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
let relay: LocalRelay;

beforeAll(async () => {
  relay = await LocalRelay.start(testRelayOptions());
});
afterAll(() => relay.close());

async function expectDelivered(key: string, size: number) {
  const { body, outcome, run } = await relayObject(relay, key, size);
  expect(outcome).toMatchObject({ status: 'SUCCEEDED' });
  const output = (outcome as { output: { packageId: string; bytes: number } }).output;
  expect(output.bytes).toBe(size);
  const pkg = deliveredPackage(relay, output.packageId);
  expect(pkg.state).toBe('finalized');
  expect(pkg.files).toHaveLength(1);
  await expect(relay.emulator!.inspect.fileSha256(pkg.files[0]!.id)).resolves.toBe(sha256(body));
  return { pkg, run };
}

describe('relay workflow on local stand-ins', () => {
  it('delivers a single-part object byte-exact', async () => {
    const { pkg } = await expectDelivered('single/one-part.bin', 100 * KiB);
    expect(pkg.files[0]).toMatchObject({ name: 'one-part.bin', path: '', partsStored: 1 });
  });

  it('delivers a multi-part object in several batches', async () => {
    const { pkg, run } = await expectDelivered('multi/many-parts.bin', 2 * 1024 * KiB + 123);
    expect(pkg.files[0]!.partsStored).toBe(9);
    expect(run.prepared!.batches).toHaveLength(3);
  });

  it('delivers an object of exactly a multiple of the part size', async () => {
    const { pkg } = await expectDelivered('multi/exact.bin', 4 * 256 * KiB);
    expect(pkg.files[0]!.partsStored).toBe(4);
  });

  it('delivers a 0-byte object as one empty part', async () => {
    const { pkg } = await expectDelivered('edge/empty.bin', 0);
    expect(pkg.files[0]).toMatchObject({ size: 0, partsStored: 1 });
  });

  it('delivers a 1-byte object', async () => {
    await expectDelivered('edge/one-byte.bin', 1);
  });

  it.each([
    'names/with space.mov',
    'names/plus+sign.mov',
    'names/percent%20literal.mov',
    'names/ünïcødé-日本.mov',
  ])('delivers the key %s with its exact name', async (key) => {
    const { pkg } = await expectDelivered(key, 70 * KiB);
    expect(pkg.files[0]!.name).toBe(key.slice(key.lastIndexOf('/') + 1));
  });

  it('delivers a multi-file request with nested paths as one package', async () => {
    const a = await putSource(relay, 'shoot/day1/cam-a/a.mov', 300 * KiB);
    const b = await putSource(relay, 'shoot/day1/cam-b/b.mov', 10 * KiB);
    const c = await putSource(relay, 'shoot/day1/notes.txt', 5);
    const summary = (await relay.trigger({
      bucket: 'source',
      prefix: 'shoot/day1/',
      package: { name: 'Day 1' },
    })) as {
      started: string[];
    };
    const outcome = await relay.deliveries.get(summary.started[0]!)!.result;
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

  it('publishes a success event and tags the source', async () => {
    const { outcome } = await relayObject(relay, 'events/tagged.bin', 10 * KiB);
    const packageId = (outcome as { output: { packageId: string } }).output.packageId;
    const event = relay.events.events.find((e) => e.detail.packageId === packageId);
    expect(event?.detailType).toBe('MASV Relay Delivery Succeeded');
  });
});
