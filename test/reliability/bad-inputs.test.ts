import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../functions/core/config.js';
import { causeMessage } from '../../functions/core/steps/abort.js';
import { type RunningEmulator, startEmulator } from '../../local/emulator/server.js';
import {
  API_KEY_SECRET,
  LocalRelay,
  type LocalRelayOptions,
  SOURCE_BUCKET,
} from '../../local/workflow/relay.js';
import { dropObject, KiB, putSource, TINY_SPEC, testRelayOptions } from '../helpers/local-relay.js';
import { findSecrets, newTally, settleDelivery, summaryLine, tallyAudit } from './tally.js';

const PART = TINY_SPEC.max_chunk_size;
const WRONG_API_KEY = 'not-the-key';
const ACCESS_CODE = 'let me in';
const WRONG_ACCESS_CODE = 'wrong code';
const tally = newTally();
const logs: string[] = [];
const relays: LocalRelay[] = [];
let relay: LocalRelay;
let rows = 0;
let portalEmulator: RunningEmulator | undefined;

beforeAll(async () => {
  relay = await start();
});
afterAll(async () => {
  // Portal relays run against portalEmulator, not an emulator of their own.
  const emulators = [
    ...relays.flatMap((r) => (r.emulator ? [r.emulator] : [])),
    ...(portalEmulator ? [portalEmulator] : []),
  ];
  const requestLogs = emulators.map((e) => JSON.stringify(e.inspect.requests()));
  const events = relays.map((r) => JSON.stringify(r.events.events));
  for (const emulator of emulators) tallyAudit(emulator, tally);
  await Promise.all(relays.map((r) => r.close()));
  await portalEmulator?.close();
  console.log(`bad-input table: ${rows} rows`);
  console.log(summaryLine(tally));
  expect(
    findSecrets([...logs, ...requestLogs, ...events].join('\n'), 'emulator-api-key', {
      'wrong API key': WRONG_API_KEY,
      'portal access code': ACCESS_CODE,
      'wrong portal access code': WRONG_ACCESS_CODE,
    }),
  ).toEqual([]);
  expect(tally).toMatchObject({ corrupt: 0, duplicate: 0, orphaned: 0, deletedAfterDelivery: 0 });
  expect(rows).toBeGreaterThanOrEqual(20);
});

async function start(options: LocalRelayOptions = {}) {
  const r = await LocalRelay.start(testRelayOptions({ logSink: (line) => logs.push(line), ...options }));
  relays.push(r);
  return r;
}

/** Drops `size` bytes at `key` and relays it via the EventBridge path; settles and returns the outcome. */
async function relayKey(r: LocalRelay, key: string, size: number, metadata?: Record<string, string>) {
  const { body, run } = await dropObject(r, key, size, { metadata });
  const outcome = await settleDelivery(r, run, body, tally);
  return { outcome, run };
}

async function delivered(key: string, size: number) {
  const { outcome, run } = await relayKey(relay, key, size);
  expect(outcome.status).toBe('SUCCEEDED');
  const pkg = relay.emulator!.inspect.package(run.prepared!.package.id)!;
  return { file: pkg.files[0]!, run };
}

async function requestOutcome(r: LocalRelay, request: unknown) {
  const summary = (await r.trigger(request)) as { started: string[] };
  const run = r.deliveries.get(summary.started[0]!)!;
  return settleDelivery(r, run, undefined, tally);
}

async function portalRelay(target: Record<string, unknown>, secrets: Record<string, string> = {}) {
  portalEmulator ??= await startEmulator({ port: 0, spec: TINY_SPEC });
  const a = portalEmulator.accounts;
  const ids: Record<string, string> = {
    open: a.portalId,
    protected: a.protectedPortalId,
    form: a.formPortalId,
  };
  return start({
    emulator: false,
    masv: { url: portalEmulator.url, apiKey: a.apiKey, teamId: a.teamId },
    config: {
      masv: {
        target: {
          kind: 'portal',
          sender: 'relay@example.com',
          ...target,
          portalId: ids[target.portalId as string]!,
        },
      },
    } as never,
    secrets,
  });
}

async function portalOutcome(r: LocalRelay, key: string) {
  return (await dropObject(r, key, 10 * KiB)).run.result;
}

