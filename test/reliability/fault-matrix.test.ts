import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FaultRule } from '../../local/emulator/faults.js';
import { processExit } from '../../local/workflow/lambda.js';
import { LocalRelay, type LocalRelayOptions } from '../../local/workflow/relay.js';
import { dropObject, KiB, testRelayOptions } from '../helpers/local-relay.js';
import { findSecrets, newTally, settleDelivery, summaryLine, tallyAudit } from './tally.js';

const tally = newTally();
const logs: string[] = [];
const relays: LocalRelay[] = [];

afterAll(async () => {
  const apiKeys = relays.map((r) => r.emulator!.accounts.apiKey);
  const requestLogs = relays.map((r) => JSON.stringify(r.emulator!.inspect.requests()));
  const events = relays.map((r) => JSON.stringify(r.events.events));
  for (const relay of relays) tallyAudit(relay, tally);
  await Promise.all(relays.map((r) => r.close()));
  console.log(summaryLine(tally));
  const everything = [...logs, ...requestLogs, ...events].join('\n');
  expect(findSecrets(everything, apiKeys[0] ?? 'emulator-api-key')).toEqual([]);
  expect(tally.corrupt).toBe(0);
  expect(tally.duplicate).toBe(0);
  expect(tally.orphaned).toBe(0);
  expect(tally.deletedAfterDelivery).toBe(0);
});

let shared: LocalRelay;
beforeAll(async () => {
  shared = await start();
});

async function start(options: LocalRelayOptions = {}) {
  const relay = await LocalRelay.start(
    testRelayOptions({ logSink: (line) => logs.push(line), emulator: { seed: 7 }, ...options }),
  );
  relays.push(relay);
  return relay;
}

/** Drops an object of `size` bytes with faults armed, relays it and settles the outcome. */
async function deliverWithFaults(relay: LocalRelay, key: string, size: number, faults: FaultRule[]) {
  relay.emulator!.faults.clear();
  for (const fault of faults) relay.emulator!.faults.add(fault);
  const { body, run } = await dropObject(relay, key, size);
  const outcome = await settleDelivery(relay, run, body, tally);
  const applied = relay.emulator!.faults.list().reduce((n, f) => n + f.applied, 0);
  relay.emulator!.faults.clear();
  return { outcome, run, applied };
}

