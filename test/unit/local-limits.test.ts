import { setTimeout as sleep } from 'node:timers/promises';
import { StateMachine } from 'aws-local-stepfunctions';
import { describe, expect, it } from 'vitest';
import { AWS_LIMITS, KiB, MAX_CAUSE_CHARS } from '../../local/workflow/aws-limits.js';
import { LocalLambda, outOfMemoryKill, processExit } from '../../local/workflow/lambda.js';
import { runWithLimits, scaleWaits } from '../../local/workflow/limited-execution.js';

const ARN = 'arn:aws:lambda:us-east-1:000000000000:function:fn';

function lambda(
  handler: (event: any) => unknown,
  options: Partial<ConstructorParameters<typeof LocalLambda>[0]> = {},
) {
  return new LocalLambda({ name: 'fn', timeoutMs: 5_000, ...options }, async (event) => handler(event));
}

function machine(definition: object, scale = 1) {
  return new StateMachine(scaleWaits(definition, scale) as never, {
    validationOptions: { noValidate: true },
  });
}

/** Task → Succeed, with a Catch on States.ALL that would hide an ordinary error. */
const taskThenSucceed = {
  StartAt: 'Work',
  States: {
    Work: {
      Type: 'Task',
      Resource: ARN,
      Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }],
      Next: 'Done',
    },
    Caught: { Type: 'Pass', End: true },
    Done: { Type: 'Succeed' },
  },
};

function mapOf(items: number, iteration: object, resultPath: null | string = null) {
  return {
    StartAt: 'Each',
    States: {
      Each: {
        Type: 'Map',
        ItemsPath: '$.items',
        MaxConcurrency: 4,
        ItemProcessor: { ProcessorConfig: { Mode: 'INLINE' }, ...iteration },
        ResultPath: resultPath,
        Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }],
        End: true,
      },
      Caught: { Type: 'Pass', End: true },
    },
    _items: items,
  };
}

const itemsInput = (n: number) => ({ items: Array.from({ length: n }, (_, i) => i) });

describe('local runner: Step Functions payload quota (256 KiB)', () => {
  it('fails the execution with States.DataLimitExceeded when a task result is over 256 KiB, past any Catch', async () => {
    const run = runWithLimits(
      machine(taskThenSucceed),
      {},
      {
        lambdas: { Work: lambda(() => ({ blob: 'x'.repeat(257 * KiB) })) },
      },
    );
    const outcome = await run.result;
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'States.DataLimitExceeded' });
    expect((outcome as { cause: string }).cause).toMatch(
      /result of state "Work" is \d+ bytes, over the 262144-byte/,
    );
    expect(run.events.some((e) => e.state?.name === 'Caught')).toBe(false);
  });

  it('lets a result just under the quota through and reports it as the peak', async () => {
    const run = runWithLimits(
      machine(taskThenSucceed),
      {},
      {
        lambdas: { Work: lambda(() => ({ blob: 'x'.repeat(200 * KiB) })) },
      },
    );
    expect((await run.result).status).toBe('SUCCEEDED');
    expect(run.usage.peakStateBytes).toBeGreaterThan(200 * KiB);
    expect(run.usage.peakStateBytes).toBeLessThan(AWS_LIMITS.stateBytes);
  });

  it("counts a Map's aggregated result even when ResultPath discards it", async () => {
    const iteration = {
      StartAt: 'Work',
      States: { Work: { Type: 'Task', Resource: ARN, End: true } },
    };
    // 300 iterations of ~1 KiB each: every state is small, the array Step Functions builds is not.
    const run = runWithLimits(machine(mapOf(300, iteration)), itemsInput(300), {
      lambdas: { Work: lambda(() => ({ note: 'y'.repeat(1000) })) },
    });
    const outcome = await run.result;
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'States.DataLimitExceeded' });
    expect((outcome as { cause: string }).cause).toMatch(/aggregated result of Map state "Each"/);
  });

  it('keeps the aggregate tiny when each iteration ends with {} (the relay definition does so)', async () => {
    const iteration = {
      StartAt: 'Work',
      States: {
        Work: { Type: 'Task', Resource: ARN, Next: 'Done' },
        Done: { Type: 'Pass', Result: {}, End: true },
      },
    };
    const run = runWithLimits(machine(mapOf(300, iteration)), itemsInput(300), {
      lambdas: { Work: lambda(() => ({ note: 'y'.repeat(1000) })) },
    });
    expect((await run.result).status).toBe('SUCCEEDED');
    expect(run.usage.peakStateBytes).toBeLessThan(4 * KiB);
  });
});

