import type { Context } from 'aws-lambda';
import type { DeliveryRequest, PreparedDelivery } from '../core/delivery.js';
import type { RelayDeps } from '../core/deps.js';
import { RelayMetric } from '../core/metrics.js';
import { abortDelivery } from '../core/steps/abort.js';
import { type Observability, wrapHandler } from '../handler-kit.js';

export interface AbortEvent {
  deliveryId: string;
  /** The workflow state when the error was caught: the request, maybe `prepared`, and `error`. */
  delivery: DeliveryRequest & { prepared?: PreparedDelivery; error?: { Error?: string; Cause?: string } };
}

export function createAbortHandler(deps: () => Promise<RelayDeps>, observability: Observability) {
  return wrapHandler(observability, async (event: AbortEvent, _context: Context) => {
    const { prepared, error, ...request } = event.delivery ?? {};
    const result = await abortDelivery(await deps(), {
      deliveryId: event.deliveryId,
      request,
      prepared,
      error,
    });
    if (result.delivered) {
      observability.metrics?.addMetric(RelayMetric.deliveriesSucceeded, 'Count', 1);
      if (result.followUpFailures.length > 0)
        observability.metrics?.addMetric(
          RelayMetric.deliveryFollowUpFailures,
          'Count',
          result.followUpFailures.length,
        );
    } else observability.metrics?.addMetric(RelayMetric.deliveriesFailed, 'Count', 1);
    return result;
  });
}
