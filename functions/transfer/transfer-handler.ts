import type { Context } from 'aws-lambda';
import type { RelayDeps } from '../core/deps.js';
import { RelayMetric } from '../core/metrics.js';
import { type TransferInput, transferBatch } from '../core/steps/transfer.js';
import { type Observability, wrapHandler } from '../handler-kit.js';

export function createTransferHandler(deps: () => Promise<RelayDeps>, observability: Observability) {
  return wrapHandler(observability, async (event: TransferInput, context: Context) => {
    const d = await deps();
    const result = await transferBatch(d, event, {
      partConcurrency: d.config.transfer.partConcurrency,
      remainingMs: () => context.getRemainingTimeInMillis(),
    });
    observability.metrics?.addMetric(RelayMetric.bytesRelayed, 'Bytes', result.bytes);
    observability.metrics?.addMetric(RelayMetric.partsUploaded, 'Count', result.partsUploaded);
    observability.metrics?.addMetric(RelayMetric.partRetries, 'Count', result.partRetries);
    return result;
  });
}
