import { LocalRelay } from '../local/workflow/relay.js';
import { putSourceBytes } from './source.js';

const SPEC_ROUTE = 'GET /v1/system/packages/spec';

/**
 * P3: MASV API calls for one file of a 1,000-part plan, from the emulator's own counters. The
 * spec is fetched once per Lambda container and cached, so it is reported but not charged per file.
 */
export async function benchApiEconomy(options: { parts: number; partsPerBatch: number }) {
  const partSize = 64 * 1024;
  const relay = await LocalRelay.start({
    // The 1 s `Take Turn` pause is ~3 % of a 20-part batch on AWS but a large share of these short
    // local invocations: scale the workflow's waits (structure unchanged) to measure the relay itself.
    waitScale: 0.001,
    emulator: {
      port: 0,
      spec: { min_chunk_size: partSize, max_chunk_size: partSize, max_chunk_count: 10_000 },
    },
    config: {
      transfer: {
        partSizeMiB: 5,
        mapConcurrency: 8,
        partConcurrency: 4,
        partsPerBatch: options.partsPerBatch,
      },
    },
  });
  try {
    const size = options.parts * partSize;
    const etag = await putSourceBytes(relay, 'bench/api-economy.bin', size);
    relay.emulator!.inspect.resetCounters();
    const summary = (await relay.trigger(relay.objectCreatedEvent('bench/api-economy.bin', etag, size))) as {
      started: string[];
    };
    const outcome = await relay.deliveries.get(summary.started[0]!)!.result;
    if (outcome.status !== 'SUCCEEDED') throw new Error(`api-economy delivery failed: ${outcome.error}`);
    const counters = relay.emulator!.inspect.counters();
    const specCalls = counters.apiCalls[SPEC_ROUTE] ?? 0;
    const callsPerFile = counters.apiCallsTotal - specCalls;
    const batches = Math.ceil(options.parts / options.partsPerBatch);
    return {
      parts: options.parts,
      partsPerBatch: options.partsPerBatch,
      batches,
      callsPerFile,
      // The target, as written: parts / batch size + 4.
      limit: options.parts / options.partsPerBatch + 4,
      byRoute: counters.apiCalls,
      specCallsCached: specCalls,
    };
  } finally {
    await relay.close();
  }
}
