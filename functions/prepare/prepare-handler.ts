import type { Context } from 'aws-lambda';
import { parseWorkflowRequest } from '../core/delivery/request.js';
import type { RelayDeps } from '../core/deps.js';
import { DeliveryRequestError } from '../core/errors.js';
import { prepareDelivery } from '../core/steps/prepare.js';
import { type Observability, wrapHandler } from '../handler-kit.js';

export interface PrepareEvent {
  deliveryId: string;
  request: unknown;
}

export function createPrepareHandler(deps: () => Promise<RelayDeps>, observability: Observability) {
  return wrapHandler(observability, async (event: PrepareEvent, _context: Context) => {
    if (!event?.deliveryId)
      throw new DeliveryRequestError('Prepare needs deliveryId (the execution name) and request.');
    // After a restore wait the workflow state also holds Prepare's last answer (`prepared`): it is
    // not part of the request, only the count of checks made so far.
    let input = event.request;
    let round = 0;
    if (input && typeof input === 'object' && 'prepared' in input) {
      const { prepared, ...rest } = input as { prepared?: { restoring?: { round?: unknown } } };
      const previous = prepared?.restoring?.round;
      round = typeof previous === 'number' ? previous : 0;
      input = rest;
    }
    const request = parseWorkflowRequest(input);
    return prepareDelivery(await deps(), { ...request, deliveryId: event.deliveryId }, { round });
  });
}
