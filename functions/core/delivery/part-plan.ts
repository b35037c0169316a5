import { DeliveryTooLargeError, FileTooLargeError } from '../errors.js';
import type { PackageSpec } from '../masv/types.js';

export const MiB = 1024 * 1024;
/** MASV's default part size. */
export const DEFAULT_PART_SIZE = 100 * MiB;
/** Conservative relay throughput of one transfer Lambda, used to size batches. */
export const PLANNING_BYTES_PER_SECOND = 40_000_000;
/** Share of a batch Lambda's 15-minute limit one batch may plan to use at that throughput. */
export const BATCH_TIME_BUDGET_SECONDS = 600;
/** Upper bound on Map items per delivery (a single file included), so one execution stays far below 25,000 history events. */
export const MAX_BATCHES_PER_DELIVERY = 1000;
/** Bytes one transfer invocation is planned to move (40 MB/s × 600 s = 24 GB). */
export const BYTES_PER_INVOCATION = PLANNING_BYTES_PER_SECOND * BATCH_TIME_BUDGET_SECONDS;
/** Parts per batch we aim for: one blueprint call serves this many parts (2 GB at the default part size). */
export const DEFAULT_PARTS_PER_BATCH = 20;

/** A contiguous window of parts of one file: parts `start+1 … start+count`. */
export interface Batch {
  start: number;
  count: number;
}

export interface PartPlan {
  size: number;
  partSize: number;
  partCount: number;
  batches: Batch[];
}

export interface PlanOptions {
  /** Part size asked for (configuration); defaults to 100 MiB. */
  requestedPartSize?: number;
  /** Parts per batch asked for; defaults to 20. Bounded by the time budget and batch cap. */
  partsPerBatch?: number;
  /** Parts per batch at least, whatever the time budget (set when a delivery must fit the batch cap). */
  minPartsPerBatch?: number;
  /** History events the delivery may use (default HISTORY_EVENT_BUDGET; less when a restore wait also needs some). */
  historyBudget?: number;
}

/** Part size, part count and parts per batch of one file, before the batches are listed. */
interface FileShape {
  size: number;
  partSize: number;
  partCount: number;
  partsPerBatch: number;
}

function shapeFile(size: number, spec: PackageSpec, options: PlanOptions): FileShape {
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

  const byTime = Math.max(1, Math.floor(BYTES_PER_INVOCATION / partSize));
  const byBatchCap = Math.ceil(partCount / MAX_BATCHES_PER_DELIVERY);
  const partsPerBatch = Math.min(
    partCount,
    Math.max(
      byBatchCap,
      options.minPartsPerBatch ?? 1,
      Math.min(options.partsPerBatch ?? DEFAULT_PARTS_PER_BATCH, byTime),
    ),
  );
  return { size, partSize, partCount, partsPerBatch };
}

/**
 * Plans how a file of `size` bytes is split into parts and batches within MASV's `spec`.
 *
 * Part size = max(requested, ceil(size / maxPartCount)) rounded up to 1 MiB, clamped to
 * [minPartSize, maxPartSize]. A 0-byte file is one empty part (S3 multipart accepts a single
 * empty part, and MASV then has a real, finalized file of size 0). Parts per batch = the number
 * asked for, lowered so a batch fits one invocation's time budget, raised to `minPartsPerBatch`
 * and to what keeps the file within 1,000 batches.
 */
