import { ExecutionTimeoutError, type StateMachine } from 'aws-local-stepfunctions';
import {
  AWS_LIMITS,
  AwsLimitError,
  type AwsLimits,
  dataLimitExceeded,
  historyLimitExceeded,
  jsonBytes,
  LambdaFunctionError,
  taskErrorCause,
} from './aws-limits.js';
import type { LocalLambda } from './lambda.js';
import { stopMapsThatFail } from './map-stops.js';

stopMapsThatFail();

/** One event of the local engine's execution log (kept small: no state inputs). */
export type EventLog = {
  type: string;
  state?: { name: string; type?: string; output?: unknown };
  index?: number;
  Error?: string;
  Cause?: unknown;
};

/** How an execution ended; a timed-out one has neither error nor cause, as on AWS. */
export type ExecutionOutcome =
  | { status: 'SUCCEEDED'; output: unknown }
  | { status: 'FAILED'; error: string; cause: string }
  | { status: 'TIMED_OUT'; error?: undefined; cause?: undefined };

/** What an execution used of the Step Functions quotas. */
export interface ExecutionUsage {
  /** History events as Step Functions would count them. */
  historyEvents: number;
  /** Largest state input, output, task input/result or Map aggregated result, in bytes. */
  peakStateBytes: number;
  /** Where the peak was measured. */
  peakStateWhere: string;
  /** The quota this execution broke, if any (it then failed with this error). */
  violation?: AwsLimitError;
}

export interface LimitedExecution {
  result: Promise<ExecutionOutcome>;
  events: EventLog[];
  usage: ExecutionUsage;
}

export interface LimitedRunOptions {
  /** The Lambda behind each Task state, by state name. */
  lambdas: Record<string, LocalLambda>;
  limits?: Partial<AwsLimits>;
  context?: Record<string, unknown>;
  /** Called for each event as it is logged (after the limits are checked). */
  onEvent?: (event: EventLog, raw: Record<string, unknown>) => void;
}

type RawEvent = {
  type: string;
  index?: number;
  input?: unknown;
  output?: unknown;
  state?: { name: string; type: string; input?: unknown; output?: unknown };
  Error?: string;
  Cause?: unknown;
};

/**
 * Runs one execution of `machine` with the Step Functions quotas enforced: every state input and
 * output, each Task's effective input and result, and each Map's aggregated result are measured
 * against the payload quota; history events are counted as Step Functions records them (execution
 * started/ended, state entered/exited, Map started/succeeded/failed, Map iteration events, and per
 * Lambda attempt scheduled + started + succeeded/failed/timed out — a throttled attempt is scheduled
 * + start failed). A broken quota fails the execution with the service's error, uncaught by
 * `States.ALL`, as on AWS.
 */
