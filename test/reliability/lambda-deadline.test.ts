import { afterAll, describe, expect, it } from 'vitest';
import { LocalRelay } from '../../local/workflow/relay.js';
import { KiB, relayObject, testRelayOptions } from '../helpers/local-relay.js';

/**
 * Regression test from the review of issue 10 ("a Lambda timeout" is a commit point the workflow
 * must survive). The handlers are wrapped in middy, which by default gives up 5 ms before the Lambda
 * deadline with an error named `TimeoutError` — in AWS that error, not `Sandbox.Timedout`, is what
 * Step Functions sees. The Retry lists named only `Sandbox.Timedout`/`States.Timeout`, so a step
 * that ran out of time was not retried and the delivery was aborted. They name `TimeoutError` too
 * now; this test guards that a batch cut off by its deadline is run again.
 */
const relays: LocalRelay[] = [];
afterAll(async () => {
  await Promise.all(relays.map((r) => r.close()));
});

describe('a Lambda that reaches its deadline is retried, as the Retry lists intend', () => {
  it('Transfer: one slow part PUT runs past the deadline, the batch is run again and delivers', async () => {
    const relay = await LocalRelay.start(testRelayOptions({ transferTimeoutMs: 2000 }));
    relays.push(relay);
    // The part PUT stalls (a slow network); the invocation reaches its deadline mid-part.
    relay.emulator!.faults.add({ target: 'storage-part', kind: 'latency', latencyMs: 4000, times: 1 });
    const { outcome, run } = await relayObject(relay, 'break/slow-part.bin', 200 * KiB);
    const failures = run.events
      .filter((e) => e.type === 'StateFailed')
      .map((e) => (e as { Error?: string }).Error);
    // What the workflow saw when the deadline hit, and how the delivery ended:
    expect({ firstFailure: failures[0], status: outcome.status }).toEqual({
      firstFailure: expect.stringMatching(/^(Sandbox\.Timedout|States\.Timeout|TimeoutError)$/),
      status: 'SUCCEEDED',
    });
  }, 60_000);
});
