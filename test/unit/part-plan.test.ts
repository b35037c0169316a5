import { describe, expect, it } from 'vitest';
import { FileTooLargeError } from '../../functions/core/errors.js';
import type { PackageSpec } from '../../functions/core/masv/types.js';
import { MiB, partRange, planDelivery, planParts } from '../../functions/core/part-plan.js';

const S3_SPEC: PackageSpec = { maxPartCount: 10_000, maxPartSize: 5 * 1024 * MiB, minPartSize: 5 * MiB };

describe('planParts', () => {
  it('uses the requested part size when the file fits in max part count', () => {
    const plan = planParts(250 * MiB, S3_SPEC, { requestedPartSize: 100 * MiB });
    expect(plan.partSize).toBe(100 * MiB);
    expect(plan.partCount).toBe(3);
  });

  it('grows the part size so the file fits in max part count, rounded up to 1 MiB', () => {
    const size = 2_000_000 * MiB + 7; // ~1.9 TiB
    const plan = planParts(size, S3_SPEC, { requestedPartSize: 100 * MiB });
    expect(plan.partSize).toBe(201 * MiB);
    expect(plan.partCount).toBeLessThanOrEqual(10_000);
    expect(plan.partSize % MiB).toBe(0);
  });

  it('clamps a too-small requested size up to the minimum part size', () => {
    expect(planParts(100 * MiB, S3_SPEC, { requestedPartSize: 1 * MiB }).partSize).toBe(5 * MiB);
  });

  it('clamps a too-large requested size down to the maximum part size', () => {
    expect(planParts(100 * MiB, S3_SPEC, { requestedPartSize: 8 * 1024 * MiB }).partSize).toBe(
      5 * 1024 * MiB,
    );
  });

  it('refuses a file larger than max part size × max part count, naming the limit', () => {
    const spec = { maxPartCount: 3, maxPartSize: 10 * MiB, minPartSize: 5 * MiB };
    expect(() => planParts(30 * MiB + 1, spec)).toThrow(FileTooLargeError);
    expect(() => planParts(30 * MiB + 1, spec)).toThrow(/3 parts × 10485760 bytes/);
    expect(planParts(30 * MiB, spec).partCount).toBe(3);
  });

  it('plans a 0-byte file as one empty part', () => {
    const plan = planParts(0, S3_SPEC);
    expect(plan).toMatchObject({ partCount: 1, batches: [{ start: 0, count: 1 }] });
    expect(partRange(1, plan.partSize, 0).length).toBe(0);
  });

  it('covers every part exactly once with contiguous batches', () => {
    const plan = planParts(1000 * 5 * MiB - 3, S3_SPEC, { requestedPartSize: 5 * MiB, partsPerBatch: 16 });
    expect(plan.partCount).toBe(1000);
    let next = 0;
    for (const batch of plan.batches) {
      expect(batch.start).toBe(next);
      next += batch.count;
    }
    expect(next).toBe(1000);
    expect(plan.batches).toHaveLength(63);
  });

  it('keeps a 10,000-part file to at most 1,000 batches', () => {
    const plan = planParts(10_000 * 5 * MiB, S3_SPEC, { requestedPartSize: 5 * MiB, partsPerBatch: 1 });
    expect(plan.partCount).toBe(10_000);
    expect(plan.batches.length).toBeLessThanOrEqual(1000);
  });

  it('sizes a batch to fit a 15-minute Lambda at 40 MB/s', () => {
    const plan = planParts(100 * 1024 * MiB, S3_SPEC, {
      requestedPartSize: 5 * 1024 * MiB,
      partsPerBatch: 16,
    });
    const largest = Math.max(...plan.batches.map((b) => b.count));
    expect((largest * plan.partSize) / 40_000_000).toBeLessThanOrEqual(900);
  });

  it('rejects a negative or fractional size', () => {
    expect(() => planParts(-1, S3_SPEC)).toThrow(RangeError);
    expect(() => planParts(1.5, S3_SPEC)).toThrow(RangeError);
  });
});

describe('partRange', () => {
  it('gives the last part only the remaining bytes', () => {
    expect(partRange(3, 10, 25)).toEqual({ first: 20, last: 24, length: 5 });
    expect(partRange(1, 10, 25)).toEqual({ first: 0, last: 9, length: 10 });
  });
});

describe('planDelivery', () => {
  it('keeps the requested batch size while the delivery fits 1,000 batches', () => {
    const plans = planDelivery([100 * 5 * MiB, 7], S3_SPEC, {
      requestedPartSize: 5 * MiB,
      partsPerBatch: 16,
    });
    expect(plans.map((p) => p.batches.length)).toEqual([7, 1]);
  });

  it('grows batches so many files together stay within 1,000 batches', () => {
    const sizes = Array.from({ length: 300 }, () => 64 * 5 * MiB);
    const plans = planDelivery(sizes, S3_SPEC, { requestedPartSize: 5 * MiB, partsPerBatch: 16 });
    const batches = plans.reduce((n, p) => n + p.batches.length, 0);
    expect(batches).toBeLessThanOrEqual(1000);
    expect(plans.every((p) => p.batches.reduce((n, b) => n + b.count, 0) === p.partCount)).toBe(true);
  });

  it('settles on one batch per file when there are more files than the cap allows otherwise', () => {
    const plans = planDelivery(
      Array.from({ length: 1200 }, () => 10 * 5 * MiB),
      S3_SPEC,
      { requestedPartSize: 5 * MiB },
    );
    expect(plans.every((p) => p.batches.length === 1)).toBe(true);
  });
});
