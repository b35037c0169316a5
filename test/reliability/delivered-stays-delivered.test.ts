import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetworkError } from '../../functions/core/errors.js';
import type { StateBucket } from '../../functions/core/state/state-bucket.js';
import { runtimeExited } from '../../local/workflow/aws-limits.js';
import { processExit } from '../../local/workflow/lambda.js';
import { LocalRelay } from '../../local/workflow/relay.js';
import {
  depsOf,
  FILE_FINALIZE_REFUSED_ONCE,
  KiB,
  relayObject,
  testRelayOptions,
} from '../helpers/local-relay.js';
import { auditPackages } from './tally.js';

/**
 * Regression tests from the review of issue 10: "a finalized package is never deleted by the relay" and
 * "once the package is finalized the delivery is a success". Each drives the real workflow.
 */
let relay: LocalRelay;
beforeAll(async () => {
  relay = await LocalRelay.start(testRelayOptions({ emulator: { seed: 5 } }));
});
afterAll(async () => {
  await relay.close();
});

const deliver = (key: string) => relayObject(relay, key, 200 * KiB);

/**
 * Makes one listing of the state bucket fail once with SlowDown, and only once Abort has begun;
 * `failed` says whether it did, `restore` undoes it.
 */
function listingFailsOnceInAbort<L extends 'marks' | 'packageGenerations'>(listing: L) {
  const stateBucket = depsOf(relay).stateBucket;
  const original = stateBucket[listing];
  const list = (original as (deliveryId: string) => Promise<unknown>).bind(stateBucket);
  const abortInvoke = relay.lambdas.abort.invoke.bind(relay.lambdas.abort);
  let inAbort = false;
  relay.lambdas.abort.invoke = async (event) => {
    inAbort = true;
    return abortInvoke(event);
  };
  const fault = {
    failed: false,
    restore: () => {
      stateBucket[listing] = original;
      relay.lambdas.abort.invoke = abortInvoke;
    },
  };
  const failingOnce = async (deliveryId: string) => {
    if (inAbort && !fault.failed) {
      fault.failed = true;
      throw new NetworkError("The relay's state bucket relay-state failed transiently: SlowDown.");
    }
    return list(deliveryId);
  };
  stateBucket[listing] = failingOnce as StateBucket[L];
  return fault;
}

describe('Abort never deletes a finalized package', () => {
  it('even when the state bucket cannot list the finalize marks once (S3 503 on that prefix)', async () => {
    const stateBucket = depsOf(relay).stateBucket;
    const mark = stateBucket.mark.bind(stateBucket);
    // The state bucket is throttling: Finalize cannot write its "package-finalized" marker (after
    // MASV finalized the package), so the workflow ends in Abort ...
    stateBucket.mark = async (deliveryId, which) => {
      if (which === 'package-finalized')
        throw new NetworkError("The relay's state bucket relay-state failed transiently: SlowDown.");
      return mark(deliveryId, which);
    };
    // ... and in Abort one more listing of the same prefix fails the same way.
    const marksListing = listingFailsOnceInAbort('marks');
    try {
      const { run } = await deliver('break/abort-marks.bin');
      expect(marksListing.failed).toBe(true);
      const packageId = run.prepared!.package.id;
      const pkg = relay.emulator!.inspect.package(packageId)!;
      // MASV finalized it (recipients were notified) ...
      expect(pkg.stateChanges.map((c) => c.to)).toContain('finalized');
      // ... so the relay must never take it back.
      expect(auditPackages(relay).deletedAfterDelivery).toEqual([]);
      expect(pkg.state).toBe('finalized');
    } finally {
      stateBucket.mark = mark;
      marksListing.restore();
    }
  });
});

/** The package reached its recipients: finalized, no failure event, no failed execution. */
function expectSucceeded({ run, outcome }: Awaited<ReturnType<typeof deliver>>) {
  const packageId = run.prepared!.package.id;
  expect(relay.emulator!.inspect.package(packageId)!.state).toBe('finalized');
  const failed = relay.events.events.filter(
    (e) => e.detailType === 'MASV Relay Delivery Failed' && e.detail.deliveryId === run.deliveryId,
  );
  expect(failed.map((e) => e.detail.error)).toEqual([]);
  expect(outcome.status).toBe('SUCCEEDED');
}

