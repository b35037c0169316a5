import type {
  S3BatchEvent,
  S3BatchEventJob,
  S3BatchEventTask,
  S3BatchResult,
  S3BatchResultResultCode,
} from 'aws-lambda';
import { splitRecipients } from '../delivery/package-settings.js';
import { normalizeRelayRequest, type PackageOverrides } from '../delivery/request.js';
import type { Logger } from '../deps.js';
import { DeliveryRequestError, isNetworkFailure, RelayError } from '../errors.js';
import { statusOf } from '../sdk-errors.js';
import type { StartExecution } from '../steps/start.js';
import { folderRuleFor, markerFolder, requireFolderInsideRule } from './folder-marker.js';
import {
  decodeS3NotificationKey,
  deliveryIdFor,
  requireAllowedAddresses,
  requireSourceBucket,
  type TriggerContext,
} from './triggers.js';

/**
 * One object of an S3 Batch Operations job, as it may arrive: schema 1.0 names the bucket by ARN
 * (the shape `@types/aws-lambda` describes), 2.0 by name; every field but the id is checked.
 */
export type BatchOperationsTask = Partial<S3BatchEventTask> & { taskId: string; s3Bucket?: string };

/** The event S3 Batch Operations sends for its "Invoke AWS Lambda function" operation. */
export interface BatchOperationsEvent extends Omit<S3BatchEvent, 'job' | 'tasks'> {
  job: S3BatchEventJob & { userArguments?: Record<string, string> | null };
  tasks: BatchOperationsTask[];
}

export function isBatchOperationsEvent(event: unknown): event is BatchOperationsEvent {
  const e = event as Partial<BatchOperationsEvent> | null;
  return typeof e?.invocationSchemaVersion === 'string' && Array.isArray(e.tasks);
}

/** User arguments of a 2.0 job that set the package of every delivered object. */
const USER_ARGUMENTS = ['recipients', 'name', 'description'] as const;

/** Completion reports keep result strings short; ours stay readable within this. */
const MAX_RESULT_STRING = 1000;

/**
 * Start step for an S3 Batch Operations invocation: each task becomes one delivery of its object
 * (under a folder rule: a marker delivers its folder, other objects wait for theirs),
 * pinned to the task's version, named from the job and the object so a retried task finds its
 * execution (already started = Succeeded). Bad tasks are permanent failures, throttles temporary.
 */
export async function startFromBatchOperations(
  event: BatchOperationsEvent,
  startExecution: StartExecution,
  log: Logger,
  context?: TriggerContext,
): Promise<S3BatchResult> {
  if (event.invocationSchemaVersion !== '1.0' && event.invocationSchemaVersion !== '2.0') {
    return respond(event, (task) =>
      permanent(
        task,
        `Unsupported invocationSchemaVersion "${event.invocationSchemaVersion}"; create the job with 1.0 or 2.0.`,
      ),
    );
  }
  let overrides: PackageOverrides | undefined;
  try {
    overrides = packageFromUserArguments(event.job?.userArguments ?? undefined);
  } catch (error) {
    return respond(event, (task) => permanent(task, (error as Error).message));
  }
  const results: S3BatchResult['results'] = [];
  for (const task of event.tasks) {
    results.push(await startTask(event, task, overrides, startExecution, log, context));
  }
  return {
    invocationSchemaVersion: event.invocationSchemaVersion,
    treatMissingKeysAs: 'PermanentFailure',
    invocationId: event.invocationId,
    results,
  };
}

