import type { Context } from 'aws-lambda';
import { parseWorkflowRequest } from '../core/delivery.js';
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
    const request = parseWorkflowRequest(event.request);
    return prepareDelivery(await deps(), { ...request, deliveryId: event.deliveryId });
  });
}
