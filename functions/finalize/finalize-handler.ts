import type { Context } from 'aws-lambda';
import type { PreparedDelivery } from '../core/delivery/request.js';
import type { RelayDeps } from '../core/deps.js';
import { finalizeDelivery } from '../core/steps/finalize.js';
import { countDelivery, type Observability, wrapHandler } from '../handler-kit.js';

export function createFinalizeHandler(deps: () => Promise<RelayDeps>, observability: Observability) {
  return wrapHandler(observability, async (event: PreparedDelivery, _context: Context) => {
    const result = await finalizeDelivery(await deps(), event);
    countDelivery(observability, { delivered: true, followUpFailures: result.followUpFailures });
    return result;
  });
}
