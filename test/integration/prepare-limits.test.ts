import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_CAUSE_CHARS, MAX_FILES_PER_DELIVERY } from '../../functions/core/delivery/request.js';
import { DeliveryTooLargeError, FileTooLargeError } from '../../functions/core/errors.js';
import { abortDelivery } from '../../functions/core/steps/abort.js';
import { prepareDelivery } from '../../functions/core/steps/prepare.js';
import { AWS_LIMITS, handlerError, jsonBytes, taskErrorCause } from '../../local/workflow/aws-limits.js';
import type { LocalEventSink } from '../../local/workflow/event-sink.js';
import { SOURCE_BUCKET } from '../../local/workflow/local-deps.js';
import { type PrepareWithMadeUpSizes, startPrepareWithMadeUpSizes } from '../helpers/local-deps.js';

/**
 * Prepare against the real emulator (MASV's S3 spec: 10,000 parts of 5 MiB–5 GiB) with sources
 * whose HEAD reports sizes no test could upload: what cannot be delivered is refused before MASV
 * is asked for anything but its spec.
 */
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const TiB = 1024 * GiB;
let prepare: PrepareWithMadeUpSizes;

beforeAll(async () => {
  prepare = await startPrepareWithMadeUpSizes();
});
afterAll(() => prepare.close());

function sources(count: number, size: number) {
  prepare.reportSize(size);
  return Array.from({ length: count }, (_, i) => ({ bucket: SOURCE_BUCKET, key: `big/${i}.mov`, etag: 'e' }));
}

const packageCalls = () =>
  Object.entries(prepare.masv.inspect.counters().apiCalls as Record<string, number>)
    .filter(([route]) => route.includes('packages') && !route.includes('/spec'))
    .reduce((sum, [, n]) => sum + n, 0);

describe('Prepare refuses what cannot be delivered, before any package exists', () => {
  it('refuses 250 files of 4.9 TiB each with DeliveryTooLargeError, saying how to split', async () => {
    const files = sources(250, 1000 * 5 * GiB);
    const before = packageCalls();
    const refused = prepareDelivery(prepare.deps, { deliveryId: 'too-large', files });
    await expect(refused).rejects.toBeInstanceOf(DeliveryTooLargeError);
    await expect(refused).rejects.toThrow(/Split it into at least \d+ deliveries/);
    expect(packageCalls()).toBe(before);
    expect(prepare.masv.inspect.packages()).toHaveLength(0);
  });

  it('refuses a file over 10,000 × 5 GiB with FileTooLargeError', async () => {
    const files = sources(1, 10_000 * 5 * GiB + 1);
    await expect(
      prepareDelivery(prepare.deps, { deliveryId: 'file-too-large', files }),
    ).rejects.toBeInstanceOf(FileTooLargeError);
    expect(prepare.masv.inspect.packages()).toHaveLength(0);
  });

  it('refuses MASV’s largest file (48.8 TiB) over the history budget, naming the size that fits', async () => {
    const files = sources(1, 10_000 * 5 * GiB);
    await expect(prepareDelivery(prepare.deps, { deliveryId: 'masv-largest', files })).rejects.toThrow(
      /Split the object into smaller objects of at most \d+ bytes \(48\.4 TiB\)/,
    );
    expect(prepare.masv.inspect.packages()).toHaveLength(0);
  });

  it('accepts a 48 TiB file and plans it within 1,000 batches', async () => {
    const files = sources(1, 48 * TiB);
    const prepared = await prepareDelivery(prepare.deps, { deliveryId: 'largest-file', files });
    expect(prepared.files[0]!.partCount).toBeLessThanOrEqual(10_000);
    expect(prepared.batches.length).toBeLessThanOrEqual(1000);
  });
});

describe('the largest plan Prepare accepts leaves room in the state for a failure', () => {
  it('request + plan + a 32,768-character Cause + Abort’s result stay within 256 KiB', async () => {
    const etag = `${'a'.repeat(32)}-40`;
    prepare.reportSize(40 * 100 * MiB, `"${etag}"`); // 40 parts of 100 MiB: 2 batches a file
    const requestOf = (keyLength: number) => ({
      files: Array.from({ length: MAX_FILES_PER_DELIVERY }, (_, i) => ({
        bucket: SOURCE_BUCKET,
        key: `wide/${String(i).padStart(3, '0')}-${'k'.repeat(keyLength)}.mov`,
        etag,
      })),
    });
    const attempt = (keyLength: number) =>
      prepareDelivery(prepare.deps, { deliveryId: `widest-${keyLength}`, ...requestOf(keyLength) });
    const needed = async (keyLength: number) => {
      const refused = await attempt(keyLength).then(
        () => undefined,
        (error: Error) => error,
      );
      const found = /about (\d+) bytes of workflow state \(limit (\d+)\)/.exec(refused?.message ?? '');
      if (!found) throw new Error(`expected a refusal at key length ${keyLength}: ${refused?.message}`);
      return { bytes: Number(found[1]), limit: Number(found[2]) };
    };
    // The state grows linearly with the key length: the longest keys that fit, from two refusals.
    const at400 = await needed(400);
    const perChar = at400.bytes - (await needed(399)).bytes;
    const longest = 400 - Math.ceil((at400.bytes - at400.limit) / perChar);
    await needed(longest + 1);
    const request = requestOf(longest);
    const prepared = await attempt(longest);
    expect(prepared.batches).toHaveLength(2 * MAX_FILES_PER_DELIVERY);

    // Lambda's error JSON for a long message full of quotes, cut by Step Functions at 32,768.
    const message = `Source "x" unreadable: ${'"quoted" '.repeat(5_000)}`;
    const Cause = taskErrorCause(
      handlerError(Object.assign(new Error(message), { name: 'SourceChangedError' })),
    );
    expect(Cause).toHaveLength(MAX_CAUSE_CHARS);
    const error = { Error: 'SourceChangedError', Cause };
    const deliveryId = `widest-${longest}`;
    const abort = await abortDelivery(prepare.deps, { deliveryId, request, prepared, error });
    // The sources go to the failure event, not back into the state beside the request.
    expect(abort).toMatchObject({ delivered: false, fileCount: MAX_FILES_PER_DELIVERY });
    expect(abort).not.toHaveProperty('files');
    const event = (prepare.deps.events as LocalEventSink).events.find(
      (e) => e.detailType === 'MASV Relay Delivery Failed',
    );
    expect(event?.detail.files).toHaveLength(MAX_FILES_PER_DELIVERY);
    // MASV's ids at their longest (the emulator's are shorter), as Prepare's estimate assumes.
    const widest = {
      ...prepared,
      files: prepared.files.map((f) => ({
        ...f,
        fileId: 'F'.repeat(26),
        uploadId: 'U'.repeat(256),
        partCheck: 'content-md5' as const,
      })),
    };
    const abortInput = { deliveryId, delivery: { ...request, prepared: widest, error } };
    const stateAfterAbort = { ...request, prepared: widest, error, abort };
    expect(jsonBytes(abortInput)).toBeLessThanOrEqual(AWS_LIMITS.stateBytes);
    expect(jsonBytes(stateAfterAbort)).toBeLessThanOrEqual(AWS_LIMITS.stateBytes);
  });
});