describe('fault matrix: every delivery ends byte-exact or cleanly failed', () => {
  it('rides out bursts of MASV API 5xx on every route', async () => {
    const { outcome, applied } = await deliverWithFaults(shared, 'faults/api-5xx.bin', 900 * KiB, [
      { target: 'route:POST /v1/teams/{team_id}/packages', kind: 'status', status: 503, times: 2 },
      {
        target: 'route:POST /v1/packages/{package_id}/files/{file_id}',
        kind: 'status',
        status: 500,
        times: 3,
      },
      {
        target: 'route:POST /v1/packages/{package_id}/files/{file_id}/finalize',
        kind: 'status',
        status: 502,
        times: 2,
      },
      { target: 'route:POST /v1/packages/{package_id}/finalize', kind: 'status', status: 503, times: 1 },
    ]);
    expect(outcome.status).toBe('SUCCEEDED');
    expect(applied).toBe(8);
  });

  it('honours 429 with Retry-After and delivers', async () => {
    const { outcome, applied } = await deliverWithFaults(shared, 'faults/api-429.bin', 600 * KiB, [
      { target: 'api', kind: 'status', status: 429, retryAfter: '0', times: 3, skip: 1 },
    ]);
    expect(outcome.status).toBe('SUCCEEDED');
    expect(applied).toBe(3);
  });

  it('re-opens the source after storage connection resets mid-body', async () => {
    const { outcome, applied } = await deliverWithFaults(shared, 'faults/resets.bin', 1500 * KiB, [
      { target: 'storage-part', kind: 'reset', afterBytes: 100 * KiB, probability: 0.4 },
    ]);
    expect(outcome.status).toBe('SUCCEEDED');
    // The emulator's seed (7) fixes the draws: 3 PUTs are reset before the 6 parts are all stored.
    expect(applied).toBe(3);
  });

  it('backs off on 503 SlowDown from storage', async () => {
    const { outcome, applied } = await deliverWithFaults(shared, 'faults/slowdown.bin', 1200 * KiB, [
      { target: 'storage-part', kind: 'status', status: 503, times: 4 },
    ]);
    expect(outcome.status).toBe('SUCCEEDED');
    expect(applied).toBe(4);
  });

  it('asks for fresh blueprints when part URLs have expired', async () => {
    const { outcome, run } = await deliverWithFaults(shared, 'faults/expired-urls.bin', 1200 * KiB, [
      { target: 'storage-part', kind: 'expire-url', times: 5 },
    ]);
    expect(outcome.status).toBe('SUCCEEDED');
    const blueprintCalls = shared
      .emulator!.inspect.requests()
      .filter((r) => r.route === 'POST /v1/packages/{package_id}/files/{file_id}');
    expect(blueprintCalls.length).toBeGreaterThanOrEqual(run.prepared!.batches.length + 5);
  });

  it('refreshes an expired package token mid-delivery', async () => {
    const { outcome } = await deliverWithFaults(shared, 'faults/token.bin', 900 * KiB, [
      { target: 'route:POST /v1/packages/{package_id}/files/{file_id}', kind: 'expire-token', times: 1 },
      { target: 'route:POST /v1/packages/{package_id}/finalize', kind: 'expire-token', times: 1 },
    ]);
    expect(outcome.status).toBe('SUCCEEDED');
    const refreshes = shared
      .emulator!.inspect.requests()
      .filter((r) => r.route === 'GET /v1.1/teams/{team_id}/packages/{package_id}');
    expect(refreshes.length).toBeGreaterThanOrEqual(2);
  });

  it('stops early when slow storage nears the Lambda deadline and resumes from the ledger', async () => {
    const relay = await start({
      transferTimeoutMs: 30_400,
      config: { transfer: { partSizeMiB: 5, mapConcurrency: 2, partConcurrency: 1, partsPerBatch: 8 } },
    });
    const { outcome, run } = await deliverWithFaults(relay, 'faults/slow.bin', 2000 * KiB, [
      { target: 'storage-part', kind: 'latency', latencyMs: 150 },
    ]);
    expect(outcome.status).toBe('SUCCEEDED');
    expect(relay.transferInvocations).toBeGreaterThan(run.prepared!.batches.length);
    expect(relay.emulator!.inspect.counters().partRetries).toBe(0);
  });

  it('resumes a transfer Lambda that dies mid-batch after k parts, without re-sending them', async () => {
    let recorded = 0;
    const relay = await start({
      config: { transfer: { partSizeMiB: 5, mapConcurrency: 1, partConcurrency: 1, partsPerBatch: 8 } },
      onPart: () => {
        // The process exits mid-batch: Lambda answers Runtime.ExitError.
        if (++recorded === 3) throw processExit(1);
      },
    });
    const { outcome } = await deliverWithFaults(relay, 'faults/dies.bin', 2000 * KiB, []);
    expect(outcome.status).toBe('SUCCEEDED');
    expect(relay.transferInvocations).toBe(2);
    expect(relay.emulator!.inspect.counters().partsStored).toBe(8);
    expect(relay.emulator!.inspect.counters().partRetries).toBe(0);
  });

  it('fails cleanly with MasvServerError when 5xx outlast every retry, deleting the package', async () => {
    const { outcome, run } = await deliverWithFaults(shared, 'faults/hopeless.bin', 300 * KiB, [
      {
        target: 'route:POST /v1/packages/{package_id}/files/{file_id}/finalize',
        kind: 'status',
        status: 500,
      },
    ]);
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'MasvServerError' });
    expect(shared.emulator!.inspect.package(run.prepared!.package.id)?.state).toBe('deleted');
    const failure = shared.events.events.find((e) => e.detail.deliveryId === run.deliveryId);
    expect(failure).toMatchObject({
      detailType: 'MASV Relay Delivery Failed',
      detail: { error: 'MasvServerError', packageDeleted: true },
    });
  });

  it('fails cleanly when storage keeps refusing parts as expired', async () => {
    const { outcome } = await deliverWithFaults(shared, 'faults/always-expired.bin', 300 * KiB, [
      { target: 'storage-part', kind: 'expire-url' },
    ]);
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'PartUrlExpiredError' });
  });
});
