import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BYTES_PER_INVOCATION, invocationsFor } from '../../functions/core/delivery/part-plan.js';
import { prepareDelivery } from '../../functions/core/steps/prepare.js';
import { SOURCE_BUCKET } from '../../local/workflow/local-deps.js';
import { type PrepareWithMadeUpSizes, startPrepareWithMadeUpSizes } from '../helpers/local-deps.js';

/**
 * Regression test from the review (issues 11/12). The README says the relay "accepts one file of up to
 * 48.4 TiB" and the planner refuses "a delivery that cannot fit ... before any package exists".
 * The planner only checks batches and history events; it ignores the execution's own
 * `TimeoutSeconds` (172,800 s = 48 h) and how many transfer Lambdas may run (mapConcurrency,
 * 1–40, and transferReservedConcurrency). At the planner's own rate (24 GB per 600-s invocation)
 * a 48 TiB file with mapConcurrency 4 needs ~92 h. The package is created, and 48 h later the
 * execution times out — a timeout of the execution is not caught, so Abort never runs and the
 * package is left behind with up to 48 h of bytes in it.
 */
const GiB = 1024 ** 3;
const TiB = 1024 * GiB;
let prepare: PrepareWithMadeUpSizes;
const definition = JSON.parse(readFileSync('statemachines/relay.asl.json', 'utf8')) as {
  TimeoutSeconds: number;
};

beforeAll(async () => {
  // An accepted setting (1–40): fewer Lambdas per delivery.
  prepare = await startPrepareWithMadeUpSizes({
    transfer: { mapConcurrency: 4 } as never,
  });
});
afterAll(() => prepare.close());

describe('the planner and the 48-hour execution timeout', () => {
  it('refuses (before any package) a delivery its own rate cannot finish within TimeoutSeconds', async () => {
    prepare.reportSize(48 * TiB);
    const files = [{ bucket: SOURCE_BUCKET, key: 'big/0.mov', etag: 'e' }];
    const concurrency = prepare.deps.config.transfer.mapConcurrency;
    expect(concurrency).toBe(4);
    const outcome = await prepareDelivery(prepare.deps, { deliveryId: 'too-slow', files }).then(
      (prepared) => {
        const p = prepared as {
          batches: Array<{ file: number; start: number; count: number }>;
          files: Array<{ partSize: number; size: number }>;
        };
        const invocations = p.batches.reduce((sum, b) => {
          const f = p.files[b.file]!;
          const bytes = Math.min(f.size, (b.start + b.count) * f.partSize) - b.start * f.partSize;
          return sum + invocationsFor(bytes);
        }, 0);
        const plannedSeconds = (invocations * BYTES_PER_INVOCATION) / 40_000_000 / concurrency;
        return {
          accepted: true,
          plannedHours: Math.round(plannedSeconds / 3600),
          packages: prepare.masv.inspect.packages().length,
        };
      },
      (error: Error) => ({ accepted: false, error: error.name }),
    );
    expect(
      outcome,
      `${JSON.stringify(outcome)}; the execution times out after ${definition.TimeoutSeconds / 3600} h (not caught: no Abort)`,
    ).toMatchObject({ accepted: false });
  });
});
