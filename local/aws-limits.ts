/**
 * The AWS limits the local runner enforces, with the error names the real services report.
 * Sources: Step Functions quotas (256 KiB per state input/output/result, 25,000 history events per
 * execution), Lambda quotas (6 MB synchronous request and response), Lambda's timeout error name
 * on current runtimes, and Step Functions' `Lambda.*` names for Lambda's own Invoke errors.
 */

export const KiB = 1024;

export interface AwsLimits {
  /** Largest state input, output, task result or Map aggregated result, in bytes (UTF-8 JSON). */
  stateBytes: number;
  /** History events per execution (Standard workflows). */
  historyEvents: number;
  /** Largest synchronous Lambda request or response payload, in bytes. */
  lambdaPayloadBytes: number;
}

export const AWS_LIMITS: AwsLimits = {
  stateBytes: 256 * KiB,
  historyEvents: 25_000,
  lambdaPayloadBytes: 6 * 1024 * 1024,
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

/** Lambda's own timeout error name on current runtimes (reported by Step Functions as is). */
export function lambdaTimedOut(timeoutMs: number) {
  return new AwsLimitError(
    'Sandbox.Timedout',
    `Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`,
  );
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

/** Size of a value the way the services measure payloads: UTF-8 bytes of its JSON. */
export function jsonBytes(value: unknown): number {
  return value === undefined ? 0 : Buffer.byteLength(JSON.stringify(value) ?? 'null', 'utf8');
}