/** The error message inside the execution's Cause (the Lambda error JSON, as on AWS). */
const causeOf = (outcome: unknown) => causeMessage((outcome as { cause: string }).cause);

describe('bad-input table: each input gets its exact outcome', () => {
  it.each([
    ['a key with spaces', 'bad/with spaces in it.mov'],
    ['a key with +', 'bad/plus+sign+.mov'],
    ['a key with %', 'bad/100%25 and %zz.mov'],
    ['a key with non-ASCII', 'bad/Ünïcødé 日本語 🎬.mov'],
  ])('%s is delivered byte-exact under its exact name', async (_label, key) => {
    rows++;
    const { file } = await delivered(key, 70 * KiB);
    expect(file.name).toBe(key.slice(key.lastIndexOf('/') + 1));
  });

  it('a 1,024-byte key is delivered, with an execution name within 80 characters', async () => {
    rows++;
    const key = ['long', ...Array.from({ length: 5 }, (_, i) => String(i).repeat(203))].join('/');
    expect(Buffer.byteLength(key)).toBe(1024);
    const { file, run } = await delivered(key, 5 * KiB);
    expect(file.name).toBe('4'.repeat(203));
    expect(run.deliveryId.length).toBeLessThanOrEqual(80);
  });

  it('a folder marker is skipped with a reason, starting nothing', async () => {
    rows++;
    const before = relay.deliveries.size;
    const event = relay.objectCreatedEvent('bad/folder/', 'd41d8cd98f00b204e9800998ecf8427e', 0);
    const summary = (await relay.trigger(event)) as { skipped: string[] };
    expect(summary.skipped).toEqual(['s3://source/bad/folder/ is a folder marker, not a file']);
    expect(relay.deliveries.size).toBe(before);
  });

  it('a 0-byte object is delivered as one empty part', async () => {
    rows++;
    const { file } = await delivered('bad/empty.bin', 0);
    expect(file).toMatchObject({ size: 0, partsStored: 1 });
  });

  it('a 1-byte object is delivered', async () => {
    rows++;
    const { file } = await delivered('bad/one.bin', 1);
    expect(file).toMatchObject({ size: 1, partsStored: 1 });
  });

  it('exactly one part size is delivered as one part', async () => {
    rows++;
    const { file } = await delivered('bad/one-part.bin', PART);
    expect(file.partsStored).toBe(1);
  });

  it('one part size + 1 byte is delivered as two parts', async () => {
    rows++;
    const { file } = await delivered('bad/one-part-plus.bin', PART + 1);
    expect(file.partsStored).toBe(2);
  });

  it('a size over max part size × max part count fails with FileTooLargeError before any package', async () => {
    rows++;
    const r = await start({ emulator: { spec: { ...TINY_SPEC, max_chunk_count: 2 } } });
    const { outcome, run } = await relayKey(r, 'bad/too-big.bin', 2 * PART + 1);
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'FileTooLargeError' });
    expect(run.prepared).toBeUndefined();
    expect(r.emulator!.inspect.packages()).toEqual([]);
  });

  it('an unknown bucket fails with SourceNotFoundError', async () => {
    rows++;
    const outcome = await requestOutcome(relay, { bucket: 'no-such-bucket', key: 'a.mov' });
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'SourceNotFoundError' });
    expect(causeOf(outcome)).toContain('s3://no-such-bucket/a.mov');
  });

  it('an object deleted before the delivery starts fails with SourceNotFoundError', async () => {
    rows++;
    const { etag } = await putSource(relay, 'bad/deleted.bin', 10 * KiB);
    await relay.sourceClient.send(new DeleteObjectCommand({ Bucket: SOURCE_BUCKET, Key: 'bad/deleted.bin' }));
    const summary = (await relay.trigger(relay.objectCreatedEvent('bad/deleted.bin', etag, 10 * KiB))) as {
      started: string[];
    };
    const outcome = await settleDelivery(relay, relay.deliveries.get(summary.started[0]!)!, undefined, tally);
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'SourceNotFoundError' });
  });

  it('an object overwritten mid-delivery fails with SourceChangedError and its package is deleted', async () => {
    rows++;
    let overwritten = false;
    const r: LocalRelay = await start({
      beforeTransfer: async () => {
        if (overwritten) return;
        overwritten = true;
        await putSource(r, 'bad/overwritten.bin', 600 * KiB);
      },
    });
    const { outcome, run } = await relayKey(r, 'bad/overwritten.bin', 600 * KiB);
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'SourceChangedError' });
    expect(r.emulator!.inspect.package(run.prepared!.package.id)?.state).toBe('deleted');
  });

  it('a malformed delivery request in SQS is reported back, so it is retried and reaches the DLQ', async () => {
    rows++;
    const result = await relay.trigger({
      Records: [
        { messageId: 'ok', eventSource: 'aws:sqs', body: JSON.stringify({ Event: 's3:TestEvent' }) },
        { messageId: 'broken', eventSource: 'aws:sqs', body: '{"bucket": "source", "key": ' },
        { messageId: 'invalid', eventSource: 'aws:sqs', body: JSON.stringify({ bucket: 'source' }) },
      ],
    });
    expect(result).toEqual({
      batchItemFailures: [{ itemIdentifier: 'broken' }, { itemIdentifier: 'invalid' }],
    });
  });

  it('missing recipients fail with DeliveryRequestError saying where to set them', async () => {
    rows++;
    const r = await start({ config: { package: { recipients: [] } } });
    const { outcome } = await relayKey(r, 'bad/no-recipients.bin', 10 * KiB);
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'DeliveryRequestError' });
    expect(causeOf(outcome)).toMatch(/x-amz-meta-masv-recipients/);
    expect(r.emulator!.inspect.packages()).toEqual([]);
  });

  it('an invalid recipient email in a request is refused at start', async () => {
    rows++;
    const request = { bucket: 'source', key: 'a.mov', package: { recipients: ['not-an-email'] } };
    await expect(relay.trigger(request)).rejects.toThrow(/package\.recipients\.0: Invalid email/);
  });

  it('an invalid recipient email in object metadata fails with DeliveryRequestError', async () => {
    rows++;
    const { outcome } = await relayKey(relay, 'bad/meta-email.bin', 10 * KiB, {
      'masv-recipients': 'editor@example.com, oops',
    });
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'DeliveryRequestError' });
    expect(causeOf(outcome)).toContain('"oops"');
  });

  it('a bad API key fails with MasvAuthError (401) and creates nothing', async () => {
    rows++;
    const r = await start({ secrets: { [API_KEY_SECRET]: WRONG_API_KEY } });
    const { outcome } = await relayKey(r, 'bad/api-key.bin', 10 * KiB);
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'MasvAuthError' });
    expect(causeOf(outcome)).toMatch(/answered 401: invalid api key/);
    expect(causeOf(outcome)).not.toContain(WRONG_API_KEY);
    expect(r.emulator!.inspect.packages()).toEqual([]);
  });

  it('a wrong portal access code fails with MasvAuthError', async () => {
    rows++;
    const r = await portalRelay(
      { portalId: 'protected', accessCodeSecretName: 'local/code' },
      { 'local/code': WRONG_ACCESS_CODE },
    );
    expect(await portalOutcome(r, 'bad/portal-wrong.bin')).toMatchObject({
      status: 'FAILED',
      error: 'MasvAuthError',
    });
  });

  it('a missing portal access code fails with MasvAuthError naming X-Access-Code', async () => {
    rows++;
    const r = await portalRelay({ portalId: 'protected' });
    const outcome = await portalOutcome(r, 'bad/portal-missing.bin');
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'MasvAuthError' });
    expect(causeOf(outcome)).toContain('X-Access-Code');
  });

  it('the right portal access code delivers', async () => {
    rows++;
    const r = await portalRelay(
      { portalId: 'protected', accessCodeSecretName: 'local/code' },
      { 'local/code': ACCESS_CODE },
    );
    expect(await portalOutcome(r, 'bad/portal-right.bin')).toMatchObject({ status: 'SUCCEEDED' });
  });

  it('a portal that requires a form id fails with MasvValidationError without one, and delivers with one', async () => {
    rows++;
    const without = await portalRelay({ portalId: 'form' });
    const outcome = await portalOutcome(without, 'bad/portal-form.bin');
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'MasvValidationError' });
    expect(causeOf(outcome)).toContain('form_data_id');
    const withForm = await portalRelay({ portalId: 'form', formDataId: 'FORM-1' });
    expect(await portalOutcome(withForm, 'bad/portal-form-ok.bin')).toMatchObject({ status: 'SUCCEEDED' });
  });

  it('a configured part size outside the spec is clamped, never sent out of range', async () => {
    rows++;
    const { file } = await delivered('bad/clamped.bin', 3 * PART);
    expect(file.partSize).toBe(PART);
    expect(file.partsStored).toBe(3);
  });

  it('a prefix with more objects than one package holds fails with DeliveryRequestError before any package', async () => {
    rows++;
    const r = await start();
    await Promise.all(
      Array.from({ length: 251 }, (_, i) => putSource(r, `crowd/${String(i).padStart(4, '0')}.txt`, 1)),
    );
    const outcome = await requestOutcome(r, { bucket: SOURCE_BUCKET, prefix: 'crowd/' });
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'DeliveryRequestError' });
    expect(causeOf(outcome)).toMatch(/holds 251 objects; one package takes at most 250/);
    expect(r.emulator!.inspect.packages()).toEqual([]);
  });

  it('files whose plan would overflow the workflow state fail with DeliveryRequestError before any package', async () => {
    rows++;
    const r = await start();
    const keys = Array.from(
      { length: 200 },
      (_, i) => `wide/${'k'.repeat(200)}/${'e'.repeat(200)}/${'y'.repeat(200)}/${i}.bin`,
    );
    await Promise.all(keys.map((key) => putSource(r, key, 1)));
    const outcome = await requestOutcome(r, { bucket: SOURCE_BUCKET, keys });
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'DeliveryRequestError' });
    expect(causeOf(outcome)).toMatch(/bytes of workflow state/);
    expect(r.emulator!.inspect.packages()).toEqual([]);
  });

  it('an invalid config is refused at synth with the field, the value and the fix', () => {
    rows++;
    const bad = {
      masv: { target: { kind: 'team', teamId: 'T', apiKeySecretName: 's' } },
      transfer: { mapConcurrency: 0 },
    };
    expect(() => parseConfig(bad)).toThrow(ConfigError);
    expect(() => parseConfig(bad)).toThrow(/transfer\.mapConcurrency: .*\(got 0\)\. Fix: use 1 to 40/);
  });
});

