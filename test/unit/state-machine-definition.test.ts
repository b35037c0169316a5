import { readFileSync } from 'node:fs';
import aslLanguageService from 'amazon-states-language-service';
import aslValidator from 'asl-validator';
import { StateMachine } from 'aws-local-stepfunctions';
import { describe, expect, it } from 'vitest';
import { EXECUTION_TIMEOUT_SECONDS, HISTORY_EVENT_BUDGET } from '../../functions/core/delivery/part-plan.js';
import { RETRYABLE_ERROR_NAMES } from '../../functions/core/errors.js';
import { handlerError, MAX_CAUSE_CHARS } from '../../local/workflow/aws-limits.js';
import { runWithLimits, scaleWaits } from '../../local/workflow/limited-execution.js';
import {
  ARN_PLACEHOLDERS,
  DEFINITION_PATH,
  LAMBDA_TIMEOUT_SECONDS,
  renderDefinition,
  substituteArns,
} from '../../statemachines/definition.js';

const raw = readFileSync(DEFINITION_PATH, 'utf8');
const arns = Object.fromEntries(
  ARN_PLACEHOLDERS.map((p) => [p, `arn:aws:lambda:us-east-1:123456789012:function:${p}`]),
) as Record<(typeof ARN_PLACEHOLDERS)[number], string>;
const definition = JSON.parse(substituteArns(renderDefinition({ MapConcurrency: 10 }, raw), arns));

function allTasks(states: Record<string, any>): Array<[string, any]> {
  const found: Array<[string, any]> = [];
  for (const [name, state] of Object.entries(states)) {
    if (state.Type === 'Task') found.push([name, state]);
    if (state.Type === 'Map') found.push(...allTasks(state.ItemProcessor.States));
  }
  return found;
}

