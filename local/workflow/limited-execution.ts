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

type Execution = ReturnType<StateMachine['run']>;

/** The quotas of one execution and what it used so far: a broken quota aborts the execution. */
class QuotaMeter {
  readonly usage: ExecutionUsage = { historyEvents: 0, peakStateBytes: 0, peakStateWhere: '' };
  /** Each Map's aggregated result so far: its JSON array's bytes and how many results it holds. */
  private readonly maps = new Map<string, { bytes: number; count: number }>();
  /** Stops the execution; set once it runs. */
  abort: () => void = () => undefined;

  constructor(private readonly limits: AwsLimits) {}

  fail(violation: AwsLimitError) {
    if (this.usage.violation) return;
    this.usage.violation = violation;
    this.abort();
  }

  count(n: number) {
    this.usage.historyEvents += n;
    if (this.usage.historyEvents > this.limits.historyEvents)
      this.fail(historyLimitExceeded(this.usage.historyEvents, this.limits.historyEvents));
  }

  measure(what: string, value: unknown) {
    const bytes = jsonBytes(value);
    if (bytes > this.usage.peakStateBytes) {
      this.usage.peakStateBytes = bytes;
      this.usage.peakStateWhere = what;
    }
    if (bytes > this.limits.stateBytes) this.fail(dataLimitExceeded(what, bytes, this.limits.stateBytes));
  }

  /** Counts an event of the execution log as history and measures the payload it carries. */
  observe(event: RawEvent) {
    const state = event.state;
    switch (event.type) {
      case 'ExecutionStarted':
        this.count(1);
        this.measure('The execution input', event.input);
        break;
      case 'ExecutionSucceeded':
        this.count(1);
        this.measure('The execution output', event.output);
        break;
      case 'ExecutionFailed':
      case 'ExecutionTimeout':
        this.count(1);
        break;
      case 'StateEntered':
        this.count(state!.type === 'Map' ? 2 : 1); // MapStateEntered + MapStateStarted
        this.measure(`The input of state "${state!.name}"`, state!.input);
        if (state!.type === 'Map') this.maps.set(state!.name, { bytes: 2, count: 0 });
        break;
      case 'StateExited':
        this.count(state!.type === 'Map' ? 2 : 1); // MapStateSucceeded + MapStateExited
        this.measure(`The output of state "${state!.name}"`, state!.output);
        break;
      case 'StateFailed':
        if (state!.type === 'Map') this.count(1); // MapStateFailed
        break;
      case 'MapIterationStarted':
      case 'MapIterationFailed':
        this.count(1);
        break;
      case 'MapIterationSucceeded':
        this.count(1);
        this.aggregate((event as { parentState?: { name: string } }).parentState?.name ?? '', event.output);
        break;
    }
  }

  /** Adds an iteration's output to its Map's aggregated result, which the payload quota also bounds. */
  private aggregate(name: string, output: unknown) {
    const aggregate = this.maps.get(name) ?? { bytes: 2, count: 0 };
    aggregate.bytes += jsonBytes(output) + (aggregate.count > 0 ? 1 : 0);
    aggregate.count++;
    this.maps.set(name, aggregate);
    if (aggregate.bytes > this.usage.peakStateBytes) {
      this.usage.peakStateBytes = aggregate.bytes;
      this.usage.peakStateWhere = `The aggregated result of Map state "${name}"`;
    }
    if (aggregate.bytes > this.limits.stateBytes)
      this.fail(
        dataLimitExceeded(
          `The aggregated result of Map state "${name}" (${aggregate.count} iterations so far)`,
          aggregate.bytes,
          this.limits.stateBytes,
        ),
      );
  }
}

/** Each Task's Lambda, its input and result measured and its attempts counted as history. */
function limitedHandlers(lambdas: Record<string, LocalLambda>, meter: QuotaMeter) {
  const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
  for (const [state, lambda] of Object.entries(lambdas)) {
    handlers[state] = async (taskInput) => {
      // Let the event log catch up, so a quota broken by the previous state stops this one.
      await new Promise((resolve) => setImmediate(resolve));
      if (meter.usage.violation) throw meter.usage.violation;
      meter.measure(`The input of state "${state}"`, taskInput);
      if (meter.usage.violation) throw meter.usage.violation;
      meter.count(1); // LambdaFunctionScheduled
      let output: unknown;
      try {
        output = await lambda.invoke(taskInput);
      } catch (error) {
        // A throttled call never starts: LambdaFunctionStartFailed; otherwise Started + Failed/TimedOut.
        meter.count((error as Error).name === 'Lambda.TooManyRequestsException' ? 1 : 2);
        throw asTaskError(error as Error);
      }
      meter.count(2); // LambdaFunctionStarted, LambdaFunctionSucceeded
      meter.measure(`The result of state "${state}"`, output);
      if (meter.usage.violation) throw meter.usage.violation;
      return output;
    };
  }
  return handlers;
}

/** Reads the execution's log to its end: each event metered, then kept (small) and passed on. */
async function collectEvents(
  execution: Execution,
  meter: QuotaMeter,
  events: EventLog[],
  onEvent: LimitedRunOptions['onEvent'],
) {
  for await (const raw of execution.eventLogs) {
    const event = raw as RawEvent;
    meter.observe(event);
    const entry: EventLog = { type: event.type };
    if (event.state) entry.state = { name: event.state.name, type: event.state.type };
    if (event.index !== undefined) entry.index = event.index;
    if (event.Error !== undefined) entry.Error = event.Error;
    if (event.Cause !== undefined) entry.Cause = event.Cause;
    events.push(entry);
    onEvent?.(entry, raw as unknown as Record<string, unknown>);
  }
}

/** How the execution ended, once its log is read: a broken quota wins over what the engine says. */
async function outcomeOf(
  execution: Execution,
  collector: Promise<void>,
  usage: ExecutionUsage,
): Promise<ExecutionOutcome> {
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
}

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
  const meter = new QuotaMeter({ ...AWS_LIMITS, ...options.limits });
  const execution = machine.run(input as never, {
    overrides: { taskResourceLocalHandlers: limitedHandlers(options.lambdas, meter) as never },
    ...(options.context ? { context: options.context as never } : {}),
  });
  meter.abort = execution.abort;
  const events: EventLog[] = [];
  const collector = collectEvents(execution, meter, events, options.onEvent);
  return { result: outcomeOf(execution, collector, meter.usage), events, usage: meter.usage };
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