describe('local runner: execution history quota (25,000 events)', () => {
  it('counts events the way Step Functions records them', async () => {
    const task = runWithLimits(machine(taskThenSucceed), {}, { lambdas: { Work: lambda(() => ({})) } });
    await task.result;
    // ExecutionStarted, TaskStateEntered, LambdaFunctionScheduled/Started/Succeeded, TaskStateExited,
    // SucceedStateEntered/Exited, ExecutionSucceeded.
    expect(task.usage.historyEvents).toBe(9);

    const pass = { StartAt: 'P', States: { P: { Type: 'Pass', End: true } } };
    const map = runWithLimits(machine(mapOf(2, pass)), itemsInput(2), { lambdas: {} });
    await map.result;
    // ExecutionStarted, MapStateEntered, MapStateStarted, 2 × (MapIterationStarted, PassStateEntered,
    // PassStateExited, MapIterationSucceeded), MapStateSucceeded, MapStateExited, ExecutionSucceeded.
    expect(map.usage.historyEvents).toBe(14);
  });

  it('fails an execution whose history passes 25,000 events', async () => {
    // Each loop: TaskStateEntered + 3 Lambda events + TaskStateExited + Choice entered/exited = 7.
    const loop = {
      StartAt: 'Count',
      States: {
        Count: { Type: 'Task', Resource: ARN, Next: 'More?' },
        'More?': {
          Type: 'Choice',
          Choices: [{ Variable: '$.n', NumericLessThan: 5000, Next: 'Count' }],
          Default: 'Done',
        },
        Done: { Type: 'Succeed' },
      },
    };
    const run = runWithLimits(
      machine(loop),
      { n: 0 },
      {
        lambdas: { Count: lambda((event: { n: number }) => ({ n: event.n + 1 })) },
      },
    );
    const outcome = await run.result;
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'States.Runtime' });
    expect((outcome as { cause: string }).cause).toMatch(
      /history reached 2500[12] events, over the quota of 25000/,
    );
    expect(run.usage.historyEvents).toBeGreaterThan(25_000);
  }, 60_000);
});

