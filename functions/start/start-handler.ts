import type { Context } from 'aws-lambda';
import { isSqsEvent, type StartExecution, startFromPayload, startFromSqs } from '../core/steps/start.js';
import { type Observability, wrapHandler } from '../handler-kit.js';

/**
 * Start: SQS batches (partial batch failures), or a direct invocation with an S3 notification,
 * an EventBridge event or a relay request.
 */
export function createStartHandler(
  startExecution: () => Promise<StartExecution>,
  observability: Observability,
) {
  return wrapHandler(observability, async (event: unknown, _context: Context) => {
    const start = await startExecution();
    if (isSqsEvent(event)) return startFromSqs(event.Records, start, observability.logger);
    return startFromPayload(event, start, observability.logger);
  });
}
