import { Logger } from '@aws-lambda-powertools/logger';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DeliveryRequest } from '../../functions/core/delivery/request.js';
import { DeliveryRequestError } from '../../functions/core/errors.js';
import { sfnStarter } from '../../functions/start/sfn-starter.js';
import { createStartHandler } from '../../functions/start/start-handler.js';
import { triggerContextFromEnvironment } from '../../functions/start/trigger-context.js';
import { lambdaContext } from '../../local/workflow/lambda-context.js';

const logger = new Logger({ logLevel: 'SILENT' });
const objectCreated = (key: string) =>
  JSON.stringify({
    source: 'aws.s3',
    'detail-type': 'Object Created',
    detail: { bucket: { name: 'footage' }, object: { key, etag: 'e1', sequencer: '01' } },
  });
const sqsEvent = (...bodies: string[]) => ({
  Records: bodies.map((body, i) => ({ messageId: `m${i + 1}`, body, eventSource: 'aws:sqs' })),
});

describe('start handler', () => {
  it('reports only the failed SQS messages, so they are retried and then reach the DLQ', async () => {
    const started: Array<[string, DeliveryRequest]> = [];
    const handler = createStartHandler(
      async () => async (name, input) => {
        if (input.files?.[0]?.key === 'flaky.mov') throw new Error('StartExecution throttled');
        started.push([name, input]);
        return true;
      },
      { logger },
    );
    const result = await handler(
      sqsEvent(objectCreated('good.mov'), '{not json', objectCreated('flaky.mov'), objectCreated('folder/')),
      lambdaContext('start', 10_000),
    );
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm2' }, { itemIdentifier: 'm3' }] });
    expect(started).toHaveLength(1);
    expect(started[0]![1]).toMatchObject({
      files: [{ bucket: 'footage', key: 'good.mov' }],
      deliveryId: started[0]![0],
    });
  });

  it('reports exactly the message whose start failed transiently, beside one that started', async () => {
    const started: string[] = [];
    const handler = createStartHandler(
      async () => async (_name, input) => {
        const key = input.files?.[0]?.key;
        if (key === 'flaky.mov') throw new Error('StartExecution throttled');
        started.push(key!);
        return true;
      },
      { logger },
    );
    const result = await handler(
      sqsEvent(objectCreated('flaky.mov'), objectCreated('good.mov')),
      lambdaContext('start', 10_000),
    );
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }] });
    expect(started).toEqual(['good.mov']);
  });

  it('reports every message of a batch that failed whole, instead of throwing', async () => {
    const handler = createStartHandler(
      async () => async () => {
        throw new Error('StartExecution throttled');
      },
      { logger },
    );
    const result = await handler(
      sqsEvent(objectCreated('a.mov'), objectCreated('b.mov')),
      lambdaContext('start', 10_000),
    );
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }, { itemIdentifier: 'm2' }] });
  });

  it('starts the messages of a batch one at a time, so a repeated message meets its first copy', async () => {
    let inFlight = 0;
    let mostInFlight = 0;
    const handler = createStartHandler(
      async () => async () => {
        mostInFlight = Math.max(mostInFlight, ++inFlight);
        await new Promise((resolve) => setTimeout(resolve, 5));
        inFlight--;
        return true;
      },
      { logger },
    );
    await handler(
      sqsEvent(objectCreated('a.mov'), objectCreated('a.mov'), objectCreated('b.mov')),
      lambdaContext('start', 10_000),
    );
    expect(mostInFlight).toBe(1);
  });

  it('counts an already existing execution as success', async () => {
    const handler = createStartHandler(async () => async () => false, { logger });
    const result = await handler(sqsEvent(objectCreated('again.mov')), lambdaContext('start', 10_000));
    expect(result).toEqual({ batchItemFailures: [] });
  });

  it('throws on a bad direct invocation so the caller sees why', async () => {
    const handler = createStartHandler(async () => async () => true, { logger });
    await expect(handler({ bucket: 'footage' }, lambdaContext('start', 10_000))).rejects.toThrow(
      /exactly one of key/,
    );
  });
});