export function planParts(size: number, spec: PackageSpec, options: PlanOptions = {}): PartPlan {
  const { partSize, partCount, partsPerBatch } = shapeFile(size, spec, options);
  const batches: Batch[] = [];
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

/** Step Functions' limit on events in one execution's history. */
export const HISTORY_EVENT_LIMIT = 25_000;
/** What the planner lets a delivery use: 80% of the limit, the rest is kept for retries. */
export const HISTORY_EVENT_BUDGET = 20_000;
/**
 * History events of the definition (statemachines/relay.asl.json), counted as Step Functions
 * records them: Task = entered, scheduled, started, succeeded, exited (5); Wait, Choice, Pass,
 * Succeed = entered, exited (2); Map = entered, started, succeeded, exited (4); each Map
 * iteration = started, succeeded (2). `test/unit/part-plan-definition.test.ts` recounts them from
 * the definition, so a new state cannot slip past the planner.
 *
 * Outside the Map: ExecutionStarted, Prepare (5), `Sources Readable?` (2), Transfer Map (4),
 * Finalize (5), Delivered (2), ExecutionSucceeded.
 */
export const EVENTS_OUTSIDE_MAP = 20;
/** Per batch (Map iteration): iteration started and succeeded, `Batch Done` entered and exited. */
export const EVENTS_PER_BATCH = 4;
/** Per transfer invocation: `Take Turn` (2), `Transfer Batch` (5), `Batch Finished?` (2). */
export const EVENTS_PER_INVOCATION = 9;

/** The workflow's own `TimeoutSeconds` (48 h); a test keeps it equal to the definition's. */
export const EXECUTION_TIMEOUT_SECONDS = 172_800;

/** Share of the execution timeout a plan may use for its transfers (the rest: throttle waits, Prepare, Finalize). */
export const TRANSFER_TIME_SHARE = 0.8;

/**
 * Seconds the transfers of these plans take at the planned rate (`PLANNING_BYTES_PER_SECOND` per
 * Lambda) with `concurrency` transfer Lambdas at once.
 */
export function plannedTransferSeconds(plans: PartPlan[], concurrency: number): number {
  const bytes = plans.reduce((sum, plan) => sum + plan.size, 0);
  return bytes / (PLANNING_BYTES_PER_SECOND * Math.max(1, concurrency));
}

/** Transfer invocations planned for a batch of `bytes`: one per 24 GB, at least one. */
export function invocationsFor(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / BYTES_PER_INVOCATION));
}

/**
 * Batches and history events a set of file shapes needs when every file's batches hold at least
 * `min` parts, counted without listing the batches (the search below tries thousands of sizes).
 */
function costOf(shapes: FileShape[], min = 1) {
  let batches = 0;
  let events = EVENTS_OUTSIDE_MAP;
  for (const f of shapes) {
    const perBatch = Math.min(f.partCount, Math.max(f.partsPerBatch, min));
    const count = Math.ceil(f.partCount / perBatch);
    const fullBytes = Math.min(f.size, perBatch * f.partSize);
    const lastBytes = f.size - (count - 1) * perBatch * f.partSize;
    batches += count;
    events +=
      count * EVENTS_PER_BATCH +
      (count - 1) * EVENTS_PER_INVOCATION * invocationsFor(fullBytes) +
      EVENTS_PER_INVOCATION * invocationsFor(lastBytes);
  }
  return { batches, events };
}

/** History events the workflow is expected to record for these plans, without retries. */
export function estimateHistoryEvents(plans: PartPlan[]): number {
  let events = EVENTS_OUTSIDE_MAP;
  for (const plan of plans) {
    for (const batch of plan.batches) {
      const first = batch.start * plan.partSize;
      const bytes = Math.min(plan.size, (batch.start + batch.count) * plan.partSize) - first;
      events += EVENTS_PER_BATCH + EVENTS_PER_INVOCATION * invocationsFor(bytes);
    }
  }
  return events;
}

/**
 * Plans every file of a delivery. When the files together need more than 1,000 batches or more
 * history events than the budget, every file's batches grow to a common minimum size: the
 * smallest minimum for which the delivery fits (batches then exceed one invocation's time budget
 * and resume in the next invocation). A delivery that fits for no batch size is refused with
 * `DeliveryTooLargeError`, before any package exists. The search is bounded by the largest part
 * count (≤ MASV's max part count), so planning always ends.
 */
