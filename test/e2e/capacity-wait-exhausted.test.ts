import { afterEach, describe, expect, it } from 'vitest';
import { LocalRelay } from '../../local/workflow/relay.js';
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
        // Transfer's throttle retrier: 5 s first wait → 0.25 ms, 3,600 s cap → 180 ms; attempts,
        // backoff and jitter as deployed.
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
    // Another delivery's invocation holds the only slot for longer than the retrier waits.
    transfer.running = 1;
    try {
      // 40 parts of 256 KiB (TINY_SPEC max part size), one part per batch: 40 batches.
      const { outcome, run } = await relayObject(r, 'burst/queued.mov', 40 * 256 * KiB);
      const packageId = run.prepared?.package.id;
      expect(outcome.status).toBe('FAILED');
      expect(r.emulator!.inspect.package(packageId!)?.state).toBe('deleted');
      const failure = r.events.events.find((e) => e.detailType === 'MASV Relay Delivery Failed');
      expect(failure?.detail).toMatchObject({ deliveryId: run.deliveryId, packageDeleted: true });
    } finally {
      transfer.running = 0;
    }
  }, 240_000);
});
