import { createHash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { packageAccess } from '../delivery/package-lifecycle.js';
import { PLANNING_BYTES_PER_SECOND, partRange } from '../delivery/part-plan.js';
import type { BatchItem, DeliveryFile } from '../delivery/request.js';
import type { RelayDeps } from '../deps.js';
import { isRetryable, PartIntegrityError, PartUrlExpiredError, StorageError } from '../errors.js';
import type { Blueprint, PackageAccess } from '../masv/types.js';
import { runPool } from '../pool.js';
import { DEFAULT_RETRY_POLICY, realClock, withRetry } from '../retry.js';
import { unquoteEtag } from '../source/etag.js';
import { allowsContentMd5, md5OfRange, type PartCheck } from '../source/part-integrity.js';
import { openRange } from '../source/s3-source.js';

export interface TransferInput {
  deliveryId: string;
  /** The prepared package: a batch of an earlier, superseded Prepare must not upload into another. */
  packageId?: string;
  file: DeliveryFile;
  batch: BatchItem;
}

export interface TransferResult {
  /** False when the batch stopped early for lack of Lambda time; the workflow runs it again. */
  done: boolean;
  partsUploaded: number;
  partsSkipped: number;
  /** Part attempts that failed and were tried again. */
  partRetries: number;
  bytes: number;
}

export interface TransferOptions {
  partConcurrency: number;
  /** Milliseconds this invocation has left (Lambda's `getRemainingTimeInMillis`). */
  remainingMs: () => number;
  /** Attempts per part (each re-opens the source range). */
  partAttempts?: number;
}

/**
 * One Lambda's throughput (bytes/ms) assumed until this invocation has measured its own, when
 * deciding whether another part still fits in the remaining time.
 */
const PLANNED_BYTES_PER_MS = PLANNING_BYTES_PER_SECOND / 1000;
const SAFETY_MARGIN_MS = 30_000;

/** Hashes bytes as they stream through, so the part's MD5 is known when the PUT completes. */
class Md5Stream extends Transform {
  private readonly hash = createHash('md5');
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
    this.hash.update(chunk);
    callback(null, chunk);
  }
  digestHex() {
    return this.hash.digest('hex');
  }
}

/**
 * Transfer step for one batch: asks MASV once for the batch's part blueprints, then streams each
 * part's ranged GET straight into its PUT with bounded concurrency, checks the ETag against the
 * MD5 computed in-stream and records the part in the ledger. Finished parts are skipped, so a
 * retried or resumed batch continues where it stopped.
 */
export async function transferBatch(
  deps: RelayDeps,
  input: TransferInput,
  options: TransferOptions,
): Promise<TransferResult> {
  const { deliveryId, batch } = input;
  const record = await deps.stateBucket.requirePackage(deliveryId, input.packageId);
  const access = packageAccess(deps, deliveryId, record);
  const pending = await pendingParts(deps, input);
  const result: TransferResult = {
    done: true,
    partsUploaded: 0,
    partsSkipped: batch.count - pending.length,
    partRetries: 0,
    bytes: 0,
  };
  if (pending.length === 0) return result;
  const run = new BatchRun(deps, input, options, access, result);
  await run.loadBlueprints(pending);
  await run.sendWithinDeadline(pending);
  return result;
}

/** The batch's part numbers the ledger does not hold yet. */
async function pendingParts(deps: RelayDeps, { deliveryId, file, batch }: TransferInput): Promise<number[]> {
  const finished = await deps.stateBucket.listPartsInWindow(
    deliveryId,
    file.index,
    batch.start + 1,
    batch.start + batch.count,
  );
  const pending: number[] = [];
  for (let n = batch.start + 1; n <= batch.start + batch.count; n++) if (!finished.has(n)) pending.push(n);
  return pending;
}

/** One invocation's run of a batch: the blueprints it holds, how parts are checked, what it did. */
class BatchRun {
  private readonly blueprints = new Map<number, Blueprint>();
  private readonly abort = new AbortController();
  /**
   * How parts are verified (part-integrity.ts): `content-md5` when storage's ETags are not MD5s
   * (SSE-KMS), known from Prepare, or learnt here when an ETag differs from the bytes' MD5.
   */
  private check: PartCheck;
  private readonly file: DeliveryFile;