describe('local runner: Lambda quotas and errors', () => {
  it("refuses a request over 6 MB and fails a response over 6 MB with Lambda's error names", async () => {
    const fn = lambda(() => 'z'.repeat(7 * 1024 * 1024));
    await expect(fn.invoke({ big: 'a'.repeat(7 * 1024 * 1024) })).rejects.toMatchObject({
      name: 'Lambda.RequestTooLargeException',
    });
    await expect(fn.invoke({})).rejects.toMatchObject({ name: 'Function.ResponseSizeTooLarge' });
    expect(fn.invocations).toBe(1);
  });

  it('times a slow invocation out with Sandbox.Timedout and frees its slot', async () => {
    const fn = lambda(() => sleep(300).then(() => 'late'), { timeoutMs: 50, reservedConcurrency: 1 });
    const timedOut = fn.invoke({});
    await expect(timedOut).rejects.toMatchObject({
      name: 'Sandbox.Timedout',
      message: expect.stringMatching(/^RequestId: [\w-]+ Error: Task timed out after 0\.05 seconds$/),
    });
    await expect(timedOut).rejects.toMatchObject({ payload: { errorType: 'Sandbox.Timedout' } });
    expect(fn.running).toBe(0);
    expect(fn.timeouts).toBe(1);
  });

  it("fails a crash and an out-of-memory kill with Lambda's Runtime.ExitError and its messages", async () => {
    const crashed = lambda(() => {
      throw processExit(1);
    });
    await expect(crashed.invoke({})).rejects.toMatchObject({
      name: 'Runtime.ExitError',
      payload: {
        errorType: 'Runtime.ExitError',
        errorMessage: expect.stringMatching(
          /^RequestId: [\w-]+ Error: Runtime exited with error: exit status 1$/,
        ),
      },
    });
    const killed = lambda(async () => {
      await sleep(5);
      throw outOfMemoryKill();
    });
    await expect(killed.invoke({})).rejects.toMatchObject({
      name: 'Runtime.ExitError',
      message: expect.stringMatching(/Error: Runtime exited with error: signal: killed$/),
    });
  });

  it('answers a thrown error as the Node.js runtime does: its name, message and stack lines', async () => {
    const fn = lambda(() => {
      throw Object.assign(new Error('MASV answered 500'), { name: 'MasvServerError' });
    });
    await expect(fn.invoke({})).rejects.toMatchObject({
      name: 'MasvServerError',
      message: 'MASV answered 500',
      payload: {
        errorType: 'MasvServerError',
        errorMessage: 'MASV answered 500',
        trace: expect.arrayContaining(['MasvServerError: MASV answered 500']),
      },
    });
  });

  it("puts the whole Lambda error JSON in a caught error's Cause, cut at 32,768 characters", async () => {
    const caught = (message: string) => {
      const fn = lambda(() => {
        throw Object.assign(new Error(message), { name: 'MasvServerError' });
      });
      const definition = {
        StartAt: 'Work',
        States: {
          Work: {
            Type: 'Task',
            Resource: ARN,
            Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Caught' }],
            End: true,
          },
          Caught: { Type: 'Pass', End: true },
        },
      };
      return runWithLimits(machine(definition), {}, { lambdas: { Work: fn } }).result;
    };
    const short = (await caught('MASV answered 500')) as {
      output: { error: { Error: string; Cause: string } };
    };
    expect(short.output.error.Error).toBe('MasvServerError');
    const cause = JSON.parse(short.output.error.Cause);
    expect(cause).toMatchObject({ errorType: 'MasvServerError', errorMessage: 'MASV answered 500' });
    expect(cause.trace[0]).toBe('MasvServerError: MASV answered 500');
    expect(cause.trace.length).toBeGreaterThan(1);
    const long = (await caught('x'.repeat(40_000))) as { output: { error: { Cause: string } } };
    expect(long.output.error.Cause).toHaveLength(MAX_CAUSE_CHARS);
    expect(long.output.error.Cause.startsWith('{"errorType":"MasvServerError","errorMessage":"xxx')).toBe(
      true,
    );
  });

  it('retries Sandbox.Timedout when the Retry lists it', async () => {
    let calls = 0;
    const definition = {
      StartAt: 'Work',
      States: {
        Work: {
          Type: 'Task',
          Resource: ARN,
          Retry: [{ ErrorEquals: ['Sandbox.Timedout'], IntervalSeconds: 1, MaxAttempts: 1 }],
          End: true,
        },
      },
    };
    const fn = lambda(() => (++calls === 1 ? sleep(300).then(() => 'late') : 'on time'), { timeoutMs: 50 });
    const run = runWithLimits(machine(definition, 0), {}, { lambdas: { Work: fn } });
    expect(await run.result).toEqual({ status: 'SUCCEEDED', output: 'on time' });
    expect(calls).toBe(2);
  });

  it("fails with States.Timeout when the Task's TimeoutSeconds passes first", async () => {
    const definition = {
      StartAt: 'Work',
      States: { Work: { Type: 'Task', Resource: ARN, TimeoutSeconds: 1, End: true } },
    };
    const fn = lambda(() => sleep(1_500).then(() => 'late'), { timeoutMs: 5_000 });
    const outcome = await runWithLimits(machine(definition), {}, { lambdas: { Work: fn } }).result;
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'States.Timeout' });
  });

  it('throttles invocations beyond the reserved concurrency with Lambda.TooManyRequestsException', async () => {
    const fn = lambda(() => sleep(50).then(() => 'ok'), { reservedConcurrency: 2 });
    const outcomes = await Promise.allSettled([fn.invoke({}), fn.invoke({}), fn.invoke({})]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect((outcomes[2] as PromiseRejectedResult).reason).toMatchObject({
      name: 'Lambda.TooManyRequestsException',
    });
    expect(fn.peakConcurrency).toBe(2);
    expect(fn.throttles).toBe(1);
  });

  it('lets a Map wait out throttles through its Retry, never above the reserved concurrency', async () => {
    const iteration = {
      StartAt: 'Work',
      States: {
        Work: {
          Type: 'Task',
          Resource: ARN,
          Retry: [
            {
              ErrorEquals: ['Lambda.TooManyRequestsException'],
              IntervalSeconds: 2,
              MaxAttempts: 1000,
              BackoffRate: 2,
              MaxDelaySeconds: 300,
              JitterStrategy: 'FULL',
            },
          ],
          End: true,
        },
      },
    };
    const fn = lambda(() => sleep(20).then(() => ({})), { reservedConcurrency: 1 });
    // Seconds become milliseconds: same attempts, backoff and jitter.
    const run = runWithLimits(machine(mapOf(8, iteration), 0.001), itemsInput(8), { lambdas: { Work: fn } });
    expect((await run.result).status).toBe('SUCCEEDED');
    expect(fn.invocations).toBe(8);
    expect(fn.peakConcurrency).toBe(1);
    // The Map starts 4 iterations at once against 1 slot: at least 3 are throttled; how often the
    // retries are throttled again depends on the jittered backoff.
    expect(fn.throttles).toBeGreaterThanOrEqual(3);
  });
});

