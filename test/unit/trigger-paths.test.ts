import { Logger } from '@aws-lambda-powertools/logger';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  KmsThrottlingException,
  SFNClient,
  SFNServiceException,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../functions/core/config.js';
import type { DeliveryRequest } from '../../functions/core/delivery/request.js';
import type { StartExecution } from '../../functions/core/steps/start.js';
import type { TriggerContext } from '../../functions/core/triggers/triggers.js';
import { sfnStarter } from '../../functions/start/sfn-starter.js';
import { createStartHandler } from '../../functions/start/start-handler.js';
import { lambdaContext } from '../../local/workflow/lambda-context.js';
import {
  BUCKET,
  batchOperationsV1,
  batchOperationsV2,
  REQUEST_QUEUE_ARN,
  relayRequestEvent,
  s3Notification,
  s3Record,
  s3TestEvent,
  snsEnvelope,
  snsLambdaEvent,
  sqsEvent,
  sqsEventFrom,
  TOPIC_ARN,
} from '../helpers/aws-events.js';

const context: TriggerContext = {
  config: parseConfig({
    masv: { target: { kind: 'team', teamId: 'T', apiKeySecretName: 'masv/api-key' } },
    package: { recipients: ['editor@example.com'] },
    source: { prefix: 'outgoing/' },
    prefixRules: [{ prefix: 'outgoing/folders/', delivery: 'folder' }],
    triggers: { snsTopicArns: [TOPIC_ARN] },
    access: { recipientDomains: ['example.com'] },
  }),
  sourceBucket: BUCKET,
  requestQueueArn: REQUEST_QUEUE_ARN,
};

function harness(starter?: StartExecution) {
  const logger = new Logger({ logLevel: 'SILENT' });
  const errors = vi.spyOn(logger, 'error');
  const started: Array<[string, DeliveryRequest]> = [];
  const seen = new Set<string>();
  const start: StartExecution =
    starter ??
    (async (name, input) => {
      if (seen.has(name)) return false;
      seen.add(name);
      started.push([name, input]);
      return true;
    });
  const handler = createStartHandler(
    async () => start,
    { logger },
    async () => context,
  );
  const invoke = (event: unknown) => handler(event, lambdaContext('start', 10_000));
  /** The reasons logged for failed SQS messages, in order. */
  const reasons = () => errors.mock.calls.map((c) => (c[1] as { reason: string }).reason);
  return { invoke, started, reasons };
}

const notification = (key: string, options?: Parameters<typeof s3Record>[1]) =>
  JSON.stringify(s3Notification(s3Record(key, options)));

describe('S3 → SNS → Lambda', () => {
  it('starts the delivery of the S3 notification inside Sns.Message, named as the direct notification', async () => {
    const h = harness();
    const key = 'outgoing/day+1/Happy%2BFace.jpg';
    const viaSns = (await h.invoke(
      snsLambdaEvent(snsEnvelope(notification(key, { versionId: '096fKKXTRTtl3on89fVO.nfljtsv6qko' }))),
    )) as { started: string[] };
    expect(h.started).toHaveLength(1);
    expect(h.started[0]![1]).toMatchObject({
      files: [
        {
          bucket: BUCKET,
          key: 'outgoing/day 1/Happy+Face.jpg',
          versionId: '096fKKXTRTtl3on89fVO.nfljtsv6qko',
        },
      ],
    });
    const direct = (await h.invoke(
      s3Notification(s3Record(key, { versionId: '096fKKXTRTtl3on89fVO.nfljtsv6qko' })),
    )) as { duplicates: string[] };
    expect(direct.duplicates).toEqual(viaSns.started);
  });

  it('skips the S3 test event delivered through SNS', async () => {
    const h = harness();
    const summary = (await h.invoke(snsLambdaEvent(snsEnvelope(JSON.stringify(s3TestEvent()))))) as {
      skipped: string[];
    };
    expect(summary.skipped).toEqual([expect.stringMatching(/S3 test event delivered through SNS/)]);
    expect(h.started).toEqual([]);
  });

  it('skips objects outside the source prefix that a shared topic also carries', async () => {
    const h = harness();
    const summary = (await h.invoke(snsLambdaEvent(snsEnvelope(notification('other-team/x.mov'))))) as {
      skipped: string[];
    };
    expect(summary.skipped).toEqual([expect.stringMatching(/outside the source prefix "outgoing\/"/)]);
  });

  it.each([
    ['a message that is not JSON', snsEnvelope('Hello from SNS!'), /is not JSON/],
    [
      'a topic the configuration does not name',
      snsEnvelope(notification('outgoing/a.mov'), 'arn:aws:sns:us-west-2:999999999999:other'),
      /arn:aws:sns:us-west-2:999999999999:other is not one of this relay's topics/,
    ],
    [
      'a relay request smuggled through SNS',
      snsEnvelope(JSON.stringify({ bucket: BUCKET, key: 'outgoing/a.mov' })),
      /not an S3 event notification.*event bus/,
    ],
    [
      'a subscription confirmation',
      snsEnvelope('You have chosen to subscribe…', TOPIC_ARN, 'SubscriptionConfirmation'),
      /asks to confirm a subscription/,
    ],
    [
      'an event from another bucket',
      snsEnvelope(notification('outgoing/a.mov', { bucket: 'someone-else' })),
      /bucket "someone-else".*only from its source bucket "amzn-s3-demo-bucket"/,
    ],
    ['a record without its envelope', undefined, /no "Sns" envelope/],
  ])('refuses %s with a specific error', async (_what, envelope, message) => {
    const h = harness();
    await expect(h.invoke(snsLambdaEvent(envelope))).rejects.toThrow(message);
    expect(h.started).toEqual([]);
  });
});