describe('a delivered package stays a success', () => {
  it('when Finalize times out while clearing the records and Step Functions runs it again', async () => {
    const stateBucket = depsOf(relay).stateBucket;
    const clear = stateBucket.clear.bind(stateBucket);
    const finalize = relay.lambdas.finalize;
    const timeoutMs = finalize.options.timeoutMs;
    // A big delivery: clearing thousands of ledger keys takes the rest of the Lambda's time. The
    // DeleteObjects calls commit, then the deadline hits. (Locally, as in AWS, middy answers
    // "TimeoutError" 5 ms before the deadline; with Sandbox.Timedout Finalize is retried instead,
    // finds no package record and fails the same way.)
    (finalize.options as { timeoutMs: number }).timeoutMs = 4000;
    let slowClears = 0;
    stateBucket.clear = async (deliveryId, keep) => {
      await clear(deliveryId, keep);
      if (slowClears++ === 0) await new Promise((resolve) => setTimeout(resolve, 6000));
    };
    try {
      const delivery = await deliver('break/finalize-rerun.bin');
      // The rerun finds the delivery remembered and returns before clearing again.
      expect(slowClears).toBe(1);
      expectSucceeded(delivery);
    } finally {
      stateBucket.clear = clear;
      (finalize.options as { timeoutMs: number }).timeoutMs = timeoutMs;
    }
  }, 60_000);

  it('when the Finalize answer is lost after it completed (killed for memory) and Step Functions retries it', async () => {
    const finalize = relay.lambdas.finalize;
    const invoke = finalize.invoke.bind(finalize);
    let lost = 0;
    finalize.invoke = async (event) => {
      const output = await invoke(event);
      // The process is killed for memory before Lambda sends the answer: Runtime.ExitError.
      if (lost === 0 && ++lost) throw runtimeExited('finalize-request', 'signal: killed');
      return output;
    };
    try {
      const delivery = await deliver('break/finalize-unknown.bin');
      expect(lost).toBe(1);
      expectSucceeded(delivery);
    } finally {
      finalize.invoke = invoke;
    }
  });
});

describe('a Lambda that dies is run again, not aborted', () => {
  it('when Finalize crashes before it finalizes (Runtime.ExitError): retried, the package delivered', async () => {
    const stateBucket = depsOf(relay).stateBucket;
    const mark = stateBucket.mark.bind(stateBucket);
    let crashes = 0;
    // The process exits right before the finalize call: Lambda answers Runtime.ExitError, which
    // Step Functions passes through as the Task's error.
    stateBucket.mark = async (deliveryId, which) => {
      if (which === 'package-finalizing' && crashes++ === 0) throw processExit(1);
      return mark(deliveryId, which);
    };
    try {
      const delivery = await deliver('break/finalize-crash.bin');
      expect(crashes).toBe(2);
      const retried = delivery.run.events.find(
        (e) => e.type === 'StateRetried' && e.state?.name === 'Finalize',
      );
      expect(retried).toBeDefined();
      expect(delivery.run.events.some((e) => e.state?.name === 'Abort')).toBe(false);
      expectSucceeded(delivery);
    } finally {
      stateBucket.mark = mark;
    }
  });
});

describe('Abort keeps the package record until the delete is confirmed', () => {
  it('when the state bucket cannot list the package records once, nothing is left in new', async () => {
    const emulator = relay.emulator!;
    emulator.faults.add(FILE_FINALIZE_REFUSED_ONCE);
    const stateBucket = depsOf(relay).stateBucket;
    const recordsListing = listingFailsOnceInAbort('packageGenerations');
    try {
      const { run, outcome } = await deliver('break/abort-generations.bin');
      expect(recordsListing.failed).toBe(true);
      expect(outcome.status).toBe('FAILED');
      const packageId = run.prepared!.package.id;
      const record = await stateBucket.loadPackage(run.deliveryId);
      // Either the failed package was deleted, or its record is kept so a retry or sweep can.
      const state = emulator.inspect.package(packageId)!.state;
      const recordKept = record?.packageId === packageId;
      expect(state === 'deleted' || recordKept, JSON.stringify({ state, recordKept })).toBe(true);
    } finally {
      emulator.faults.clear();
      recordsListing.restore();
    }
  });
});
