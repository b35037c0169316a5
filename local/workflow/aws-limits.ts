/**
 * The AWS limits the local runner enforces, with the error names the real services report.
 * Sources: Step Functions quotas (256 KiB per state input/output/result and per StartExecution
 * input, 25,000 history events per execution), the Step Functions guide's EventBridge payloads
 * (status change events leave out an escaped input over 248 KB), Lambda quotas (6 MB synchronous
 * request and response), Lambda's timeout error name on current runtimes, and Step Functions'
 * `Lambda.*` names for Lambda's own Invoke errors.
 */

import { ValidationException } from '@aws-sdk/client-sfn';
import { MAX_CAUSE_CHARS } from '../../functions/core/delivery/request.js';

export const KiB = 1024;

export interface AwsLimits {
  /** Largest state input, output, task result or Map aggregated result, in bytes (UTF-8 JSON). */
  stateBytes: number;
  /** History events per execution (Standard workflows). */
  historyEvents: number;
  /** Largest synchronous Lambda request or response payload, in bytes. */
  lambdaPayloadBytes: number;
  /**
   * Largest escaped execution input an execution status change event carries to EventBridge;
   * past it the event has `input: null`, `inputDetails.included: false`.
   */
  statusChangeInputBytes: number;
}

export const AWS_LIMITS: AwsLimits = {
  stateBytes: 256 * KiB,
  historyEvents: 25_000,
  lambdaPayloadBytes: 6 * 1024 * 1024,
  // The Step Functions guide ("EventBridge payloads") says 248KB; read as 248,000 bytes, the
  // stricter of its two readings, so the sweep meets a missing input no later than on AWS.
  statusChangeInputBytes: 248_000,
};

/** An error as Step Functions sees it: `name` is what Retry/Catch `ErrorEquals` match. */
export class AwsLimitError extends Error {
  /** aws-local-stepfunctions reads these: terminal errors are neither retried nor caught. */
  readonly isRetryable: boolean;
  readonly isCatchable: boolean;
  constructor(name: string, message: string, options: { terminal?: boolean } = {}) {
    super(message);
    this.name = name;
    this.isRetryable = !options.terminal;
    this.isCatchable = !options.terminal;
  }
}

/**
 * `States.DataLimitExceeded`: terminal, `States.ALL` does not catch it, so the execution fails
 * without running its Catch (on AWS, without Abort: the package is left behind).
 */
export function dataLimitExceeded(what: string, bytes: number, limit: number) {
  return new AwsLimitError(
    'States.DataLimitExceeded',
    `${what} is ${bytes} bytes, over the ${limit}-byte (${Math.floor(limit / KiB)} KiB) Step Functions payload quota.`,
    { terminal: true },
  );
}

export function historyLimitExceeded(events: number, limit: number) {
  return new AwsLimitError(
    'States.Runtime',
    `The execution history reached ${events} events, over the quota of ${limit} events per execution.`,
    { terminal: true },
  );
}

/** Lambda refused the invocation: the function is at its reserved concurrency. */
export function throttled(functionName: string, limit: number) {
  return new AwsLimitError(
    'Lambda.TooManyRequestsException',
    `Rate Exceeded. (Service: Lambda, Status Code: 429) ${functionName} is at its reserved concurrency of ${limit}.`,
  );
}

/**
 * A failed invocation as Lambda answers it: the payload of an Invoke with `FunctionError`, which
 * Step Functions reports with `errorType` as the error and the payload's JSON as the Cause.
 */
export interface LambdaErrorPayload {
  errorType: string;
  errorMessage: string;
  trace?: string[];
}

/** A function error (the handler threw, the runtime exited, the sandbox timed out), with its payload. */
export class LambdaFunctionError extends AwsLimitError {
  constructor(readonly payload: LambdaErrorPayload) {
    super(payload.errorType, payload.errorMessage);
  }
}

/** The Node.js runtime's answer for an error thrown by the handler: its name, message and stack lines. */
export function handlerError(error: unknown): LambdaFunctionError {
  if (error instanceof LambdaFunctionError) return error;
  if (!(error instanceof Error))
    return new LambdaFunctionError({ errorType: 'string', errorMessage: String(error) });
  return new LambdaFunctionError({
    errorType: error.name,
    errorMessage: error.message,
    trace: (error.stack ?? `${error.name}: ${error.message}`).split('\n'),
  });
}

/** Lambda's own timeout error on current runtimes (reported by Step Functions as is). */
export function lambdaTimedOut(requestId: string, timeoutMs: number) {
  return new LambdaFunctionError({
    errorType: 'Sandbox.Timedout',
    errorMessage: `RequestId: ${requestId} Error: Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`,
  });
}

/**
 * The runtime process ended mid-invocation: `exit status N` for a crash (`process.exit`), `signal:
 * killed` when the kernel kills it for memory. Lambda reports both as `Runtime.ExitError`.
 */
export function runtimeExited(requestId: string, how: string) {
  return new LambdaFunctionError({
    errorType: 'Runtime.ExitError',
    errorMessage: `RequestId: ${requestId} Error: Runtime exited with error: ${how}`,
  });
}

export { MAX_CAUSE_CHARS };

/**
 * The Cause a caught Task error carries, as Step Functions gives it: a function error's whole
 * payload as JSON (stack trace included), any other error's message; at most 32,768 characters.
 */
export function taskErrorCause(error: Error): string {
  const cause = error instanceof LambdaFunctionError ? JSON.stringify(error.payload) : error.message;
  return cause.slice(0, MAX_CAUSE_CHARS);
}

export function requestTooLarge(bytes: number, limit: number) {
  return new AwsLimitError(
    'Lambda.RequestTooLargeException',
    `${bytes} byte payload is too large for the RequestResponse invocation type (limit ${limit} bytes).`,
  );
}

export function responseTooLarge(bytes: number, limit: number) {
  return new AwsLimitError(
    'Function.ResponseSizeTooLarge',
    `Response payload size (${bytes} bytes) exceeded maximum allowed payload size (${limit} bytes).`,
  );
}

/**
 * StartExecution's answer to an input over the quota: nothing starts. The API reference gives
 * `input` a 262,144-byte UTF-8 length constraint, and Step Functions answers a request that breaks
 * a constraint with ValidationException (400), as it does for a name over 80 characters. The
 * message follows AWS's wording for such a request (its exact text for `input` is not documented).
 */
export function executionInputTooLarge(bytes: number, limit: number) {
  return new ValidationException({
    message: `1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to ${limit} (it is ${bytes} bytes)`,
    $metadata: { httpStatusCode: 400 },
  });
}

/** Size of a value the way the services measure payloads: UTF-8 bytes of its JSON. */
export function jsonBytes(value: unknown): number {
  return value === undefined ? 0 : Buffer.byteLength(JSON.stringify(value) ?? 'null', 'utf8');
}