describe('statemachines/relay.asl.json', () => {
  it('is valid ASL with the ARN placeholders as written, and once substituted', () => {
    const rawResult = aslValidator(JSON.parse(renderDefinition({ MapConcurrency: 10 }, raw)));
    expect(rawResult.errorsText()).toBe('');
    const result = aslValidator(definition);
    expect(result.errorsText()).toBe('');
    expect(result.isValid).toBe(true);
  });

  it("has no diagnostics from AWS's own ASL language service, as written and once substituted", async () => {
    const service = aslLanguageService.getLanguageService({});
    const diagnosticsOf = async (text: string) => {
      const document = aslLanguageService.TextDocument.create('file:///relay.asl.json', 'json', 1, text);
      const found = await service.doValidation(document, service.parseJSONDocument(document));
      return found.map((d) => `${d.range.start.line + 1}: ${d.message}`);
    };
    expect(await diagnosticsOf(renderDefinition({ MapConcurrency: 10 }, raw))).toEqual([]);
    expect(await diagnosticsOf(JSON.stringify(definition, null, 2))).toEqual([]);
    // It does find what is wrong: a misspelt field, a missing Next.
    expect(
      await diagnosticsOf('{"StartAt":"A","States":{"A":{"Type":"Pass","Nex":"B"},"B":{"Type":"Succeed"}}}'),
    ).not.toEqual([]);
  });

  it('uses JSONPath, an inline Map with MaxConcurrency from the substitution, and small items', () => {
    expect(definition.QueryLanguage ?? 'JSONPath').toBe('JSONPath');
    const map = definition.States.Transfer;
    expect(map.ItemProcessor.ProcessorConfig.Mode).toBe('INLINE');
    expect(map.MaxConcurrency).toBe(10);
    expect(map.ResultPath).toBeNull();
    expect(Object.keys(map.ItemSelector).sort()).toEqual([
      'batch.$',
      'deliveryId.$',
      'file.$',
      'packageId.$',
    ]);
  });

  it('gives every Task a function ARN as Resource and an explicit TimeoutSeconds', () => {
    const tasks = allTasks(definition.States);
    expect(tasks.map(([n]) => n).sort()).toEqual(['Abort', 'Finalize', 'Prepare', 'Transfer Batch']);
    for (const [, task] of tasks) {
      expect(task.Resource).toMatch(/^arn:aws:lambda:us-east-1:123456789012:function:\w+FunctionArn$/);
    }
    // Each is its Lambda's timeout (LAMBDA_TIMEOUT_SECONDS) plus 30 s.
    expect(Object.fromEntries(tasks.map(([name, task]) => [name, task.TimeoutSeconds]))).toEqual({
      Prepare: 330,
      'Transfer Batch': 930,
      Finalize: 330,
      Abort: 150,
    });
  });

  it('gives every Task a timeout longer than its Lambda timeout', () => {
    const states = definition.States;
    const tasks: Array<[any, number]> = [
      [states.Prepare, LAMBDA_TIMEOUT_SECONDS.prepare],
      [states.Transfer.ItemProcessor.States['Transfer Batch'], LAMBDA_TIMEOUT_SECONDS.transfer],
      [states.Finalize, LAMBDA_TIMEOUT_SECONDS.finalize],
      [states.Abort, LAMBDA_TIMEOUT_SECONDS.abort],
    ];
    for (const [task, lambdaSeconds] of tasks) expect(task.TimeoutSeconds).toBeGreaterThan(lambdaSeconds);
  });

  it('retries transfers on every retryable relay error and on Lambda timeouts, with backoff and full jitter', () => {
    const retriers = definition.States.Transfer.ItemProcessor.States['Transfer Batch'].Retry;
    const transient = retriers.find((r: any) => r.ErrorEquals.includes('MasvServerError'));
    for (const name of RETRYABLE_ERROR_NAMES) expect(transient.ErrorEquals).toContain(name);
    // Lambda's own timeout name on current runtimes, and the Task's own TimeoutSeconds.
    expect(transient.ErrorEquals).toEqual(expect.arrayContaining(['Sandbox.Timedout', 'States.Timeout']));
    expect(transient).toMatchObject({ BackoffRate: 2, JitterStrategy: 'FULL' });
  });

  it('waits out throttles of the transfer function for hours, in a retrier of their own', () => {
    const retriers = definition.States.Transfer.ItemProcessor.States['Transfer Batch'].Retry;
    const throttle = retriers[0];
    expect(throttle.ErrorEquals).toEqual(['Lambda.TooManyRequestsException']);
    expect(
      retriers.slice(1).some((r: any) => r.ErrorEquals.includes('Lambda.TooManyRequestsException')),
    ).toBe(false);
    // FULL jitter waits uniformly in [0, cap]: the expected wait of attempt k is half its cap.
    let expectedSeconds = 0;
    for (let k = 0; k < throttle.MaxAttempts; k++)
      expectedSeconds +=
        Math.min(throttle.MaxDelaySeconds, throttle.IntervalSeconds * throttle.BackoffRate ** k) / 2;
    expect(expectedSeconds / 3600).toBeGreaterThan(24);
    // Two history events per throttled attempt (scheduled, start failed): one whole wait of even 40
    // iterations (the largest mapConcurrency) fits the 5,000 events the planner leaves beside a plan.
    expect(40 * throttle.MaxAttempts * 2).toBeLessThanOrEqual(25_000 - HISTORY_EVENT_BUDGET);
  });

  it('ends each Map iteration with an empty output and pauses before each transfer invocation', () => {
    const processor = definition.States.Transfer.ItemProcessor;
    expect(processor.StartAt).toBe('Take Turn');
    expect(processor.States['Take Turn']).toMatchObject({ Type: 'Wait', Next: 'Transfer Batch' });
    expect(processor.States['Batch Finished?'].Choices[0].Next).toBe('Take Turn');
    expect(processor.States['Batch Done']).toMatchObject({ Type: 'Pass', Result: {}, End: true });
  });

  it('sends every failure of Prepare, Transfer and Finalize to Abort, then to a Fail state', () => {
    for (const state of ['Prepare', 'Transfer', 'Finalize']) {
      expect(definition.States[state].Catch).toEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Abort' },
      ]);
    }
    expect(definition.States.Abort.Next).toBe('Delivered After All?');
    const choice = definition.States['Delivered After All?'];
    expect(choice.Choices).toEqual([
      { Variable: '$.abort.delivered', BooleanEquals: true, Next: 'Delivered Despite Error' },
    ]);
    expect(choice.Default).toBe('Cause Given?');
    expect(definition.States.Abort.Catch[0].Next).toBe('Cause Given?');
    expect(definition.States['Delivered Despite Error']).toMatchObject({
      Type: 'Succeed',
      OutputPath: '$.abort',
    });
    expect(definition.States['Delivery Failed'].Type).toBe('Fail');
  });

  it("fails with the delivery's own error whether or not the caught error has a Cause", async () => {
    // The end of the workflow, from Abort's answer on: run as the local engine runs it.
    const ending = {
      StartAt: 'Delivered After All?',
      States: Object.fromEntries(
        Object.entries(definition.States).filter(
          ([name]) =>
            ['Delivered After All?', 'Delivered Despite Error', 'Cause Given?'].includes(name) ||
            name.startsWith('Delivery Failed'),
        ),
      ),
    };
    const end = (error: object) =>
      runWithLimits(
        new StateMachine(ending as never),
        { error, abort: { delivered: false } },
        { lambdas: {} },
      ).result;
    expect(await end({ Error: 'MasvServerError', Cause: '{"errorType":"MasvServerError"}' })).toEqual({
      status: 'FAILED',
      error: 'MasvServerError',
      cause: '{"errorType":"MasvServerError"}',
    });
    expect(await end({ Error: 'States.Timeout' })).toMatchObject({
      status: 'FAILED',
      error: 'States.Timeout',
    });
    expect(await end({ Error: 'States.Timeout', Cause: null })).toMatchObject({
      status: 'FAILED',
      error: 'States.Timeout',
    });
  });

  it("ends with the delivery's own error when Abort itself fails, its Cause kept out of the state", async () => {
    // Abort's Catch drops its own error (it stays in the history): a second Cause of up to 32,768
    // characters beside a state near 256 KiB would otherwise break the payload quota, an
    // uncatchable States.DataLimitExceeded instead of the delivery's error.
    expect(definition.States.Abort.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: null, Next: 'Cause Given?' },
    ]);
    const fromAbort = scaleWaits(
      {
        StartAt: 'Abort',
        States: Object.fromEntries(
          Object.entries(definition.States).filter(
            ([name]) =>
              ['Abort', 'Delivered After All?', 'Delivered Despite Error', 'Cause Given?'].includes(name) ||
              name.startsWith('Delivery Failed'),
          ),
        ),
      },
      0,
    );
    const abortFails = {
      invoke: async () => {
        throw handlerError(
          Object.assign(new Error('x'.repeat(MAX_CAUSE_CHARS)), { name: 'StateBucketError' }),
        );
      },
    };
    const state = {
      files: [{ bucket: 'src', key: 'clip.mov', note: 'n'.repeat(240_000) }],
      error: { Error: 'MasvServerError', Cause: '{"errorMessage":"MASV answered 503"}' },
    };
    const run = runWithLimits(new StateMachine(fromAbort as never), state, {
      lambdas: { Abort: abortFails as never },
      context: { Execution: { Name: 'd1' } },
    });
    expect(await run.result).toEqual({
      status: 'FAILED',
      error: 'MasvServerError',
      cause: '{"errorMessage":"MASV answered 503"}',
    });
  });

  it('retries Prepare and Finalize cut short by a timeout: both are safe to run again', () => {
    // Lambda's own timeout (Sandbox.Timedout), the Task's (States.Timeout) and middy's early one (TimeoutError).
    const retried = (state: { Retry: Array<{ ErrorEquals: string[] }> }) =>
      state.Retry.flatMap((r) => r.ErrorEquals);
    for (const state of [definition.States.Prepare, definition.States.Finalize]) {
      for (const name of ['Sandbox.Timedout', 'States.Timeout', 'TimeoutError', 'MasvOutcomeUnknownError'])
        expect(retried(state)).toContain(name);
    }
    expect(retried(definition.States.Transfer.ItemProcessor.States['Transfer Batch'])).toContain(
      'TimeoutError',
    );
  });

  it("retries every Lambda Task on Lambda's crashes and AWS's transient Lambda service errors", () => {
    // Unhandled function errors (Lambda.Unknown), a crash or out-of-memory kill (Runtime.ExitError,
    // passed through as Lambda reports it), a timeout (Sandbox.Timedout), and the retrier AWS's
    // guide recommends for transient service errors ("Handle Lambda service exceptions").
    const lambdaFailures = [
      'Lambda.Unknown',
      'Runtime.ExitError',
      'Sandbox.Timedout',
      'Lambda.ClientExecutionTimeoutException',
      'Lambda.ServiceException',
      'Lambda.AWSLambdaException',
      'Lambda.SdkClientException',
    ];
    for (const [name, task] of allTasks(definition.States)) {
      const retried = (task.Retry as Array<{ ErrorEquals: string[] }>).flatMap((r) => r.ErrorEquals);
      if (retried.includes('States.ALL')) continue; // Abort: everything is retried.
      for (const failure of lambdaFailures) expect(retried, `${name} retries ${failure}`).toContain(failure);
    }
  });

  it('waits out Lambda throttles in every Task, not only Transfer, within the history reserve', () => {
    for (const name of ['Prepare', 'Finalize', 'Abort']) {
      const [first, ...rest] = definition.States[name].Retry as Array<{
        ErrorEquals: string[];
        MaxAttempts: number;
        MaxDelaySeconds: number;
      }>;
      expect(first).toMatchObject({ ErrorEquals: ['Lambda.TooManyRequestsException'], MaxDelaySeconds: 600 });
      expect(first!.MaxAttempts).toBeGreaterThanOrEqual(30);
      for (const retrier of rest)
        expect(retrier.ErrorEquals).not.toContain('Lambda.TooManyRequestsException');
    }
    // Two history events per throttled attempt: every Task's whole wait together fits the reserve
    // the planner leaves beside a plan (40 waiting transfer iterations at most).
    const attempts = (retry: Array<{ ErrorEquals: string[]; MaxAttempts: number }>) =>
      retry.find((r) => r.ErrorEquals.includes('Lambda.TooManyRequestsException'))!.MaxAttempts;
    const transfer = definition.States.Transfer.ItemProcessor.States['Transfer Batch'].Retry;
    const others = ['Prepare', 'Finalize', 'Abort'].map(
      (name) => 2 * attempts(definition.States[name].Retry),
    );
    expect(2 * attempts(transfer) * 40 + others.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(5_000);
  });

  it('times out after the 48 hours the planner plans within', () => {
    expect(definition.TimeoutSeconds).toBe(EXECUTION_TIMEOUT_SECONDS);
  });

  it('refuses a definition with an unfilled placeholder', () => {
    expect(() => substituteArns(raw, { ...arns, AbortFunctionArn: '${Other}' })).toThrow(/placeholder/);
  });

  it('loops Prepare through a Wait while archived sources are being restored, and goes on to Transfer otherwise', () => {
    const states = definition.States;
    expect(states.Prepare.Next).toBe('Sources Readable?');
    expect(states['Sources Readable?']).toMatchObject({
      Type: 'Choice',
      Choices: [{ Variable: '$.prepared.restoring', IsPresent: true, Next: 'Wait For Restore' }],
      Default: 'Transfer',
    });
    expect(states['Wait For Restore']).toMatchObject({
      Type: 'Wait',
      SecondsPath: '$.prepared.restoring.waitSeconds',
      Next: 'Prepare',
    });
  });
});