describe('local runner: how an execution ends, as Step Functions ends it', () => {
  it('starts no queued Map iteration once the Map has failed', async () => {
    const started: number[] = [];
    const fn = lambda(async (item: number) => {
      started.push(item);
      await sleep(5);
      if (item === 0) throw Object.assign(new Error('batch 0 failed'), { name: 'Broken' });
      return {};
    });
    const definition = mapOf(6, {
      StartAt: 'Work',
      States: { Work: { Type: 'Task', Resource: ARN, End: true } },
    });
    (definition.States.Each as { MaxConcurrency: number }).MaxConcurrency = 2;
    const run = runWithLimits(machine(definition), itemsInput(6), { lambdas: { Work: fn } });
    expect(await run.result).toMatchObject({ status: 'SUCCEEDED' }); // caught by the Map's Catch
    await sleep(100);
    // Items 0 and 1 were running; none of 2–5 may start after item 0 failed.
    expect(started.sort()).toEqual([0, 1]);
    const iterationsStarted = run.events.filter((e) => e.type === 'MapIterationStarted').map((e) => e.index);
    expect(iterationsStarted.sort()).toEqual([0, 1]);
  });

  it('ends TIMED_OUT, with no error or cause, when the execution passes its TimeoutSeconds', async () => {
    const definition = {
      TimeoutSeconds: 1,
      StartAt: 'Work',
      States: {
        Work: {
          Type: 'Task',
          Resource: ARN,
          Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }],
          End: true,
        },
        Caught: { Type: 'Pass', End: true },
      },
    };
    const fn = lambda(() => sleep(1_300).then(() => 'late'), { timeoutMs: 5_000 });
    const run = runWithLimits(machine(definition), {}, { lambdas: { Work: fn } });
    expect(await run.result).toEqual({ status: 'TIMED_OUT' });
    expect(run.events.map((e) => e.type)).toContain('ExecutionTimeout');
  });
});

describe('scaleWaits', () => {
  it('scales Retry intervals, maximum delays and Wait seconds, nothing else', () => {
    const definition = {
      StartAt: 'W',
      States: {
        W: { Type: 'Wait', Seconds: 10, Next: 'M' },
        M: {
          Type: 'Map',
          ItemProcessor: {
            StartAt: 'T',
            States: {
              T: {
                Type: 'Task',
                Resource: ARN,
                Retry: [
                  {
                    ErrorEquals: ['E'],
                    IntervalSeconds: 2,
                    MaxAttempts: 7,
                    BackoffRate: 2,
                    MaxDelaySeconds: 60,
                  },
                ],
                End: true,
              },
            },
          },
          End: true,
        },
      },
    };
    const scaled = scaleWaits(definition, 0.001) as any;
    expect(scaled.States.W.Seconds).toBeCloseTo(0.01);
    expect(scaled.States.M.ItemProcessor.States.T.Retry[0]).toEqual({
      ErrorEquals: ['E'],
      IntervalSeconds: 0.002,
      MaxAttempts: 7,
      BackoffRate: 2,
      MaxDelaySeconds: 0.06,
    });
    expect(definition.States.W.Seconds).toBe(10);
  });
});