  constructor(
    private readonly deps: RelayDeps,
    private readonly input: TransferInput,
    private readonly options: TransferOptions,
    private readonly access: PackageAccess,
    private readonly result: TransferResult,
  ) {
    this.file = input.file;
    this.check = input.file.partCheck ?? 'etag';
  }

  /** One call for the blueprints of the whole pending window. */
  async loadBlueprints(pending: number[]) {
    const first = pending[0]! - 1;
    const window = await this.deps.masv.getPartBlueprints(
      this.access,
      this.file.fileId,
      this.file.uploadId,
      first,
      pending.at(-1)! - first,
    );
    for (const [i, bp] of window.entries()) this.blueprints.set(first + i + 1, bp);
  }

  /**
   * Sends the parts with bounded concurrency while they fit before the deadline. Parts in flight
   * share one Lambda's bandwidth: another part fits only if the bytes still in flight plus its own
   * can move, at the rate this invocation measured (or the planned one while nothing is measured,
   * whichever is lower), before the deadline.
   */
  async sendWithinDeadline(pending: number[]) {
    const { file, result, options } = this;
    const invocationStart = Date.now();
    let inFlight = 0;
    let starts = 0;
    let stoppedEarly = false;
    const timedSend = async (partNumber: number) => {
      inFlight++;
      try {
        await this.sendPart(partNumber);
      } finally {
        inFlight--;
      }
    };
    const { started } = await runPool(pending, options.partConcurrency, timedSend, () => {
      // The first part always starts, so every invocation makes progress even on a tight deadline.
      if (starts++ === 0) return true;
      const elapsedMs = Date.now() - invocationStart;
      const measured = result.bytes > 0 && elapsedMs > 1000 ? result.bytes / elapsedMs : PLANNED_BYTES_PER_MS;
      const bytesPerMs = Math.min(measured, PLANNED_BYTES_PER_MS);
      const estimateMs = ((inFlight + 1) * file.partSize) / bytesPerMs + SAFETY_MARGIN_MS;
      if (options.remainingMs() > estimateMs) return true;
      stoppedEarly = true;
      return false;
    });
    if (stoppedEarly && started < pending.length) {
      this.deps.log.info(
        'Stopping the batch early to stay inside the Lambda time limit; it resumes from the ledger',
        { deliveryId: this.input.deliveryId, file: file.index, partsLeft: pending.length - started },
      );
      result.done = false;
    }
  }

  /** A part with its retries; each retry re-opens the source range (a streamed body cannot be replayed). */
  private async sendPart(partNumber: number) {
    const { deps, result, abort } = this;
    try {
      await withRetry(() => this.sendPartOnce(partNumber), {
        clock: deps.clock ?? realClock,
        policy: {
          ...DEFAULT_RETRY_POLICY,
          maxAttempts: this.options.partAttempts ?? DEFAULT_RETRY_POLICY.maxAttempts,
        },
        shouldRetry: (error) => !abort.signal.aborted && isRetryable(error),
        onRetry: ({ attempt, delayMs, error }) => {
          if (error instanceof PartUrlExpiredError) this.blueprints.delete(partNumber);
          result.partRetries++;
          deps.log.warn('Retrying a part', {
            deliveryId: this.input.deliveryId,
            file: this.file.index,
            partNumber,
            attempt,
            delayMs,
            error: (error as Error).name,
          });
        },
      });
    } catch (error) {
      abort.abort();
      throw error;
    }
  }

  /** One attempt at one part: open the range, stream it through MD5 into the PUT, check, record. */
  private async sendPartOnce(partNumber: number): Promise<void> {
    const { deps, file } = this;
    const range = partRange(partNumber, file.partSize, file.size);
    let source: Readable | undefined;
    const hasher = new Md5Stream();
    try {
      const blueprint = await this.blueprintFor(partNumber);
      const expected =
        this.check === 'content-md5' ? await this.sourceMd5(partNumber, blueprint, range) : undefined;
      source =
        range.length === 0
          ? Readable.from([])
          : await openRange(deps.s3, file, range.first, range.last, this.abort.signal);
      source.once('error', (error) => hasher.destroy(error));
      source.pipe(hasher);
      const etag = await this.putPart(
        partNumber,
        blueprint,
        { stream: hasher, length: range.length },
        expected,
      );
      if (!this.verified(partNumber, blueprint, etag, hasher.digestHex(), expected))
        return this.sendPartOnce(partNumber);
      // When storage accepted it: if a stale invocation sent the same part too, storage keeps the
      // copy that arrived last, and the ledger must pick that one's ETag, not the last record's.
      await deps.stateBucket.recordPart(
        this.input.deliveryId,
        file.index,
        { partNumber, etag },
        (deps.now?.() ?? new Date()).getTime(),
      );
      this.result.partsUploaded++;
      this.result.bytes += range.length;
    } catch (error) {
      source?.destroy();
      hasher.destroy();
      throw error;
    }
  }

