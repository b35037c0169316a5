import { afterEach, describe, expect, it } from 'vitest';
import { throttled } from '../../local/workflow/aws-limits.js';
import { LocalRelay } from '../../local/workflow/relay.js';
import { KiB, relayObject, testRelayOptions } from '../helpers/local-relay.js';

/**
 * Reviewer's break test (issue 12: "nothing is aborted for lack of capacity"). Only the transfer
 * function waited out Lambda throttles for long; Finalize retried `Lambda.TooManyRequestsException`
 * 4 times (≈ 30 s) and Prepare 3 times, though Prepare, Finalize and Abort run on the account's
 * unreserved concurrency, which a burst (or anything else in the account) can exhaust for longer.
 * Abort then deleted a package whose bytes were all sent: aborted for lack of capacity. Now
 * Prepare, Finalize and Abort wait out throttles for about two hours; here Lambda refuses the
 * first 6 Finalize invocations (one minute of account-wide throttling at the deployed retry
 * timing), as it would when the account is at its concurrency quota, and the package must still
 * be finalized.
 */
let relay: LocalRelay | undefined;
afterEach(async () => {
  await relay?.close();
  relay = undefined;
});

describe('break1112: a throttled Finalize', () => {
  it('waits for capacity instead of deleting a fully uploaded package', async () => {
    const r = await LocalRelay.start(testRelayOptions({ waitScale: 0.001, fastRetries: false }));
    relay = r;
    const finalize = r.lambdas.finalize;
    const invoke = finalize.invoke.bind(finalize);
    let refused = 0;
    finalize.invoke = async (event: unknown) => {
      if (refused < 6) {
        refused++;
        throw throttled('masv-relay-finalize', 0);
      }
      return invoke(event);
    };
    const { outcome, run } = await relayObject(r, 'account-busy/clip.mov', 700 * KiB);
    const pkg = r.emulator!.inspect.package(run.prepared!.package.id);
    expect(
      { status: outcome.status, packageState: pkg?.state },
      `Finalize refused ${refused} times; ${JSON.stringify(outcome).slice(0, 200)}`,
    ).toEqual({ status: 'SUCCEEDED', packageState: 'finalized' });
  }, 120_000);
});