describe('sfnStarter', () => {
  const sfn = mockClient(SFNClient);
  beforeEach(() => {
    sfn.reset();
    vi.stubEnv('STATE_MACHINE_ARN', 'arn:aws:states:us-east-1:123456789012:stateMachine:relay');
  });
  afterEach(() => vi.unstubAllEnvs());

  it('starts the execution with the deterministic name and the request as input', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:x', startDate: new Date() });
    const start = await sfnStarter();
    await expect(start('clip-abc', { files: [{ bucket: 'bkt', key: 'k' }] })).resolves.toBe(true);
    expect(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input).toEqual({
      stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:relay',
      name: 'clip-abc',
      input: JSON.stringify({ files: [{ bucket: 'bkt', key: 'k' }] }),
    });
  });

  it('returns false for ExecutionAlreadyExists of the same request and rethrows anything else', async () => {
    const start = await sfnStarter();
    sfn
      .on(StartExecutionCommand)
      .rejectsOnce(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }))
      .rejectsOnce(new Error('AccessDenied'));
    sfn.on(DescribeExecutionCommand).resolves({ input: JSON.stringify({ requestId: 'r' }) });
    await expect(start('dup', { requestId: 'r' })).resolves.toBe(false);
    expect(sfn.commandCalls(DescribeExecutionCommand)[0]!.args[0].input).toEqual({
      executionArn: 'arn:aws:states:us-east-1:123456789012:execution:relay:dup',
    });
    await expect(start('x', {})).rejects.toThrow('AccessDenied');
  });

  it('refuses a name taken by another request, and one whose input it cannot read', async () => {
    const start = await sfnStarter();
    sfn.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));
    sfn
      .on(DescribeExecutionCommand)
      .resolvesOnce({ input: JSON.stringify({ requestId: 'r', package: { name: 'first' } }) })
      .resolvesOnce({});
    await expect(start('taken', { requestId: 'r' })).rejects.toThrow(DeliveryRequestError);
    await expect(start('taken', { requestId: 'r' })).rejects.toThrow(/input could not be read/);
  });

  it('says which environment variable is missing', async () => {
    vi.stubEnv('STATE_MACHINE_ARN', '');
    await expect(sfnStarter()).rejects.toThrow(/STATE_MACHINE_ARN is not set/);
  });
});

describe('triggerContextFromEnvironment', () => {
  afterEach(() => vi.unstubAllEnvs());
  const configured = 'arn:aws:sns:us-east-1:123456789012:footage-events';
  const config = {
    masv: { target: { kind: 'team', teamId: 'T', apiKeySecretName: 'k' } },
    triggers: { snsTopicArns: [configured] },
  };

  const requestQueue = 'arn:aws:sqs:us-east-1:123456789012:relay-requests';
  beforeEach(() => vi.stubEnv('REQUEST_QUEUE_ARN', requestQueue));

  it('reads the configuration, the source bucket, the request queue and the configured and app topics', () => {
    vi.stubEnv('RELAY_CONFIG', JSON.stringify(config));
    vi.stubEnv('SOURCE_BUCKET_NAME', 'footage');
    vi.stubEnv('TRIGGER_TOPIC_ARNS', '["arn:aws:sns:us-east-1:123456789012:app-topic"]');
    expect(triggerContextFromEnvironment()).toMatchObject({
      requestQueueArn: requestQueue,
      sourceBucket: 'footage',
      snsTopicArns: [configured, 'arn:aws:sns:us-east-1:123456789012:app-topic'],
      config: { masv: { target: { teamId: 'T' } } },
    });
  });

  it('uses the configured topics alone without TRIGGER_TOPIC_ARNS, and names a missing variable', () => {
    vi.stubEnv('RELAY_CONFIG', JSON.stringify(config));
    vi.stubEnv('SOURCE_BUCKET_NAME', 'footage');
    vi.stubEnv('TRIGGER_TOPIC_ARNS', '');
    expect(triggerContextFromEnvironment().snsTopicArns).toEqual([configured]);
    vi.stubEnv('SOURCE_BUCKET_NAME', '');
    expect(() => triggerContextFromEnvironment()).toThrow(/SOURCE_BUCKET_NAME is not set/);
  });
});
