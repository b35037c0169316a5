import { afterEach, describe, expect, it } from 'vitest';
import { LocalRelay } from '../../local/relay.js';
import { KiB, relayObject, testRelayOptions } from '../helpers/local-relay.js';

/**
 * From the review of issue 12: a delivery held back by a busy transfer function for longer than
 * its throttle retrier waits (about a day) must not be left half-done. The retrier's last refusal
 * reaches the Map's Catch, Abort deletes the package and a failure event says why; had the history
 * quota run out first, the stack's sweep rule would have done the same from the execution's
 * status change (test/e2e/relay-capacity.test.ts).
 */
let relay: LocalRelay | undefined;
afterEach(async () => {
  await relay?.close();
  relay = undefined;
});

describe('a delivery that waits for capacity longer than its throttle retrier', () => {
  it('fails cleanly: its package is deleted and the failure published', async () => {
    const r = await LocalRelay.start(
      testRelayOptions({
        // 300 s cap → 15 ms; attempts, backoff and jitter as deployed.
        waitScale: 0.00005,
        fastRetries: false,
        config: {
          transfer: {
            partSizeMiB: 5,
            mapConcurrency: 40,
            partConcurrency: 2,
            partsPerBatch: 1,
            transferReservedConcurrency: 1,
          },
        },
      }),
    );
    relay = r;
    const transfer = r.lambdas.transfer;
    // Another delivery's long invocation holds the only slot.
    transfer.running = 1;
    // ~20 hours of waiting: 40 iterations × 24 polls an hour × 20 h (the doc's own rate).
    const releaseAfterThrottles = 40 * 24 * 20;
    const watcher = setInterval(() => {
      if (transfer.running >= 1 && transfer.throttles >= releaseAfterThrottles) transfer.running -= 1;
    }, 5);
    try {
      // 40 parts of 256 KiB (TINY_SPEC max part size), one part per batch: 40 batches.
      const { outcome, run } = await relayObject(r, 'burst/queued.mov', 40 * 256 * KiB);
      const packageId = run.prepared?.package.id;
      expect(outcome.status).toBe('FAILED');
      expect(r.emulator!.inspect.package(packageId!)?.state).toBe('deleted');
      const failure = r.events.events.find((e) => e.detailType === 'MASV Relay Delivery Failed');
      expect(failure?.detail).toMatchObject({ deliveryId: run.deliveryId, packageDeleted: true });
    } finally {
      clearInterval(watcher);
      transfer.running = 0;
    }
  }, 240_000);
});
