import { StateMachine } from 'aws-local-stepfunctions';

type Run = StateMachine['run'];
type RunOptions = Parameters<Run>[1] & { _rootAbortSignal?: AbortSignal };
type Execution = ReturnType<Run>;

/** The iteration machines (one per Map entry) whose Map has failed. */
const failedMaps = new WeakSet<StateMachine>();
let installed = false;

/**
 * Makes aws-local-stepfunctions 3 stop a Map once it has failed, as Step Functions does. The engine
 * runs a Map's iterations through p-limit and, when one fails, aborts the iterations already
 * started, but the queued ones still start later and run to the end. Its Map action is internal,
 * so the patch sits on the one class it uses, `StateMachine.prototype.run`: each Map entry builds
 * its own iteration machine and runs every iteration through it (a run with `_rootAbortSignal`).
 * An inline Map fails as soon as one iteration fails, and then aborts the others (a Parallel state
 * likewise its branches). Once an iteration fails or is aborted, its machine is marked and later
 * runs return an execution that never starts: no events, a `null` result that the failed Map no
 * longer awaits. Root executions are unchanged.
 */
export function stopMapsThatFail() {
  if (installed) return;
  installed = true;
  const run: Run = StateMachine.prototype.run;
  StateMachine.prototype.run = function (this: StateMachine, input, options?: RunOptions): Execution {
    if (!options?._rootAbortSignal) return run.call(this, input, options);
    if (failedMaps.has(this)) return neverStarted();
    const execution = run.call(this, input, options);
    return {
      ...execution,
      // Marked before the Map's own promise handling sees the failure, so the slot it frees
      // starts nothing.
      result: execution.result.catch((error: unknown) => {
        failedMaps.add(this);
        throw error;
      }),
      abort: () => {
        failedMaps.add(this);
        execution.abort();
      },
    };
  } as Run;
}

function neverStarted(): Execution {
  return {
    abort: () => undefined,
    eventLogs: (async function* () {})(),
    result: Promise.resolve(null),
  } as unknown as Execution;
}
