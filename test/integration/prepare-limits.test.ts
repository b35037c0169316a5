import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryTooLargeError, FileTooLargeError } from '../../functions/core/errors.js';
import { prepareDelivery } from '../../functions/core/steps/prepare.js';
import { SOURCE_BUCKET } from '../../local/local-deps.js';
import { type PrepareWithMadeUpSizes, startPrepareWithMadeUpSizes } from '../helpers/local-deps.js';

/**
 * Prepare against the real emulator (MASV's S3 spec: 10,000 parts of 5 MiB–5 GiB) with sources
 * whose HEAD reports sizes no test could upload: what cannot be delivered is refused before MASV
 * is asked for anything but its spec.
 */
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
