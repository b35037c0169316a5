import type { Context } from 'aws-lambda';
import type { PreparedDelivery } from '../core/delivery.js';
import type { RelayDeps } from '../core/deps.js';
import { RelayMetric } from '../core/metrics.js';
import { finalizeDelivery } from '../core/steps/finalize.js';
import { type Observability, wrapHandler } from '../handler-kit.js';

export function createFinalizeHandler(deps: () => Promise<RelayDeps>, observability: Observability) {
  return wrapHandler(observability, async (event: PreparedDelivery, _context: Context) => {
    const result = await finalizeDelivery(await deps(), event);
    observability.metrics?.addMetric(RelayMetric.deliveriesSucceeded, 'Count', 1);
    if (result.followUpFailures.length > 0)
      observability.metrics?.addMetric(
        RelayMetric.deliveryFollowUpFailures,
        'Count',
        result.followUpFailures.length,
      );
    return result;
  });
}
