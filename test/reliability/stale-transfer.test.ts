import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PreparedDelivery } from '../../functions/core/delivery/request.js';
import type { RelayDeps } from '../../functions/core/deps.js';
import { finalizeDelivery } from '../../functions/core/steps/finalize.js';
import { prepareDelivery } from '../../functions/core/steps/prepare.js';
import { transferBatch } from '../../functions/core/steps/transfer.js';
import { LocalRelay, SOURCE_BUCKET } from '../../local/workflow/relay.js';
import { depsOf, KiB, putSource, testRelayOptions } from '../helpers/local-relay.js';

/**
 * Regression tests from the review of issue 10: "two overlapping invocations of the same step (a Lambda
 * retried while the first is still running) cannot ... finalize with a different package's parts".
 *
 * MASV's storage encrypts with SSE-KMS, so two PUTs of the same bytes get different ETags. A
 * Transfer invocation (X) PUTs part 1 and is slow to record it; Step Functions has already run
 * the batch again (Y), which PUTs part 1 again (storage keeps Y's copy) and records it. X's record
 * lands last. The ledger keeps "the latest record", X's ETag, which storage no longer holds.
 */
let relay: LocalRelay;
beforeAll(async () => {
  relay = await LocalRelay.start(
    testRelayOptions({ emulator: { seed: 9, settings: { storageEncryption: 'SSE-KMS' } } }),
  );
});
afterAll(async () => {
  await relay.close();
});

const transfer = (deps: RelayDeps, prepared: PreparedDelivery) =>
  transferBatch(
    deps,
    {
      deliveryId: prepared.deliveryId,
      packageId: prepared.package.id,
      file: prepared.files[0]!,
      batch: prepared.batches[0]!,
    },
    { partConcurrency: 1, remainingMs: () => 600_000 },
  );

describe('a stale Transfer invocation overlapping its retry', () => {
  it('cannot make Finalize send a part ETag that storage no longer holds', async () => {
    const deps = depsOf(relay);
    const key = 'break/stale-transfer.bin';
    const { body } = await putSource(relay, key, 200 * KiB);
    const prepared = await prepareDelivery(deps, {
      deliveryId: 'break-stale-transfer',
      files: [{ bucket: SOURCE_BUCKET, key }],
    });
    expect(prepared.batches).toHaveLength(1);

    const stateBucket = deps.stateBucket;
    const recordPart = stateBucket.recordPart.bind(stateBucket);
    let releaseX!: () => void;
    const xMayRecord = new Promise<void>((resolve) => {
      releaseX = resolve;
    });
    let xReachedRecord!: () => void;
    const xUploaded = new Promise<void>((resolve) => {
      xReachedRecord = resolve;
    });
    let calls = 0;
    stateBucket.recordPart = async (deliveryId, fileIndex, part, storedAt) => {
      if (calls++ === 0) {
        xReachedRecord();
        await xMayRecord;
      }
      return recordPart(deliveryId, fileIndex, part, storedAt);
    };
    try {
      const x = transfer(deps, prepared);
      await xUploaded;
      await transfer(deps, prepared); // Y: the retry, start to end
      await new Promise((resolve) => setTimeout(resolve, 20));
      releaseX();
      await x;
    } finally {
      stateBucket.recordPart = recordPart;
    }

    const result = await finalizeDelivery(deps, prepared).then(
      (r) => ({ ok: true, packageId: r.packageId }),
      (error: Error) => ({ ok: false, error: `${error.name}: ${error.message}` }),
    );
    expect(result).toEqual({ ok: true, packageId: prepared.package.id });
    const pkg = relay.emulator!.inspect.package(prepared.package.id)!;
    const { createHash } = await import('node:crypto');
    expect(await relay.emulator!.inspect.fileSha256(pkg.files[0]!.id)).toBe(
      createHash('sha256').update(body).digest('hex'),
    );
  }, 60_000);
});
