import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { ExecutionOutcome } from '../../local/limited-execution.js';
import { LocalRelay, type LocalRelayOptions } from '../../local/relay.js';
import { deliveredPackage, KiB, relayObject, testRelayOptions } from '../helpers/local-relay.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

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

async function expectDelivered(r: LocalRelay, outcome: ExecutionOutcome, body: Buffer) {
  if (outcome.status !== 'SUCCEEDED') throw new Error(`delivery failed: ${outcome.error}: ${outcome.cause}`);
  const pkg = deliveredPackage(r, (outcome.output as { packageId: string }).packageId);
  await expect(r.emulator!.inspect.fileSha256(pkg.files[0]!.id)).resolves.toBe(sha256(body));
}

describe('e2e: transfer capacity (reserved concurrency enforced by the local runner)', () => {
  it('waits out throttles when the Map asks for more transfer Lambdas than are reserved', async () => {
    const r = await start({ reserved: 1, mapConcurrency: 4 });
    const { outcome, body, run } = await relayObject(r, 'capacity/one.mov', 2000 * KiB);
    await expectDelivered(r, outcome, body);
    expect(run.prepared!.batches.length).toBeGreaterThan(1);
    expect(r.lambdas.transfer.peakConcurrency).toBe(1);
    expect(r.lambdas.transfer.throttles).toBeGreaterThan(0);
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
    expect(r.lambdas.transfer.throttles).toBeGreaterThan(0);
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
    expect(run.usage.historyEvents).toBeGreaterThan(iterations * 8);
    expect(run.usage.peakStateBytes).toBeGreaterThan(0);
    expect(run.usage.peakStateWhere).not.toMatch(/aggregated/);
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
