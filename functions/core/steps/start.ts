import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { SQSRecord } from 'aws-lambda';
import { type DeliveryRequest, MAX_EXECUTION_INPUT_BYTES } from '../delivery/request.js';
import type { Logger } from '../deps.js';
import { DeliveryRequestError } from '../errors.js';
import {
  canonicalJson,
  outcomesFromPayload,
  type TriggerContext,
  type TriggerOrigin,
} from '../triggers/triggers.js';

/**
 * Starts one workflow execution. Resolves `false` when an execution of that name already exists
 * for the same request (a duplicate); rejects with {@link deliveryConflict}'s error when the name
 * is taken by a different request (a reused requestId), as Step Functions refuses a name reused
 * with other input.
 */
export type StartExecution = (name: string, input: DeliveryRequest) => Promise<boolean>;

/** The same delivery asked again: equal requests, whatever the order their files were listed in. */
export function sameDeliveryRequest(a: DeliveryRequest, b: DeliveryRequest): boolean {
  const canonical = (r: DeliveryRequest) =>
    canonicalJson({
      ...r,
      files: r.files
        ?.map((f) => canonicalJson(f))
        .sort()
        .map((f) => JSON.parse(f) as unknown),
    });
  return canonical(a) === canonical(b);
}

/** The error for a name taken by a different request: it goes to the DLQ or the caller, never dropped. */
export function deliveryConflict(name: string, input: DeliveryRequest): DeliveryRequestError {
  const what = input.requestId ? `requestId "${input.requestId}"` : 'this request’s identity';
  return new DeliveryRequestError(
    `The delivery ${name} already exists for a different request: ${what} was used before with other objects or package settings. This request was not delivered; send it with a new requestId (the earlier delivery is unaffected).`,
  );
}

export interface StartSummary {
  started: string[];
  duplicates: string[];
  skipped: string[];
}

/**
 * Start step for one trigger payload: every object becomes a delivery started under its
 * deterministic name; an execution that already exists means "already done or running".
 */
export async function startFromPayload(
  payload: unknown,
  startExecution: StartExecution,
  log: Logger,
  context?: TriggerContext,
  origin: TriggerOrigin = 'direct',
): Promise<StartSummary> {
  const summary: StartSummary = { started: [], duplicates: [], skipped: [] };
  for (const outcome of outcomesFromPayload(payload, context, origin)) {
    if (outcome.kind === 'skip') {
      log.info(`Skipped: ${outcome.reason}`);
      summary.skipped.push(outcome.reason);
      continue;
    }
    const input = { ...outcome.request, deliveryId: outcome.deliveryId };
    const bytes = Buffer.byteLength(JSON.stringify(input));
    // StartExecution refuses a larger input outright; say why and what to send instead.
    if (bytes > MAX_EXECUTION_INPUT_BYTES) {
      throw new DeliveryRequestError(
        `The delivery request is ${bytes} bytes as workflow input; Step Functions takes at most ${MAX_EXECUTION_INPUT_BYTES}. Name fewer or shorter keys, or deliver them by "prefix".`,
      );
    }
    if (await startExecution(outcome.deliveryId, input)) summary.started.push(outcome.deliveryId);
    else {
      log.info('Delivery already started (duplicate event)', { deliveryId: outcome.deliveryId });
      summary.duplicates.push(outcome.deliveryId);
    }
  }
  return summary;
}

/** The fields start reads of an SQS record (`eventSource*` may be absent in a direct invocation). */
type SqsRecordLike = Pick<SQSRecord, 'messageId' | 'body'> &
  Partial<Pick<SQSRecord, 'eventSource' | 'eventSourceARN'>>;

/**
 * Start step for one SQS message: its body is one trigger payload. Rejects when the message must
 * go back to the queue, after logging why.
 */
async function startFromSqsMessage(
  record: SqsRecordLike,
  startExecution: StartExecution,
  log: Logger,
  context?: TriggerContext,
): Promise<StartSummary> {
  try {
    let payload: unknown;
    try {
      payload = JSON.parse(record.body);
    } catch {
      throw new DeliveryRequestError(
        `SQS message ${record.messageId} is not JSON; send an S3 notification (directly or in an SNS envelope) or an EventBridge event.`,
      );
    }
    // The queue a message came from says who could have sent it (each queue's policy).
    const origin =
      context?.requestQueueArn !== undefined && record.eventSourceARN === context.requestQueueArn
        ? 'request-queue'
        : 'trigger-queue';
    return await startFromPayload(payload, startExecution, log, context, origin);
  } catch (error) {
    log.error(
      'Could not start a delivery from an SQS message; it stays on the queue for retry and then the DLQ',
      {
        messageId: record.messageId,
        error: (error as Error).name,
        reason: (error as Error).message,
      },
    );
    throw error;
  }
}

/**
 * Start step for an SQS batch. A message that fails, bad input included, is reported back
 * (partial batch failure), so SQS retries it and finally moves it to the DLQ — never silently
 * dropped. Messages go one at a time, so a duplicate within a batch meets the execution its
 * first copy started; a batch where every message fails is reported the same way, not thrown.
 */
export async function startFromSqs(
  records: SqsRecordLike[],
  startExecution: StartExecution,
  log: Logger,
  context?: TriggerContext,
): Promise<{ batchItemFailures: Array<{ itemIdentifier: string }> }> {
  const { batchItemFailures } = await processPartialResponse(
    { Records: records },
    (record: SqsRecordLike) => startFromSqsMessage(record, startExecution, log, context),
    // A processor per batch: it holds the state of the batch it is processing.
    new BatchProcessor(EventType.SQS),
    { processInParallel: false, throwOnFullBatchFailure: false },
  );
  // A batch without failures gets Powertools' one module-wide answer: copy it, so nothing that
  // handles this answer can change the next batch's.
  return { batchItemFailures: [...batchItemFailures] };
}

export function isSqsEvent(event: unknown): event is { Records: SqsRecordLike[] } {
  const records = (event as { Records?: Array<{ eventSource?: string }> } | null)?.Records;
  return Array.isArray(records) && records.length > 0 && records.every((r) => r.eventSource === 'aws:sqs');
}