  /** The part's blueprint: from the window, or asked for alone (after an expired URL dropped it). */
  private async blueprintFor(partNumber: number): Promise<Blueprint> {
    let blueprint = this.blueprints.get(partNumber);
    if (!blueprint) {
      [blueprint] = await this.deps.masv.getPartBlueprints(
        this.access,
        this.file.fileId,
        this.file.uploadId,
        partNumber - 1,
        1,
      );
      this.blueprints.set(partNumber, blueprint!);
    }
    return blueprint!;
  }

  /** The source range's MD5 for Content-MD5, read before the PUT; refused when the URL cannot carry it. */
  private async sourceMd5(partNumber: number, blueprint: Blueprint, range: { first: number; last: number }) {
    if (!allowsContentMd5(blueprint.url))
      throw new StorageError(
        `Part ${partNumber} of ${this.file.name}: MASV's storage returns ETags that are not MD5s (SSE-KMS) and its part URLs are signed so that no Content-MD5 header may be added; the relay cannot verify the bytes, so it does not send them. Report this to MASV support.`,
      );
    return md5OfRange(this.deps.s3, this.file, range.first, range.last, this.abort.signal);
  }

  /** PUTs the part's bytes (with Content-MD5 when expected is known); storage's BadDigest is a PartIntegrityError. */
  private async putPart(
    partNumber: number,
    blueprint: Blueprint,
    body: { stream: Md5Stream; length: number },
    expected: { hex: string; base64: string } | undefined,
  ): Promise<string> {
    const target = expected
      ? { ...blueprint, headers: { ...blueprint.headers, 'content-md5': expected.base64 } }
      : blueprint;
    return this.deps.masv
      .uploadPart(target, { stream: body.stream, contentLength: body.length }, this.abort.signal)
      .catch((error: unknown) => {
        if (error instanceof StorageError && /BadDigest/.test(error.message))
          throw new PartIntegrityError(
            `Part ${partNumber} of ${this.file.name}: storage received bytes whose MD5 is not ${expected?.hex} (BadDigest); the part is sent again.`,
            { cause: error },
          );
        throw error;
      });
  }

  /**
   * Whether the bytes storage holds are the ones sent. False when storage's ETags turned out not
   * to be MD5s and the part must be sent again with Content-MD5; throws on a real mismatch.
   */
  private verified(
    partNumber: number,
    blueprint: Blueprint,
    etag: string,
    md5: string,
    expected: { hex: string } | undefined,
  ): boolean {
    const { file } = this;
    if (expected) {
      if (md5 !== expected.hex)
        throw new PartIntegrityError(
          `Part ${partNumber} of ${file.name}: two reads of the source gave different bytes (MD5 ${expected.hex}, then ${md5}).`,
        );
      return true;
    }
    const received = unquoteEtag(etag);
    if (received.toLowerCase() === md5) return true;
    if (allowsContentMd5(blueprint.url)) {
      // Storage's ETags may not be MD5s (SSE-KMS as the bucket default, no header in the
      // blueprint; or not even hex): send the part again with Content-MD5 so storage checks
      // it, and keep doing so. A part is never recorded unverified.
      this.check = 'content-md5';
      this.deps.log.info('Part ETags are not MD5s; verifying parts with Content-MD5 from now on', {
        deliveryId: this.input.deliveryId,
        file: file.index,
        partNumber,
      });
      return false;
    }
    throw new PartIntegrityError(
      `Part ${partNumber} of ${file.name}: storage's ETag ${received} differs from the MD5 ${md5} of the bytes sent.`,
    );
  }
}
