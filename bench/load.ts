import { LocalRelay } from '../local/workflow/relay.js';
import { burstRelayOptions, runBurst } from '../test/load/burst.js';

const MiB = 1024 * 1024;

export interface LoadBenchOptions {
  /** Deliveries dropped at once. */
  deliveries: number;
  /** Transfer reserved concurrency (the shared slots). */
  reservedConcurrency: number;
  /** Size of the single delivery the burst is compared with. */
  singleMiB: number;
}

/**
 * Load: one delivery alone, then `deliveries` dropped at once, on the same stand-ins and settings
 * (1 MiB parts, 10 batches in flight per delivery, `reservedConcurrency` transfer slots, Retry and
 * Wait seconds scaled to centiseconds). Reports aggregate MiB/s of each and the longest time a
 * delivery of the burst waited before its first part.
 */
export async function benchLoad(options: LoadBenchOptions) {
  const settings = { deliveries: options.deliveries, reservedConcurrency: options.reservedConcurrency };
  const relay = await LocalRelay.start(burstRelayOptions(settings));
  try {
    const single = await runBurst({ ...settings, deliveries: 1, sizes: [options.singleMiB * MiB], relay });
    const burst = await runBurst({ ...settings, relay });
    const rate = (r: { bytes: number; seconds: number }) => r.bytes / MiB / r.seconds;
    return {
      deliveries: burst.deliveries,
      reservedConcurrency: options.reservedConcurrency,
      singleMiB: options.singleMiB,
      singleMiBps: rate(single),
      burstMiB: burst.bytes / MiB,
      burstMiBps: rate(burst),
      burstSeconds: burst.seconds,
      longestFirstPartWaitSeconds: burst.longestFirstPartWaitSeconds,
      peakTransferConcurrency: Math.max(single.peakTransferConcurrency, burst.peakTransferConcurrency),
      throttles: burst.throttles,
      delivered: burst.delivered,
      failed: burst.failed + single.failed,
    };
  } finally {
    await relay.close();
  }
}