export function runWithLimits(
  machine: StateMachine,
  input: unknown,
  options: LimitedRunOptions,
): LimitedExecution {
  const limits: AwsLimits = { ...AWS_LIMITS, ...options.limits };
  const usage: ExecutionUsage = { historyEvents: 0, peakStateBytes: 0, peakStateWhere: '' };
  const events: EventLog[] = [];
  let abort: () => void = () => undefined;

  const fail = (violation: AwsLimitError) => {
    if (usage.violation) return;
    usage.violation = violation;
    abort();
  };
  const count = (n: number) => {
    usage.historyEvents += n;
    if (usage.historyEvents > limits.historyEvents)
      fail(historyLimitExceeded(usage.historyEvents, limits.historyEvents));
  };
  const measure = (what: string, value: unknown) => {
    const bytes = jsonBytes(value);
    if (bytes > usage.peakStateBytes) {
      usage.peakStateBytes = bytes;
      usage.peakStateWhere = what;
    }
    if (bytes > limits.stateBytes) fail(dataLimitExceeded(what, bytes, limits.stateBytes));
  };

  const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
  for (const [state, lambda] of Object.entries(options.lambdas)) {
    handlers[state] = async (taskInput) => {
      // Let the event log catch up, so a quota broken by the previous state stops this one.
      await new Promise((resolve) => setImmediate(resolve));
      if (usage.violation) throw usage.violation;
      measure(`The input of state "${state}"`, taskInput);
      if (usage.violation) throw usage.violation;
      count(1); // LambdaFunctionScheduled
      let output: unknown;
      try {
        output = await lambda.invoke(taskInput);
      } catch (error) {
        // A throttled call never starts: LambdaFunctionStartFailed; otherwise Started + Failed/TimedOut.
        count((error as Error).name === 'Lambda.TooManyRequestsException' ? 1 : 2);
        throw asTaskError(error as Error);
      }
      count(2); // LambdaFunctionStarted, LambdaFunctionSucceeded
      measure(`The result of state "${state}"`, output);
      if (usage.violation) throw usage.violation;
      return output;
    };
  }

  const execution = machine.run(input as never, {
    overrides: { taskResourceLocalHandlers: handlers as never },
    ...(options.context ? { context: options.context as never } : {}),
  });
  abort = execution.abort;

  const maps = new Map<string, { bytes: number; count: number }>();
  const observe = (event: RawEvent) => {
    const state = event.state;
    switch (event.type) {
      case 'ExecutionStarted':
        count(1);
        measure('The execution input', event.input);
        break;
      case 'ExecutionSucceeded':
        count(1);
        measure('The execution output', event.output);
        break;
      case 'ExecutionFailed':
      case 'ExecutionTimeout':
        count(1);
        break;
      case 'StateEntered':
        count(state!.type === 'Map' ? 2 : 1); // MapStateEntered + MapStateStarted
        measure(`The input of state "${state!.name}"`, state!.input);
        if (state!.type === 'Map') maps.set(state!.name, { bytes: 2, count: 0 });
        break;
      case 'StateExited':
        count(state!.type === 'Map' ? 2 : 1); // MapStateSucceeded + MapStateExited
        measure(`The output of state "${state!.name}"`, state!.output);
        break;
      case 'StateFailed':
        if (state!.type === 'Map') count(1); // MapStateFailed
        break;
      case 'MapIterationStarted':
      case 'MapIterationFailed':
        count(1);
        break;
      case 'MapIterationSucceeded': {
        count(1);
        const name = (event as { parentState?: { name: string } }).parentState?.name ?? '';
        const aggregate = maps.get(name) ?? { bytes: 2, count: 0 };
        aggregate.bytes += jsonBytes(event.output) + (aggregate.count > 0 ? 1 : 0);
        aggregate.count++;
        maps.set(name, aggregate);
        if (aggregate.bytes > usage.peakStateBytes) {
          usage.peakStateBytes = aggregate.bytes;
          usage.peakStateWhere = `The aggregated result of Map state "${name}"`;
        }
        if (aggregate.bytes > limits.stateBytes)
          fail(
            dataLimitExceeded(
              `The aggregated result of Map state "${name}" (${aggregate.count} iterations so far)`,
              aggregate.bytes,
              limits.stateBytes,
            ),
          );
        break;
      }
    }
  };

  const collector = (async () => {
    for await (const raw of execution.eventLogs) {
      const event = raw as RawEvent;
      observe(event);
      const entry: EventLog = { type: event.type };
      if (event.state) entry.state = { name: event.state.name, type: event.state.type };
      if (event.index !== undefined) entry.index = event.index;
      if (event.Error !== undefined) entry.Error = event.Error;
      if (event.Cause !== undefined) entry.Cause = event.Cause;
      events.push(entry);
      options.onEvent?.(entry, raw as unknown as Record<string, unknown>);
    }
  })();

  const result = (async (): Promise<ExecutionOutcome> => {
    try {
      const output = await execution.result;
      // The last events (ExecutionSucceeded) are checked before the outcome is told.
      await collector.catch(() => undefined);
      if (usage.violation) return failed(usage.violation);
      return { status: 'SUCCEEDED', output };
    } catch (error) {
      await collector.catch(() => undefined);
      if (usage.violation) return failed(usage.violation);
      // The definition's TimeoutSeconds passed: TIMED_OUT, with no error or cause (ExecutionTimedOut).
      if (error instanceof ExecutionTimeoutError) return { status: 'TIMED_OUT' };
      const cause = (error as { cause?: { name?: string; message?: string } }).cause;
      return {
        status: 'FAILED',
        error: cause?.name ?? (error as Error).name,
        cause: cause?.message ?? String(error),
      };
    }
  })();
  return { result, events, usage };
}

/**
 * A failed invocation as a Task error: the name Retry and Catch match, and as message the Cause a
 * Catch puts in state, shaped and cut as Step Functions does (`taskErrorCause`).
 */
function asTaskError(error: Error): Error {
  if (!(error instanceof LambdaFunctionError)) return error;
  return new AwsLimitError(error.name, taskErrorCause(error));
}

function failed(violation: AwsLimitError): ExecutionOutcome {
  return { status: 'FAILED', error: violation.name, cause: violation.message };
}

/**
 * The definition with every Retry interval and maximum delay and every Wait duration multiplied
 * by `scale` (0 zeroes them). MaxAttempts, BackoffRate, jitter and the states are unchanged, so
 * tests keep the retry structure and counts while waiting milliseconds instead of minutes.
 */
export function scaleWaits<T>(definition: T, scale: number): T {
  const copy = structuredClone(definition) as { States: Record<string, Record<string, unknown>> };
  const visit = (machine: { States: Record<string, Record<string, unknown>> }) => {
    for (const state of Object.values(machine.States)) {
      for (const retrier of (state.Retry as Record<string, number>[] | undefined) ?? []) {
        retrier.IntervalSeconds = (retrier.IntervalSeconds ?? 1) * scale;
        if (retrier.MaxDelaySeconds !== undefined) retrier.MaxDelaySeconds *= scale;
      }
      if (state.Type === 'Wait' && typeof state.Seconds === 'number') state.Seconds *= scale;
      const processor = (state.ItemProcessor ?? state.Iterator) as typeof machine | undefined;
      if (processor) visit(processor);
      for (const branch of (state.Branches as (typeof machine)[] | undefined) ?? []) visit(branch);
    }
  };
  visit(copy);
  return copy as T;
}