async function startTask(
  event: BatchOperationsEvent,
  task: BatchOperationsTask,
  overrides: PackageOverrides | undefined,
  startExecution: StartExecution,
  log: Logger,
  context?: TriggerContext,
) {
  let name: string;
  let request: ReturnType<typeof normalizeRelayRequest>;
  try {
    const bucket = taskBucket(task);
    if (!task.s3Key)
      throw new DeliveryRequestError('The task has no s3Key; check the manifest’s key column.');
    // Batch Operations URL-encodes keys as S3 notifications do (`+` for a space).
    const key = decodeS3NotificationKey(task.s3Key);
    requireSourceBucket(bucket, context, `The task for s3://${bucket}/${key}`);
    const prefix = context?.config.source.prefix;
    if (prefix && !key.startsWith(prefix)) {
      throw new DeliveryRequestError(
        `s3://${bucket}/${key} is outside the source prefix "${prefix}"; the relay may read only objects under it.`,
      );
    }
    if (key.endsWith('/'))
      return succeeded(task, `Skipped: s3://${bucket}/${key} is a folder placeholder, not a file.`);
    const versionId = task.s3VersionId ?? undefined;
    const jobId = event.job?.id ?? '';
    const rule = context ? folderRuleFor(context.config, key) : undefined;
    if (rule) {
      // Under a folder rule a manifest is read as drops are: a marker delivers its folder, the
      // folder's files wait for it (an inventory of the prefix lists both).
      const markerName = context!.config.triggers.folderMarker;
      const folder = markerFolder(key, markerName);
      if (folder === undefined) {
        return succeeded(
          task,
          `Skipped: s3://${bucket}/${key} is under the folder rule "${rule.prefix}"; it is delivered with its folder by that folder's ${markerName} marker (list the marker in the manifest).`,
        );
      }
      requireFolderInsideRule(rule, folder, `s3://${bucket}/${key}`);
      request = normalizeRelayRequest({
        bucket,
        prefix: folder,
        marker: { key, ...(versionId ? { versionId } : {}) },
        ...(overrides ? { package: overrides } : {}),
      });
      name = deliveryIdFor(folder, `batch-folder\n${jobId}\n${bucket}\n${folder}\n${versionId ?? ''}`);
    } else {
      request = normalizeRelayRequest({
        bucket,
        key,
        ...(versionId ? { versionId } : {}),
        ...(overrides ? { package: overrides } : {}),
      });
      name = deliveryIdFor(key, `batch\n${jobId}\n${bucket}\n${key}\n${versionId ?? ''}`);
    }
    if (context)
      requireAllowedAddresses(context.config, overrides?.recipients ?? [], 'The job’s userArguments');
  } catch (error) {
    return permanent(task, (error as Error).message);
  }
  try {
    const started = await startExecution(name, { ...request, deliveryId: name });
    return succeeded(task, started ? `Delivery started: ${name}` : `Delivery already started: ${name}`);
  } catch (error) {
    const temporary = isTemporary(error);
    log.warn('Could not start a delivery for a Batch Operations task', {
      taskId: task.taskId,
      deliveryId: name,
      error: (error as Error).name,
      reason: (error as Error).message,
      temporary,
    });
    const text = `StartExecution failed (${(error as Error).name}): ${(error as Error).message}`;
    return temporary
      ? result(task, 'TemporaryFailure', `${text}; Batch Operations retries the task.`)
      : permanent(task, text);
  }
}

function taskBucket(task: BatchOperationsTask): string {
  if (task.s3Bucket) return task.s3Bucket;
  const arn = task.s3BucketArn?.match(/^arn:aws[a-z-]*:s3:[^:]*:[^:]*:([^/]+)$/);
  if (arn) return arn[1]!;
  throw new DeliveryRequestError(
    `The task names no bucket (s3Bucket for schema 2.0, s3BucketArn for 1.0; got ${JSON.stringify(task.s3BucketArn ?? null)}).`,
  );
}

/** `userArguments` (2.0 jobs): recipients (comma-separated), name, description. */
function packageFromUserArguments(args: Record<string, string> | undefined): PackageOverrides | undefined {
  if (!args || Object.keys(args).length === 0) return undefined;
  const unknown = Object.keys(args).filter((k) => !(USER_ARGUMENTS as readonly string[]).includes(k));
  if (unknown.length > 0) {
    throw new DeliveryRequestError(
      `The job's userArguments has unknown key(s) ${unknown.join(', ')}; allowed: ${USER_ARGUMENTS.join(', ')}.`,
    );
  }
  return {
    ...(args.name ? { name: args.name } : {}),
    ...(args.description !== undefined ? { description: args.description } : {}),
    ...(args.recipients ? { recipients: splitRecipients(args.recipients) } : {}),
  };
}

/** Throttles, server errors and lost connections are worth the retry Batch Operations makes. */
const TEMPORARY_NAMES = new Set([
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'ExecutionLimitExceeded',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalServerError',
  'InternalFailure',
  'TimeoutError',
  // StartExecution on a state machine encrypted with a customer-managed key calls KMS: a KMS rate
  // limit is a throttle like any other. (KmsInvalidStateException — key disabled or pending
  // deletion — and KmsAccessDeniedException stay permanent: they need an operator, not a retry.)
  'KmsThrottlingException',
]);

function isTemporary(error: unknown): boolean {
  if (error instanceof RelayError) return error.retryable;
  const e = error as { name?: string; $retryable?: unknown };
  if (TEMPORARY_NAMES.has(e.name ?? '') || e.$retryable || isNetworkFailure(error)) return true;
  const status = statusOf(error);
  if (status === undefined) return true; // not an answer from Step Functions: the call may not have happened
  return status === 429 || status >= 500;
}

function respond(
  event: BatchOperationsEvent,
  each: (task: BatchOperationsTask) => S3BatchResult['results'][number],
): S3BatchResult {
  return {
    invocationSchemaVersion: event.invocationSchemaVersion,
    treatMissingKeysAs: 'PermanentFailure',
    invocationId: event.invocationId,
    results: event.tasks.map(each),
  };
}

const result = (task: BatchOperationsTask, resultCode: S3BatchResultResultCode, text: string) => ({
  taskId: task.taskId,
  resultCode,
  resultString: text.slice(0, MAX_RESULT_STRING),
});
const succeeded = (task: BatchOperationsTask, text: string) => result(task, 'Succeeded', text);
const permanent = (task: BatchOperationsTask, text: string) => result(task, 'PermanentFailure', text);
