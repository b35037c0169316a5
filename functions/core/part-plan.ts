import { FileTooLargeError } from './errors.js';
import type { PackageSpec } from './masv/types.js';

export const MiB = 1024 * 1024;
/** MASV's default part size. */
export const DEFAULT_PART_SIZE = 100 * MiB;
/** Conservative relay throughput of one transfer Lambda, used to size batches. */
export const PLANNING_BYTES_PER_SECOND = 40_000_000;
/** Share of a batch Lambda's 15-minute limit one batch may plan to use at that throughput. */
export const BATCH_TIME_BUDGET_SECONDS = 600;
/** Upper bound on batches per file, so the Map's item list and history stay small. */
export const MAX_BATCHES_PER_FILE = 1000;
/** Parts per batch we aim for: one blueprint call serves this many parts (2 GB at the default part size). */
export const DEFAULT_PARTS_PER_BATCH = 20;

/** A contiguous window of parts of one file: parts `start+1 … start+count`. */
export interface PartWindow {
  start: number;
  count: number;
}

export interface PartPlan {
  size: number;
  partSize: number;
  partCount: number;
  batches: PartWindow[];
}

export interface PlanOptions {
  /** Part size asked for (configuration); defaults to 100 MiB. */
  requestedPartSize?: number;
  /** Parts per batch asked for; defaults to 20. Bounded by the time budget and batch cap. */
  partsPerBatch?: number;
  /** Parts per batch at least, whatever the time budget (set when a delivery must fit the batch cap). */
  minPartsPerBatch?: number;
}

/**
 * Plans how a file of `size` bytes is split into parts and batches within MASV's `spec`.
 *
 * Part size = max(requested, ceil(size / maxPartCount)) rounded up to 1 MiB, clamped to
 * [minPartSize, maxPartSize]. A 0-byte file is one empty part (S3 multipart accepts a single
 * empty part, and MASV then has a real, finalized file of size 0).
 */
export function planParts(size: number, spec: PackageSpec, options: PlanOptions = {}): PartPlan {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new RangeError(`File size must be a whole number of bytes ≥ 0; got ${size}.`);
  }
  const capacity = spec.maxPartSize * spec.maxPartCount;
  if (size > capacity) {
    throw new FileTooLargeError(
      `The file is ${size} bytes, more than MASV allows for one file (${spec.maxPartCount} parts × ` +
        `${spec.maxPartSize} bytes = ${capacity} bytes). Split it into smaller objects before relaying.`,
    );
  }
  const requested = options.requestedPartSize ?? DEFAULT_PART_SIZE;
  const needed = Math.max(requested, Math.ceil(size / spec.maxPartCount));
  const rounded = Math.ceil(needed / MiB) * MiB;
  const partSize = Math.min(spec.maxPartSize, Math.max(spec.minPartSize, rounded));
  const partCount = size === 0 ? 1 : Math.ceil(size / partSize);

  const byTime = Math.max(1, Math.floor((PLANNING_BYTES_PER_SECOND * BATCH_TIME_BUDGET_SECONDS) / partSize));
  const byBatchCap = Math.ceil(partCount / MAX_BATCHES_PER_FILE);
  const partsPerBatch = Math.max(
    byBatchCap,
    Math.min(options.partsPerBatch ?? DEFAULT_PARTS_PER_BATCH, byTime),
  );

  const batches: PartWindow[] = [];
  for (let start = 0; start < partCount; start += partsPerBatch) {
    batches.push({ start, count: Math.min(partsPerBatch, partCount - start) });
  }
  return { size, partSize, partCount, batches };
}

/** Byte range `[first, last]` (inclusive) of part number `partNumber` (1-based); empty for 0-byte files. */
export function partRange(partNumber: number, partSize: number, size: number) {
  const first = (partNumber - 1) * partSize;
  const length = Math.max(0, Math.min(partSize, size - first));
  return { first, last: first + length - 1, length };
}

/** Upper bound on Map items per delivery, so one execution stays far below 25,000 history events. */
export const MAX_BATCHES_PER_DELIVERY = 1000;

/**
 * Plans every file of a delivery. When the files together would need more than 1,000 batches, the
 * batches grow (more parts each) until they fit; the time budget per batch then yields to the cap,
 * and a batch that runs short of time resumes in the next invocation.
 */
export function planDelivery(sizes: number[], spec: PackageSpec, options: PlanOptions = {}): PartPlan[] {
  let partsPerBatch = options.partsPerBatch ?? DEFAULT_PARTS_PER_BATCH;
  for (;;) {
    const grown = partsPerBatch > (options.partsPerBatch ?? DEFAULT_PARTS_PER_BATCH);
    const plans = sizes.map((size) =>
      planParts(size, spec, {
        ...options,
        partsPerBatch,
        ...(grown ? { minPartsPerBatch: partsPerBatch } : {}),
      }),
    );
    const batches = plans.reduce((sum, plan) => sum + plan.batches.length, 0);
    if (batches <= MAX_BATCHES_PER_DELIVERY || batches === sizes.length) return plans;
    partsPerBatch = Math.ceil(partsPerBatch * 1.5);
  }
}
