import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PreparedDelivery } from '../../functions/core/delivery/request.js';
import type { RelayDeps } from '../../functions/core/deps.js';
import { PackageRecordConflictError } from '../../functions/core/errors.js';
import { finalizeDelivery } from '../../functions/core/steps/finalize.js';
import { prepareDelivery } from '../../functions/core/steps/prepare.js';
import { LocalRelay, SOURCE_BUCKET } from '../../local/workflow/relay.js';
import { transferEveryBatch } from '../helpers/local-deps.js';
import { depsOf, KiB, putSource, testRelayOptions } from '../helpers/local-relay.js';
import { auditPackages } from './tally.js';

/**
 * Regression tests from the review of issue 10: "two overlapping invocations of the same step (a Lambda
 * retried while the first is still running) cannot create two packages", and "any extra package
 * created ... is deleted before the delivery ends (no orphans left to expire)".
 *
 * Prepare #1 records its create intent (generation 1) and asks MASV for a package; MASV is slow to
 * answer. Step Functions gives up on the invocation (Lambda.SdkClientException / ServiceException,
 * both in Prepare's Retry list) and starts Prepare #2 while #1 still runs. #2 sees generation 1's
 * intent without a record, finds nothing in MASV yet, and creates generation 2. Then #1's create
 * lands, #1 claims it (the claim is per delivery, so it is "ours") and records generation 1; before
 * answering it sees it was overtaken by generation 2, gives way and deletes its package.
 */
let relay: LocalRelay;
beforeAll(async () => {
  relay = await LocalRelay.start(testRelayOptions({ emulator: { seed: 3 } }));
});
afterAll(async () => {
  await relay.close();
});

async function transferAndFinalize(deps: RelayDeps, prepared: PreparedDelivery) {
  await transferEveryBatch(deps, prepared, { partConcurrency: 2, remainingMs: () => 600_000 });
  return finalizeDelivery(deps, prepared);
}

describe('overlapping Prepare invocations', () => {
  it('leave no second package in state new once the delivery has succeeded', async () => {
    const deps = depsOf(relay);
    const emulator = relay.emulator!;
    const key = 'break/overlap.bin';
    await putSource(relay, key, 200 * KiB);
    const deliveryId = 'break-overlap-1';
    const request = { deliveryId, files: [{ bucket: SOURCE_BUCKET, key }] };

    // MASV takes 3 s to answer the first create package.
    emulator.faults.add({
      target: 'route:POST /v1/teams/{team_id}/packages',
      kind: 'latency',
      latencyMs: 3000,
      times: 1,
    });
    const first = prepareDelivery(deps, request).then(
      (p) => ({ ok: true as const, p }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    // Wait until #1 has recorded its intent (generation 1) and is waiting on MASV.
    for (let i = 0; i < 100; i++) {
      const generations = await deps.stateBucket.packageGenerations(deliveryId);
      if (generations.some((g) => g.intent)) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const second = await prepareDelivery(deps, request);
    const stale = await first;
    // #1 gives way to #2 rather than answer with a package of its own (or #2's).
    expect(stale.ok ? stale.p.package.id : stale.error).toBeInstanceOf(PackageRecordConflictError);

    const result = await transferAndFinalize(deps, second);
    expect(result.packageId).toBe(second.package.id);
    expect(emulator.inspect.package(second.package.id)!.state).toBe('finalized');

    const mine = emulator.inspect.packages().filter((p) => p.name === 'overlap.bin');
    // Exactly one package for this delivery survives; nothing is left in `new` to expire.
    expect(auditPackages(relay).orphaned).toEqual([]);
    expect(mine.filter((p) => p.state !== 'deleted').map((p) => p.id)).toEqual([second.package.id]);
  }, 60_000);

  it("a stale Prepare that reads the records late does not take the live one's package away", async () => {
    const deps = depsOf(relay);
    const emulator = relay.emulator!;
    const key = 'break/overlap-late.bin';
    await putSource(relay, key, 200 * KiB);
    const deliveryId = 'break-overlap-2';
    const request = { deliveryId, files: [{ bucket: SOURCE_BUCKET, key }] };
    // #1 is slow before it reads the package records (a cold start, a slow HEAD of the sources);
    // Step Functions has meanwhile retried it as #2, which runs start to end first.
    const stateBucket = deps.stateBucket;
    const generations = stateBucket.packageGenerations.bind(stateBucket);
    let releaseFirst!: () => void;
    const firstMayRead = new Promise<void>((resolve) => {
      releaseFirst = resolve;
    });
    let calls = 0;
    let firstReached!: () => void;
    const reached = new Promise<void>((resolve) => {
      firstReached = resolve;
    });
    stateBucket.packageGenerations = async (id) => {
      if (id === deliveryId && calls++ === 0) {
        firstReached();
        await firstMayRead;
      }
      return generations(id);
    };
    let second: PreparedDelivery;
    try {
      const first = prepareDelivery(deps, request).then(
        (p) => ({ ok: true as const, p }),
        (error: unknown) => ({ ok: false as const, error }),
      );
      // #2 starts once #1 is held just before it reads the records.
      await reached;
      second = await prepareDelivery(deps, request);
      releaseFirst();
      await first;
    } finally {
      stateBucket.packageGenerations = generations;
    }
    // Step Functions goes on with #2's result.
    const result = await transferAndFinalize(deps, second).then(
      (r) => ({ ok: true, packageId: r.packageId }),
      (error: Error) => ({ ok: false, error: `${error.name}: ${error.message}` }),
    );
    expect(result).toEqual({ ok: true, packageId: second.package.id });
    expect(emulator.inspect.package(second.package.id)!.state).toBe('finalized');
  }, 60_000);
});
