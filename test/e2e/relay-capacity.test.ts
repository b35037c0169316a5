import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalRelay, type LocalRelayOptions } from '../../local/workflow/relay.js';
import { expectDelivered, KiB, relayObject, testRelayOptions } from '../helpers/local-relay.js';

let relay: LocalRelay | undefined;
afterEach(async () => {
  await relay?.close();
  relay = undefined;
});

async function start(overrides: LocalRelayOptions & { reserved?: number; mapConcurrency?: number }) {
  const { reserved = 20, mapConcurrency = 4, ...options } = overrides;
  relay = await LocalRelay.start(
    testRelayOptions({
      // Retry waits in milliseconds instead of seconds; attempts, backoff and jitter as deployed.
      waitScale: 0.001,
      fastRetries: false,
      ...options,
      config: {
        transfer: {
          partSizeMiB: 5,
          mapConcurrency,
          partConcurrency: 2,
          partsPerBatch: 2,
          transferReservedConcurrency: reserved,
        },
      },
    }),
  );
  return relay;
}

describe('e2e: transfer capacity (reserved concurrency enforced by the local runner)', () => {
  it('waits out throttles when the Map asks for more transfer Lambdas than are reserved', async () => {
    const r = await start({ reserved: 1, mapConcurrency: 4 });
    const { outcome, body, run } = await relayObject(r, 'capacity/one.mov', 2000 * KiB);
    await expectDelivered(r, outcome, body);
    // 2000 KiB in 256 KiB parts (TINY_SPEC), 2 parts a batch.
    expect(run.prepared!.batches.length).toBe(4);
    expect(r.lambdas.transfer.peakConcurrency).toBe(1);
    // The Map starts all 4 batches at once against 1 slot: at least 3 are throttled; how often the
    // retries are throttled again depends on the jittered backoff.
    expect(r.lambdas.transfer.throttles).toBeGreaterThanOrEqual(3);
    expect(run.events.some((e) => e.type === 'StateRetried' && e.state?.name === 'Transfer Batch')).toBe(
      true,
    );
  });

  it('delivers several deliveries at once through two reserved transfer Lambdas', async () => {
    const r = await start({ reserved: 2, mapConcurrency: 4 });
    const results = await Promise.all(
      [1, 2, 3].map((n) => relayObject(r, `capacity/burst-${n}.mov`, (600 + n * 300) * KiB)),
    );
    for (const { outcome, body } of results) await expectDelivered(r, outcome, body);
    expect(r.lambdas.transfer.peakConcurrency).toBeLessThanOrEqual(2);
    // The two deliveries of 3 batches each start them at once against 2 slots: one throttle each at
    // least; the rest depends on how the deliveries and the jittered retries overlap.
    expect(r.lambdas.transfer.throttles).toBeGreaterThanOrEqual(2);
  });

  it('retries a transfer Lambda that times out (Sandbox.Timedout) and still delivers byte-exact', async () => {
    const r = await start({
      transferTimeoutMs: 1_000,
      beforeTransfer: async (_event, invocation) => {
        if (invocation === 1) {
          await sleep(1_500);
          throw new Error('this sandbox was ended at its timeout');
        }
      },
    });
    const { outcome, body, run } = await relayObject(r, 'capacity/slow.mov', 700 * KiB);
    await expectDelivered(r, outcome, body);
    expect(r.lambdas.transfer.timeouts).toBe(1);
    expect(run.events.some((e) => e.type === 'StateFailed' && e.Error === 'Sandbox.Timedout')).toBe(true);
  });

  it('keeps each Map iteration output empty and reports history and peak state size', async () => {
    const r = await start({});
    const { outcome, run } = await relayObject(r, 'capacity/sizes.mov', 2000 * KiB);
    expect(outcome.status).toBe('SUCCEEDED');
    const iterations = run.events.filter((e) => e.type === 'MapIterationSucceeded').length;
    expect(iterations).toBe(run.prepared!.batches.length);
    // The planner's estimate, no retries: 20 events outside the Map + 4 batches × (4 + 9).
    expect(run.usage.historyEvents).toBe(72);
    // The request, the prepared delivery and Finalize's result; the Map's results add nothing.
    expect(run.usage.peakStateBytes).toBe(877);
    expect(run.usage.peakStateWhere).toBe('The output of state "Finalize"');
  });
});

/**
 * Abort ran from the status change: nothing is left in `new`. A package deleted has its failure
 * event; one finalized before the quota tripped stays delivered (never deleted), with its success.
 */
function expectSwept(r: LocalRelay, run: { deliveryId: string; prepared?: { package: { id: string } } }) {
  const state = r.emulator!.inspect.package(run.prepared!.package.id)?.state;
  const published = r.events.events
    .filter((e) => e.detail.deliveryId === run.deliveryId)
    .map((e) => e.detailType);
  if (state === 'finalized') expect(published).toEqual(['MASV Relay Delivery Succeeded']);
  else {
    expect(state).toBe('deleted');
    expect(published).toEqual(['MASV Relay Delivery Failed']);
  }
}

describe('e2e: quotas enforced on the real workflow (lowered so they trip cheaply)', () => {
  it('fails with States.DataLimitExceeded past every Catch: no Abort runs, as on AWS', async () => {
    const r = await start({ limits: { stateBytes: 800 } });
    const { outcome, run } = await relayObject(r, 'capacity/too-big-state.mov', 300 * KiB);
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'States.DataLimitExceeded' });
    expect((outcome as { cause: string }).cause).toMatch(/over the 800-byte/);
    expect(run.events.some((e) => e.state?.name === 'Abort')).toBe(false);
    // The stack's sweep rule runs Abort from the failed execution's status change instead.
    expectSwept(r, run);
  });

  it('fails an execution whose history passes the quota', async () => {
    const r = await start({ limits: { historyEvents: 40 } });
    const { outcome, run } = await relayObject(r, 'capacity/long-history.mov', 2000 * KiB);
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'States.Runtime' });
    expect(run.usage.historyEvents).toBeGreaterThan(40);
    expectSwept(r, run);
  });
});
