import { describe, expect, it } from 'vitest';
import { runBurst, summaryLine } from './burst.js';

describe('load: a burst of deliveries against a small reserved concurrency', () => {
  it('delivers every object byte-exact, queueing throttled transfers instead of failing', async () => {
    const report = await runBurst({ deliveries: 12, reservedConcurrency: 2, mapConcurrency: 4 });
    expect(report.failures).toEqual([]);
    expect(summaryLine(report)).toBe(
      'load: 12 deliveries at once, 12 delivered, 0 failed, 0 duplicate, 0 orphaned, ' +
        `peak transfer concurrency ${report.peakTransferConcurrency} (limit 2)`,
    );
    expect(report.peakTransferConcurrency).toBeLessThanOrEqual(2);
    // The demand (12 deliveries × up to 4 batches) was far above 2, so Lambda throttled for real.
    expect(report.throttles).toBeGreaterThan(0);
  }, 180_000);
});
