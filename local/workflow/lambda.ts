import type { Context } from 'aws-lambda';
import {
  AWS_LIMITS,
  handlerError,
  jsonBytes,
  lambdaTimedOut,
  requestTooLarge,
  responseTooLarge,
  runtimeExited,
  throttled,
} from './aws-limits.js';
import { lambdaContext } from './lambda-context.js';

export interface LocalLambdaOptions {
  /** Function name, as in its ARN. */
  name: string;
  /** The function's configured timeout: past it the invocation fails with `Sandbox.Timedout`. */
  timeoutMs: number;
  /** Reserved concurrency: invocations beyond it fail with `Lambda.TooManyRequestsException`. */
  reservedConcurrency?: number;
  /** Synchronous request/response payload limit (6 MB). */
  payloadBytes?: number;
  /** Remaining-time clock of each invocation's context, made anew per invocation (tests). */
  remainingMs?: () => () => number;
}

export type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;

/**
 * Thrown by a local handler (or a test's hook inside it) to stand for its process ending
 * mid-invocation, which in-process code cannot really do: Lambda answers `Runtime.ExitError`.
 */
export class ProcessEnded extends Error {
  constructor(readonly how: string) {
    super(`The runtime process ended: ${how}`);
    this.name = 'ProcessEnded';
  }
}

/** The handler's process exits (`process.exit(status)`, or a crash of the runtime). */
export const processExit = (status = 1) => new ProcessEnded(`exit status ${status}`);

/** The kernel kills the process for using more than the function's memory. */
export const outOfMemoryKill = () => new ProcessEnded('signal: killed');

/**
 * One Lambda function run in-process with the limits Lambda itself enforces on a synchronous
 * invocation: the payload quota both ways, the reserved concurrency (a throttle, not a queue) and
 * the timeout, each failing with Lambda's own error name so the workflow's Retry lists are tested.
 * A function error carries the payload Lambda answers (`errorType`, `errorMessage`, `trace`): a
 * thrown error as the Node.js runtime reports it, `Sandbox.Timedout` past the timeout, and
 * `Runtime.ExitError` for a process that ended (`ProcessEnded`: a crash or an out-of-memory kill).
 */
export class LocalLambda {
  /** Invocations running now, and the most ever running at once. */
  running = 0;
  peakConcurrency = 0;
  invocations = 0;
  throttles = 0;
  timeouts = 0;

  constructor(
    readonly options: LocalLambdaOptions,
    private readonly handler: LambdaHandler,
  ) {}

  async invoke(event: unknown): Promise<unknown> {
    const { name, timeoutMs, reservedConcurrency } = this.options;
    const payloadLimit = this.options.payloadBytes ?? AWS_LIMITS.lambdaPayloadBytes;
    const requestBytes = jsonBytes(event);
    if (requestBytes > payloadLimit) throw requestTooLarge(requestBytes, payloadLimit);
    if (reservedConcurrency !== undefined && this.running >= reservedConcurrency) {
      this.throttles++;
      throw throttled(name, reservedConcurrency);
    }
    this.running++;
    this.invocations++;
    this.peakConcurrency = Math.max(this.peakConcurrency, this.running);
    const context = lambdaContext(name, timeoutMs);
    if (this.options.remainingMs) context.getRemainingTimeInMillis = this.options.remainingMs();
    let timer: NodeJS.Timeout | undefined;
    // Lambda ends the sandbox at the deadline and frees the concurrency slot; locally the handler's
    // promise may go on, but its answer is dropped as Lambda would.
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.timeouts++;
        reject(lambdaTimedOut(context.awsRequestId, timeoutMs));
      }, timeoutMs);
    });
    const handled = this.handler(event, context).catch((error: unknown) => {
      throw error instanceof ProcessEnded
        ? runtimeExited(context.awsRequestId, error.how)
        : handlerError(error);
    });
    try {
      const output = await Promise.race([handled, deadline]);
      const responseBytes = jsonBytes(output);
      if (responseBytes > payloadLimit) throw responseTooLarge(responseBytes, payloadLimit);
      return output;
    } finally {
      clearTimeout(timer);
      this.running--;
    }
  }
}
