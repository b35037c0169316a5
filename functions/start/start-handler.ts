import type { Context } from 'aws-lambda';
import { isSqsEvent, type StartExecution, startFromPayload, startFromSqs } from '../core/steps/start.js';
import { isBatchOperationsEvent, startFromBatchOperations } from '../core/triggers/batch-operations.js';
import type { TriggerContext } from '../core/triggers/triggers.js';
import { type Observability, wrapHandler } from '../handler-kit.js';

/**
 * Start: SQS batches (partial batch failures), S3 Batch Operations invocations (a result per
 * task), or a direct invocation with an S3 notification, an SNS record, an EventBridge event or a
 * relay request. The trigger context (configuration, source bucket) applies folder rules and the
 * checks of who may ask; without it every object is a delivery of its own.
 */
export function createStartHandler(
  startExecution: () => Promise<StartExecution>,
  observability: Observability,
  triggerContext: () => Promise<TriggerContext | undefined> = async () => undefined,
) {
  return wrapHandler(observability, async (event: unknown, _context: Context) => {
    const [start, context] = await Promise.all([startExecution(), triggerContext()]);
    const log = observability.logger;
    if (isSqsEvent(event)) return startFromSqs(event.Records, start, log, context);
    if (isBatchOperationsEvent(event)) return startFromBatchOperations(event, start, log, context);
    return startFromPayload(event, start, log, context);
  });
}
