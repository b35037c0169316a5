// One requestId, one package: the execution name depends on the id alone, and a different request
// reusing the id is refused with a clear error instead of being counted as a duplicate.
import { Logger } from '@aws-lambda-powertools/logger';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../functions/core/config.js';
import { sameDeliveryRequest } from '../../functions/core/steps/start.js';
import type { TriggerContext } from '../../functions/core/triggers/triggers.js';
import { sfnStarter } from '../../functions/start/sfn-starter.js';
import { createStartHandler } from '../../functions/start/start-handler.js';
import { lambdaContext } from '../../local/workflow/lambda-context.js';
import { BUCKET, REQUEST_QUEUE_ARN, sqsEventFrom } from '../helpers/aws-events.js';

const STATE_MACHINE = 'arn:aws:states:us-west-2:123456789012:stateMachine:relay';

const context: TriggerContext = {
  config: parseConfig({
    masv: { target: { kind: 'team', teamId: 'T', apiKeySecretName: 'masv/api-key' } },
    package: { recipients: ['editor@example.com'] },
    source: { prefix: 'outgoing/' },
    access: { recipientDomains: ['example.com'] },
  }),
  sourceBucket: BUCKET,
};

/** A relay request as the relay's bus rule delivers it. */
const onBus = (detail: unknown) => ({
  version: '0',
  id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
  'detail-type': 'MASV Relay Request',
  source: 'my.app',
  account: '111122223333',
  time: '2026-11-27T00:00:00Z',
  region: 'us-west-2',
  resources: [],
  detail,
});

describe('requestId: one package per id', () => {
  const sfn = mockClient(SFNClient);
  /** Step Functions as it behaves: a name is taken once; a reuse is ExecutionAlreadyExists. */
  const executions = new Map<string, string>();
  beforeEach(() => {
    sfn.reset();
    executions.clear();
    vi.stubEnv('STATE_MACHINE_ARN', STATE_MACHINE);
    sfn.on(StartExecutionCommand).callsFake((input: { name: string; input: string }) => {
      if (executions.has(input.name)) {
        throw new ExecutionAlreadyExists({ message: 'exists', $metadata: { httpStatusCode: 400 } });
      }
      executions.set(input.name, input.input);
      return { executionArn: `${STATE_MACHINE}:${input.name}`, startDate: new Date() };
    });
    sfn.on(DescribeExecutionCommand).callsFake((input: { executionArn: string }) => ({
      executionArn: input.executionArn,
      input: executions.get(input.executionArn.split(':').pop()!),
      status: 'SUCCEEDED',
    }));
  });
  afterEach(() => vi.unstubAllEnvs());

  const invoke = (event: unknown) =>
    createStartHandler(
      sfnStarter,
      { logger: new Logger({ logLevel: 'SILENT' }) },
      async () => context,
    )(event, lambdaContext('start', 10_000)) as Promise<{ started: string[]; duplicates: string[] }>;

  it('names the execution from the id alone, so a retry listing the keys in another order is a duplicate', async () => {
    const first = await invoke(
      onBus({ bucket: BUCKET, keys: ['outgoing/a.mov', 'outgoing/b.mov'], requestId: 'job-42' }),
    );
    expect(first.started).toEqual([expect.stringMatching(/^request-[0-9a-f]{40}$/)]);
    const retry = await invoke(
      onBus({ bucket: BUCKET, keys: ['outgoing/b.mov', 'outgoing/a.mov'], requestId: 'job-42' }),
    );
    expect(retry).toMatchObject({ started: [], duplicates: first.started });
    expect(executions.size).toBe(1);
    // The existing execution's input was read to make sure it is the same request.
    expect(sfn.commandCalls(DescribeExecutionCommand)[0]!.args[0].input.executionArn).toBe(
      `arn:aws:states:us-west-2:123456789012:execution:relay:${first.started[0]}`,
    );
  });

  it('refuses a different request reusing the id, naming it, instead of dropping it as a duplicate', async () => {
    await invoke(onBus({ bucket: BUCKET, key: 'outgoing/a.mov', requestId: 'job-42' }));
    await expect(
      invoke(
        onBus({
          bucket: BUCKET,
          key: 'outgoing/a.mov',
          requestId: 'job-42',
          package: { recipients: ['vfx@example.com'] },
        }),
      ),
    ).rejects.toThrow(/already exists for a different request: requestId "job-42" was used before/);
    expect(executions.size).toBe(1);
  });

  it('sends a reused requestId from the request queue back for retry and the DLQ, with the reason', async () => {
    const logger = new Logger({ logLevel: 'SILENT' });
    const errors = vi.spyOn(logger, 'error');
    const handler = createStartHandler(sfnStarter, { logger }, async () => ({
      ...context,
      requestQueueArn: REQUEST_QUEUE_ARN,
    }));
    const first = JSON.stringify(onBus({ bucket: BUCKET, key: 'outgoing/a.mov', requestId: 'job-7' }));
    const other = JSON.stringify(onBus({ bucket: BUCKET, key: 'outgoing/b.mov', requestId: 'job-7' }));
    const result = (await handler(
      sqsEventFrom(REQUEST_QUEUE_ARN, first, first, other),
      lambdaContext('start', 10_000),
    )) as { batchItemFailures: Array<{ itemIdentifier: string }> };
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: '059f36b4-87a3-44ab-83d2-661975132832' }]);
    expect((errors.mock.calls[0]![1] as { reason: string }).reason).toMatch(
      /requestId "job-7" was used before/,
    );
    expect(executions.size).toBe(1);
  });

  it('compares requests regardless of file order, and tells apart any other difference', () => {
    const a = {
      files: [
        { bucket: 'b', key: 'x' },
        { bucket: 'b', key: 'y' },
      ],
      requestId: 'r',
      deliveryId: 'n',
    };
    expect(sameDeliveryRequest(a, { ...a, files: [...a.files].reverse() })).toBe(true);
    expect(sameDeliveryRequest(a, { ...a, files: [{ bucket: 'b', key: 'x' }] })).toBe(false);
    expect(sameDeliveryRequest(a, { ...a, package: { name: 'other' } })).toBe(false);
  });
});