export function planDelivery(sizes: number[], spec: PackageSpec, options: PlanOptions = {}): PartPlan[] {
  if (sizes.length > MAX_BATCHES_PER_DELIVERY) {
    throw new DeliveryTooLargeError(
      `This delivery has ${sizes.length} files; one execution takes at most ${MAX_BATCHES_PER_DELIVERY} (one batch each at least). Split it into several deliveries.`,
    );
  }
  const budget = options.historyBudget ?? HISTORY_EVENT_BUDGET;
  const search = searchBatchSize(sizes, spec, options);
  if ('min' in search)
    return sizes.map((size) =>
      planParts(size, spec, search.min > 1 ? { ...options, minPartsPerBatch: search.min } : options),
    );

  const total = sizes.reduce((sum, size) => sum + size, 0);
  const what = `${sizes.length === 1 ? 'file' : 'delivery'} (${sizes.length} file${sizes.length === 1 ? '' : 's'}, ${total} bytes, ${formatBytes(total)})`;
  const at =
    `This ${what} is too large for one workflow execution: at best it needs about ${search.events} ` +
    `history events, over the relay's budget of ${budget} (Step Functions allows ${HISTORY_EVENT_LIMIT}).`;
  if (sizes.length === 1) {
    const largest = largestDeliveryBytes(1, spec, options);
    throw new DeliveryTooLargeError(
      `${at} Split the object into smaller objects of at most ${largest} bytes (${formatBytes(largest)}); nothing was created.`,
    );
  }
  const parts = Math.ceil(search.events / budget);
  throw new DeliveryTooLargeError(
    `${at} Split it into at least ${Math.max(2, parts)} deliveries (for example by prefix); nothing was created.`,
  );
}

/**
 * The smallest common minimum of parts per batch (1 = as asked) for which the files fit the batch
 * cap and the history budget, or the fewest events any batch size needs when none fits. Bounded by
 * the largest part count; skipped when even one batch per file needs more invocations than the
 * budget allows (each file needs at least size / 24 GB invocations, whatever its batches).
 */
function searchBatchSize(
  sizes: number[],
  spec: PackageSpec,
  options: PlanOptions,
): { min: number } | { events: number } {
  const fits = (cost: { batches: number; events: number }) =>
    cost.batches <= MAX_BATCHES_PER_DELIVERY &&
    cost.events <= (options.historyBudget ?? HISTORY_EVENT_BUDGET);
  const shapes = sizes.map((size) => shapeFile(size, spec, options));
  let best = costOf(shapes);
  if (fits(best)) return { min: 1 };
  const floor = shapes.reduce(
    (sum, f) => sum + EVENTS_PER_BATCH + EVENTS_PER_INVOCATION * invocationsFor(f.size),
    EVENTS_OUTSIDE_MAP,
  );
  if (floor > (options.historyBudget ?? HISTORY_EVENT_BUDGET)) return { events: floor };
  const largest = Math.max(1, ...shapes.map((s) => s.partCount));
  for (let min = 2; min <= largest; min++) {
    const cost = costOf(shapes, min);
    if (fits(cost)) return { min };
    if (cost.events < best.events) best = cost;
  }
  return { events: best.events };
}

function formatBytes(bytes: number) {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/**
 * The most bytes `fileCount` files of equal size may hold together and still be planned: a bounded
 * binary search over `planDelivery` (used by the README's limits, the tests and the scale runs).
 */
export function largestDeliveryBytes(
  fileCount: number,
  spec: PackageSpec,
  options: PlanOptions = {},
): number {
  const fits = (total: number) => {
    const sizes = Array.from({ length: fileCount }, () => Math.floor(total / fileCount));
    if (sizes[0]! > spec.maxPartSize * spec.maxPartCount) return false;
    return 'min' in searchBatchSize(sizes, spec, options);
  };
  let low = 0;
  let high = Math.min(Number.MAX_SAFE_INTEGER, fileCount * spec.maxPartSize * spec.maxPartCount);
  if (fileCount > MAX_BATCHES_PER_DELIVERY) return 0;
  if (fits(high)) return high;
  // To 1 MiB per file: finer than any limit a user would act on.
  while (high - low > fileCount * MiB) {
    const mid = Math.floor((low + high) / 2);
    if (fits(mid)) low = mid;
    else high = mid;
  }
  return low;
}