describe('S3 → SNS → SQS → Lambda', () => {
  it('reads the SNS envelope (non-raw delivery) and the bare notification (raw delivery) alike', async () => {
    const h = harness();
    const key = 'outgoing/reel.mov';
    const result = await h.invoke(
      sqsEvent(
        JSON.stringify(snsEnvelope(notification(key, { versionId: 'v7' }))),
        notification(key, { versionId: 'v7' }),
      ),
    );
    expect(result).toEqual({ batchItemFailures: [] });
    expect(h.started).toHaveLength(1); // the raw copy is the same object version: a duplicate
    expect(h.started[0]![1]).toMatchObject({ files: [{ key, versionId: 'v7' }] });
  });

  it('skips the S3 test event in an envelope without failing the message', async () => {
    const h = harness();
    const result = await h.invoke(sqsEvent(JSON.stringify(snsEnvelope(JSON.stringify(s3TestEvent())))));
    expect(result).toEqual({ batchItemFailures: [] });
  });

  it('fails only the malformed envelopes (partial batch failure → retries → DLQ), each with its reason', async () => {
    const h = harness();
    const result = await h.invoke(
      sqsEvent(
        JSON.stringify(snsEnvelope(notification('outgoing/good.mov'))),
        JSON.stringify(snsEnvelope('{"Records": [')),
        JSON.stringify(
          snsEnvelope(notification('outgoing/b.mov'), 'arn:aws:sns:us-west-2:123456789012:not-ours'),
        ),
        JSON.stringify({ ...snsEnvelope(''), Message: 42 }),
        JSON.stringify(snsEnvelope(notification('outgoing/c.mov'), TOPIC_ARN, 'UnsubscribeConfirmation')),
      ),
    );
    expect(result).toEqual({
      batchItemFailures: [
        { itemIdentifier: '059f36b4-87a3-44ab-83d2-661975132831' },
        { itemIdentifier: '059f36b4-87a3-44ab-83d2-661975132832' },
        { itemIdentifier: '059f36b4-87a3-44ab-83d2-661975132833' },
        { itemIdentifier: '059f36b4-87a3-44ab-83d2-661975132834' },
      ],
    });
    expect(h.reasons()).toEqual([
      expect.stringMatching(/MessageId 95df01b4.* is not JSON/),
      expect.stringMatching(/not-ours is not one of this relay's topics/),
      expect.stringMatching(/has no "Message" string/),
      expect.stringMatching(/Type "UnsubscribeConfirmation"/),
    ]);
    expect(h.started.map(([, r]) => r.files?.[0]?.key)).toEqual(['outgoing/good.mov']);
  });
});

describe('S3 Batch Operations', () => {
  it('answers schema 1.0 with the documented response, one delivery pinned to the task version', async () => {
    const h = harness();
    const response = await h.invoke(
      batchOperationsV1('outgoing/archive/clip+01%2Bb.mov', '3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY'),
    );
    expect(h.started).toHaveLength(1);
    const [name, input] = h.started[0]!;
    expect(input).toEqual({
      files: [
        {
          bucket: BUCKET,
          key: 'outgoing/archive/clip 01+b.mov',
          versionId: '3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY',
        },
      ],
      deliveryId: name,
    });
    expect(response).toEqual({
      invocationSchemaVersion: '1.0',
      treatMissingKeysAs: 'PermanentFailure',
      invocationId: 'YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo',
      results: [
        {
          taskId: 'dGFza2lkZ29lc2hlcmUK',
          resultCode: 'Succeeded',
          resultString: `Delivery started: ${name}`,
        },
      ],
    });
  });

  it('reads schema 2.0 (s3Bucket, null version, userArguments) and counts a retried task as already started', async () => {
    const h = harness();
    const event = batchOperationsV2([{ key: 'outgoing/a.mov' }, { key: 'outgoing/b.mov', versionId: 'v2' }], {
      recipients: 'post@example.com, vfx@studio.example.com',
      name: 'Backlog {basename}',
    });
    const first = (await h.invoke(event)) as {
      invocationSchemaVersion: string;
      results: Array<{ resultCode: string; resultString: string }>;
    };
    expect(first.invocationSchemaVersion).toBe('2.0');
    expect(first.results.map((r) => r.resultCode)).toEqual(['Succeeded', 'Succeeded']);
    expect(h.started[0]![1]).toMatchObject({
      files: [{ bucket: BUCKET, key: 'outgoing/a.mov' }],
      package: { recipients: ['post@example.com', 'vfx@studio.example.com'], name: 'Backlog {basename}' },
    });
    expect(h.started[0]![1].files![0]).not.toHaveProperty('versionId');
    expect(h.started[1]![1].files![0]).toMatchObject({ versionId: 'v2' });
    const again = (await h.invoke(event)) as { results: Array<{ resultCode: string; resultString: string }> };
    expect(again.results.map((r) => r.resultCode)).toEqual(['Succeeded', 'Succeeded']);
    expect(again.results[0]!.resultString).toMatch(/^Delivery already started: /);
    expect(h.started).toHaveLength(2);
  });

  it.each([
    [
      'a bucket outside the source',
      batchOperationsV1('outgoing/a.mov', null, 'other-bucket'),
      /bucket "other-bucket".*only from its source bucket/,
    ],
    [
      'a key outside the source prefix',
      batchOperationsV1('private/a.mov'),
      /outside the source prefix "outgoing\/"/,
    ],
    ['a task without a key', batchOperationsV2([{ key: '' }]), /no s3Key/],
    [
      'a task without a bucket',
      { ...batchOperationsV1('outgoing/a.mov'), tasks: [{ taskId: 't', s3Key: 'outgoing/a.mov' }] },
      /names no bucket/,
    ],
    [
      'unknown userArguments',
      batchOperationsV2([{ key: 'outgoing/a.mov' }], { colour: 'red' }),
      /unknown key\(s\) colour; allowed: recipients, name, description/,
    ],
    [
      'a recipient outside the allowed domains',
      batchOperationsV2([{ key: 'outgoing/a.mov' }], { recipients: 'someone@evil.example' }),
      /"someone@evil\.example".*allowed recipient domains \(example\.com\)/,
    ],
    [
      'an invalid recipient',
      batchOperationsV2([{ key: 'outgoing/a.mov' }], { recipients: 'not-an-email' }),
      /package\.recipients\.0/,
    ],
    [
      'an unknown schema version',
      { ...batchOperationsV1('outgoing/a.mov'), invocationSchemaVersion: '3.0' },
      /Unsupported invocationSchemaVersion "3\.0"/,
    ],
  ])('answers %s with PermanentFailure and the reason', async (_what, event, reason) => {
    const h = harness();
    const response = (await h.invoke(event)) as {
      results: Array<{ resultCode: string; resultString: string }>;
    };
    expect(response.results).toHaveLength(1);
    expect(response.results[0]!.resultCode).toBe('PermanentFailure');
    expect(response.results[0]!.resultString).toMatch(reason);
    expect(h.started).toEqual([]);
  });

  it('delivers a folder for its marker under a folder rule, never the marker as a file; the files wait for it', async () => {
    // An S3 Inventory manifest of the source prefix lists every _MASV_READY marker and file too.
    const h = harness();
    const response = (await h.invoke(
      batchOperationsV2([
        { key: 'outgoing/folders/DCP_01/_MASV_READY', versionId: 'mv1' },
        { key: 'outgoing/folders/DCP_01/ASSETMAP.xml' },
      ]),
    )) as { results: Array<{ resultCode: string; resultString: string }> };
    expect(h.started).toHaveLength(1);
    expect(h.started[0]![1]).toMatchObject({
      prefix: { bucket: BUCKET, prefix: 'outgoing/folders/DCP_01/' },
      marker: { key: 'outgoing/folders/DCP_01/_MASV_READY', versionId: 'mv1' },
    });
    expect(h.started[0]![1].files).toBeUndefined();
    expect(h.started[0]![0]).toMatch(/^DCP_01-[0-9a-f]{40}$/);
    expect(response.results.map((r) => r.resultCode)).toEqual(['Succeeded', 'Succeeded']);
    expect(response.results[1]!.resultString).toMatch(
      /Skipped: .*ASSETMAP\.xml is under the folder rule "outgoing\/folders\/".*_MASV_READY marker/,
    );
  });

  it('skips folder placeholders in a manifest as succeeded, not failed', async () => {
    const h = harness();
    const response = (await h.invoke(batchOperationsV2([{ key: 'outgoing/archive/' }]))) as {
      results: Array<{ resultCode: string; resultString: string }>;
    };
    expect(response.results[0]).toMatchObject({
      resultCode: 'Succeeded',
      resultString: expect.stringMatching(/folder placeholder/),
    });
  });

  describe('with the real Step Functions starter', () => {
    const sfn = mockClient(SFNClient);
    beforeEach(() => {
      sfn.reset();
      vi.stubEnv('STATE_MACHINE_ARN', 'arn:aws:states:us-west-2:123456789012:stateMachine:relay');
    });
    afterEach(() => vi.unstubAllEnvs());

    const sfnError = (name: string, status: number, fault: 'client' | 'server' = 'client') =>
      new SFNServiceException({
        name,
        $fault: fault,
        $metadata: { httpStatusCode: status },
        message: `${name} from Step Functions`,
      });

    it.each([
      [
        new ExecutionAlreadyExists({ message: 'exists', $metadata: { httpStatusCode: 400 } }),
        'Succeeded',
        /already started/,
      ],
      [sfnError('ThrottlingException', 400), 'TemporaryFailure', /ThrottlingException.*retries the task/],
      [sfnError('ExecutionLimitExceeded', 400), 'TemporaryFailure', /ExecutionLimitExceeded/],
      [sfnError('InternalServerError', 500, 'server'), 'TemporaryFailure', /InternalServerError/],
      // A state machine encrypted with a customer-managed key: StartExecution calls KMS.
      [
        new KmsThrottlingException({
          message: 'Rate exceeded for KMS GenerateDataKey',
          $metadata: { httpStatusCode: 400 },
        }),
        'TemporaryFailure',
        /KmsThrottlingException.*retries the task/,
      ],
      [sfnError('KmsInvalidStateException', 400), 'PermanentFailure', /KmsInvalidStateException/],
      [
        Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
        'TemporaryFailure',
        /socket hang up/,
      ],
      [sfnError('AccessDeniedException', 400), 'PermanentFailure', /AccessDeniedException/],
      [sfnError('InvalidExecutionInput', 400), 'PermanentFailure', /InvalidExecutionInput/],
    ])('maps %s to %s', async (error, code, reason) => {
      sfn.on(StartExecutionCommand).rejects(error);
      // The existing execution (a retried task) holds the same request.
      sfn.on(DescribeExecutionCommand).callsFake(() => ({
        input: sfn.commandCalls(StartExecutionCommand).at(-1)!.args[0].input.input,
      }));
      const handler = createStartHandler(
        sfnStarter,
        { logger: new Logger({ logLevel: 'SILENT' }) },
        async () => context,
      );
      const response = (await handler(
        batchOperationsV1('outgoing/a.mov'),
        lambdaContext('start', 10_000),
      )) as {
        results: Array<{ resultCode: string; resultString: string }>;
      };
      expect(response.results[0]!.resultCode).toBe(code);
      expect(response.results[0]!.resultString).toMatch(reason);
    });
  });
});

describe('who may ask: relay requests come only through the request queue', () => {
  const request = { bucket: BUCKET, prefix: 'outgoing/', package: { name: 'all of it' } };

  it('refuses a relay request on the trigger queue, bare or bus-shaped (a raw SNS subscription could carry either)', async () => {
    const h = harness();
    const out = (await h.invoke(
      sqsEvent(JSON.stringify(request), JSON.stringify(relayRequestEvent(request))),
    )) as { batchItemFailures: unknown[] };
    expect(h.started).toEqual([]);
    expect(out.batchItemFailures).toHaveLength(2);
    expect(h.reasons()).toEqual([
      expect.stringMatching(/trigger queue does not take relay requests.*relay's bus/),
      expect.stringMatching(/trigger queue does not take relay requests/),
    ]);
  });

  it('starts a relay request from the request queue, and refuses anything else there', async () => {
    const h = harness();
    const out = (await h.invoke(
      sqsEventFrom(
        REQUEST_QUEUE_ARN,
        JSON.stringify(relayRequestEvent(request)),
        JSON.stringify(request),
        notification('outgoing/a.mov'),
      ),
    )) as { batchItemFailures: Array<{ itemIdentifier: string }> };
    expect(h.started.map(([, r]) => r.prefix)).toEqual([{ bucket: BUCKET, prefix: 'outgoing/' }]);
    expect(out.batchItemFailures).toHaveLength(2);
    expect(h.reasons()).toEqual([
      expect.stringMatching(/request queue carries only "MASV Relay Request" events/),
      expect.stringMatching(/request queue carries only/),
    ]);
  });
});

describe('who may ask: recipient domains', () => {
  it('refuses a relay request whose recipients or link leave the allowed domains, naming the address', async () => {
    const h = harness();
    await expect(
      h.invoke({
        bucket: BUCKET,
        key: 'outgoing/a.mov',
        package: { recipients: ['ok@example.com', 'leak@gmail.com'] },
      }),
    ).rejects.toThrow(
      /The relay request sends to "leak@gmail\.com", which is outside the allowed recipient domains \(example\.com\)/,
    );
    await expect(
      h.invoke({
        'detail-type': 'MASV Relay Request',
        source: 'x',
        detail: { bucket: BUCKET, key: 'outgoing/a.mov', link: { email: 'x@evil.example' } },
      }),
    ).rejects.toThrow(/"x@evil\.example"/);
    await expect(
      h.invoke({ bucket: BUCKET, key: 'outgoing/a.mov', package: { sender: 'boss@evil.example' } }),
    ).rejects.toThrow(/"boss@evil\.example"/);
    await h.invoke({
      bucket: BUCKET,
      key: 'outgoing/a.mov',
      package: { recipients: ['a@EXAMPLE.com', 'b@uk.example.com'] },
    });
    expect(h.started).toHaveLength(1);
  });
});

describe('folder deliveries at start', () => {
  it('starts nothing for objects in a folder, and one folder delivery for its marker', async () => {
    const h = harness();
    const file = (await h.invoke(s3Notification(s3Record('outgoing/folders/DCP_01/ASSETMAP.xml')))) as {
      skipped: string[];
    };
    expect(file.skipped).toEqual([
      expect.stringMatching(/delivered with its folder when a _MASV_READY marker/),
    ]);
    const marker = (await h.invoke(
      s3Notification(s3Record('outgoing/folders/DCP_01/_MASV_READY', { eTag: 'm1' })),
    )) as {
      started: string[];
    };
    expect(h.started).toHaveLength(1);
    expect(h.started[0]![1]).toMatchObject({
      prefix: { bucket: BUCKET, prefix: 'outgoing/folders/DCP_01/' },
      marker: { key: 'outgoing/folders/DCP_01/_MASV_READY', etag: 'm1' },
    });
    expect(marker.started[0]).toMatch(/^DCP_01-[0-9a-f]{40}$/);
  });

  it('delivers a reused folder again for each new marker upload, even with the same bytes', async () => {
    // Daily and camera-card folders are reused; an empty marker always has the same ETag.
    const h = harness();
    const empty = 'd41d8cd98f00b204e9800998ecf8427e';
    const upload = (versionId: string) =>
      s3Notification(s3Record('outgoing/folders/dailies/_MASV_READY', { eTag: empty, versionId }));
    await h.invoke(upload('v-monday'));
    const tuesday = (await h.invoke(upload('v-tuesday'))) as { started: string[]; duplicates: string[] };
    expect(tuesday.duplicates).toEqual([]);
    expect(h.started).toHaveLength(2);
    expect(h.started[1]![1].marker).toEqual({
      key: 'outgoing/folders/dailies/_MASV_READY',
      versionId: 'v-tuesday',
      etag: empty,
    });
    // The same upload's event again is a duplicate.
    expect(((await h.invoke(upload('v-tuesday'))) as { duplicates: string[] }).duplicates).toHaveLength(1);
    // Unversioned buckets: each upload has its own sequencer in the event.
    const unversioned = (sequencer: string) => {
      const record = s3Record('outgoing/folders/card/_MASV_READY', { eTag: empty });
      record.s3.object.sequencer = sequencer;
      return s3Notification(record);
    };
    await h.invoke(unversioned('0055AED6DCD90281E5'));
    await h.invoke(unversioned('0055AED6DCD90281E5'));
    await h.invoke(unversioned('0055AED6DCD90281F0'));
    expect(h.started).toHaveLength(4);
  });

  it('makes no second package for a duplicate marker, and a new one for a marker with new content', async () => {
    const h = harness();
    await h.invoke(s3Notification(s3Record('outgoing/folders/card/_MASV_READY', { eTag: 'same' })));
    const dup = (await h.invoke(
      sqsEvent(
        JSON.stringify(snsEnvelope(notification('outgoing/folders/card/_MASV_READY', { eTag: 'same' }))),
      ),
    )) as { batchItemFailures: unknown[] };
    expect(dup.batchItemFailures).toEqual([]);
    expect(h.started).toHaveLength(1);
    await h.invoke(s3Notification(s3Record('outgoing/folders/card/_MASV_READY', { eTag: 'corrected' })));
    expect(h.started).toHaveLength(2);
  });

  it('refuses a marker at the folder rule root instead of delivering every folder under the rule', async () => {
    const h = harness();
    await expect(h.invoke(s3Notification(s3Record('outgoing/folders/_MASV_READY')))).rejects.toThrow(
      /s3:\/\/amzn-s3-demo-bucket\/outgoing\/folders\/_MASV_READY is a folder marker at the root of the folder rule "outgoing\/folders\/".*outgoing\/folders\/<folder>\/_MASV_READY/,
    );
    const queued = (await h.invoke(sqsEvent(notification('outgoing/folders/_MASV_READY')))) as {
      batchItemFailures: unknown[];
    };
    expect(queued.batchItemFailures).toHaveLength(1);
    const batch = (await h.invoke(batchOperationsV2([{ key: 'outgoing/folders/_MASV_READY' }]))) as {
      results: Array<{ resultCode: string; resultString: string }>;
    };
    expect(batch.results[0]).toMatchObject({
      resultCode: 'PermanentFailure',
      resultString: expect.stringMatching(/at the root of the folder rule/),
    });
    expect(h.started).toEqual([]);
  });

  it('treats a marker name outside folder rules as an ordinary object', async () => {
    const h = harness();
    await h.invoke(s3Notification(s3Record('outgoing/plain/_MASV_READY')));
    expect(h.started[0]![1]).toMatchObject({ files: [{ key: 'outgoing/plain/_MASV_READY' }] });
  });
});
