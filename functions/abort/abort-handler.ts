import type { Context } from 'aws-lambda';
import * as z from 'zod/mini';
import {
  type DeliveryRequest,
  type PreparedDelivery,
  parseWorkflowRequest,
  type Source,
  sourceSchema,
} from '../core/delivery/request.js';
import type { RelayDeps } from '../core/deps.js';
import { type AbortInput, abortDelivery } from '../core/steps/abort.js';
import { countDelivery, type Observability, wrapHandler } from '../handler-kit.js';
import { hasOutcome } from './outcome.js';

export interface AbortEvent {
  deliveryId: string;
  /** The workflow state when the error was caught: the request, maybe `prepared`, and `error`. */
  delivery: Record<string, unknown> & {
    prepared?: PreparedDelivery;
    error?: { Error?: string; Cause?: string };
  };
}

/**
 * EventBridge's "Step Functions Execution Status Change" event, as the sweep rule delivers it. With
 * a customer managed key (the relay's state machine has one) Step Functions leaves the input,
 * output, error and cause out of it; they are read with DescribeExecution (`executionArn`).
 */
export interface ExecutionEndedEvent {
  'detail-type': 'Step Functions Execution Status Change';
  detail: {
    executionArn?: string;
    name: string;
    status: string;
    input?: string | null;
    error?: string | null;
    cause?: string | null;
  };
}

/**
 * The status-change event with what the event left out (input, error, cause) read from the
 * execution itself. A failed read is thrown: the sweep's asynchronous invocation is retried, then
 * kept in its dead-letter queue, rather than publishing a failure without files or reason.
 */
export async function withExecutionDetails(
  deps: RelayDeps,
  event: ExecutionEndedEvent,
): Promise<ExecutionEndedEvent> {
  const { detail } = event;
  // The input is left out with the key (then so are error and cause) or when it is too large.
  if (detail.input || !detail.executionArn) return event;
  if (!deps.executions)
    throw new Error('Abort cannot read the execution: no DescribeExecution client in its dependencies.');
  const found = await deps.executions.describe(detail.executionArn);
  return {
    ...event,
    detail: {
      ...detail,
      input: detail.input || (found.input ?? null),
      error: detail.error ?? found.error ?? null,
      cause: detail.cause ?? found.cause ?? null,
    },
  };
}

/**
 * The sweep's event, completed from the execution only when the delivery has no outcome yet: the
 * execution name is the delivery id, and an aborted or delivered mark settles it without a read.
 */
export async function sweptEvent(deps: RelayDeps, event: ExecutionEndedEvent): Promise<ExecutionEndedEvent> {
  if (await hasOutcome(deps, event.detail.name)) return event;
  return withExecutionDetails(deps, event);
}

/**
 * The Abort step's input, from the workflow's Catch or from the sweep rule for an execution that
 * ended without reaching Abort (history or payload limit, execution timeout, stopped by hand).
 */
export function abortInputOf(event: AbortEvent | ExecutionEndedEvent): AbortInput {
  if ('detail-type' in event) {
    const { name, status, input, error, cause } = event.detail;
    const request = input ? requestOf(() => JSON.parse(input)) : undefined;
    return {
      deliveryId: name,
      sweep: true,
      ...(request ? { request } : {}),
      error: {
        Error:
          error ??
          (status === 'TIMED_OUT'
            ? 'States.Timeout'
            : `Execution${status[0]}${status.slice(1).toLowerCase()}`),
        Cause: cause ?? `The execution ended ${status} before its Abort step could run.`,
      },
    };
  }
  const { prepared, error, ...input } = event.delivery ?? {};
  const request = requestOf(() => input);
  return { deliveryId: event.deliveryId, ...(request ? { request } : {}), prepared, error };
}

/**
 * The workflow input as a delivery request. When the input is the failure (Prepare refused it),
 * the sources it names that are themselves well formed still get their failed tag and their place
 * in the failure event, so the owner learns which objects were not delivered.
 */
function requestOf(input: () => unknown): DeliveryRequest | undefined {
  let raw: unknown;
  try {
    raw = input();
    return parseWorkflowRequest(raw);
  } catch {
    const files = wellFormedSources(raw);
    return files.length > 0 ? { files } : undefined;
  }
}

function wellFormedSources(raw: unknown): Source[] {
  const fields = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const named = Array.isArray(fields.files)
    ? fields.files
    : typeof fields.bucket === 'string'
      ? [fields.key, ...(Array.isArray(fields.keys) ? fields.keys : [])]
          .filter((key) => key !== undefined)
          .map((key) => ({ bucket: fields.bucket, key }))
      : [];
  const sources = new Map<string, Source>();
  for (const candidate of named) {
    const source = z.safeParse(sourceSchema, candidate);
    if (source.success)
      sources.set(JSON.stringify([source.data.bucket, source.data.key, source.data.versionId]), source.data);
  }
  return [...sources.values()];
}

export function createAbortHandler(deps: () => Promise<RelayDeps>, observability: Observability) {
  return wrapHandler(observability, async (event: AbortEvent | ExecutionEndedEvent, _context: Context) => {
    const relayDeps = await deps();
    const complete = 'detail-type' in event ? await sweptEvent(relayDeps, event) : event;
    const result = await abortDelivery(relayDeps, abortInputOf(complete));
    if ('alreadyHandled' in result) return result;
    countDelivery(observability, result);
    return result;
  });
}