describe('duplicates', () => {
  const notification = (key: string, etag: string, sequencer: string) => ({
    Records: [
      {
        eventSource: 'aws:s3',
        eventName: 'ObjectCreated:Put',
        s3: { bucket: { name: SOURCE_BUCKET }, object: { key, eTag: etag, sequencer, size: 30 * KiB } },
      },
    ],
  });

  it('the same S3 event delivered three times makes exactly one package', async () => {
    const { etag } = await putSource(relay, 'dup/thrice.bin', 30 * KiB);
    const started: string[] = [];
    for (let i = 0; i < 3; i++) {
      started.push(
        ...((await relay.trigger(notification('dup/thrice.bin', etag, '00AA'))) as { started: string[] })
          .started,
      );
    }
    expect(started).toHaveLength(1);
    await settleDelivery(relay, relay.deliveries.get(started[0]!)!, undefined, tally);
    expect(
      relay.emulator!.inspect.packages().filter((p) => p.files.some((f) => f.name === 'thrice.bin')),
    ).toHaveLength(1);
  });

  it('an S3 notification and the EventBridge event for the same object version make exactly one package', async () => {
    const key = 'dup/both ways+.bin';
    const { etag } = await putSource(relay, key, 30 * KiB);
    const viaS3 = (await relay.trigger(notification('dup/both+ways%2B.bin', etag, '00BB'))) as {
      started: string[];
    };
    const viaEventBridge = (await relay.trigger(relay.objectCreatedEvent(key, etag, 30 * KiB, '00BB'))) as {
      duplicates: string[];
    };
    expect(viaEventBridge.duplicates).toEqual(viaS3.started);
    await settleDelivery(relay, relay.deliveries.get(viaS3.started[0]!)!, undefined, tally);
    const packages = relay
      .emulator!.inspect.packages()
      .filter((p) => p.files.some((f) => f.name === 'both ways+.bin'));
    expect(packages).toHaveLength(1);
  });
});
