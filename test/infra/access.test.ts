import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, type RelayConfigInput } from '../../functions/core/config.js';
import { MasvRelay, objectKeyFilter } from '../../lib/masv-relay.js';
import { MasvRelayStack } from '../../lib/relay-stack.js';
import { logicalIdIn, nagFindings, roleStatements, unbundledApp } from '../helpers/synth.js';

const ACCOUNT = '123456789012';
const TOPIC = 'arn:aws:sns:us-west-2:123456789012:footage-events';
const KEY = 'arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const COMPLETE_ARN = 'arn:aws:secretsmanager:us-west-2:123456789012:secret:masv/api-key-AbCdEf';

const FULL: RelayConfigInput = {
  masv: { target: { kind: 'team', teamId: '01ENX9B1J68NT9Y4QHXD7T0X6S', apiKeySecretName: COMPLETE_ARN } },
  package: { recipients: ['editor@example.com'], passwordSecretName: 'masv-relay/password' },
  source: { prefix: 'outgoing/', suffix: '.mov' },
  prefixRules: [{ prefix: 'outgoing/folders/', delivery: 'folder' }],
  triggers: {
    snsTopicArns: [TOPIC],
    batchOperations: { manifestBucketName: 'relay-manifests', reportBucketName: 'relay-reports' },
  },
  access: { requestAccountIds: ['111122223333'], recipientDomains: ['example.com'], secretsKmsKeyArn: KEY },
};

function synth(config: RelayConfigInput = FULL) {
  const app = unbundledApp();
  const stack = new MasvRelayStack(app, 'Access', {
    env: { account: ACCOUNT, region: 'us-west-2' },
    config: parseConfig(config),
  });
  return { stack, template: Template.fromStack(stack) };
}

const t = synth();
const relay = t.stack.relay;
/** Logical ids in the stack with every option (t). */
const logicalId = (c: { node: { defaultChild?: unknown } }) => logicalIdIn(t.stack, c);
const ruleArn = (path: string) => ({
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:events:us-west-2:${ACCOUNT}:rule/${path}`]],
});
const base = Object.values(t.template.findResources('AWS::Events::EventBus'))[0]!.Properties.Name as string;

function queuePolicy(queueId: string) {
  const [policy] = Object.values(t.template.findResources('AWS::SQS::QueuePolicy')).filter((p) =>
    JSON.stringify(p.Properties.Queues).includes(queueId),
  );
  return policy!.Properties.PolicyDocument.Statement as Array<Record<string, unknown>>;
}

describe('who may ask: the relay request bus', () => {
  it('creates its own bus and matches relay requests only there', () => {
    expect(base).toMatch(/^Access-Relay-[0-9A-F]{8}-requests$/);
    t.template.hasResourceProperties('AWS::Events::EventBus', { Name: base });
    t.template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: logicalId(relay.requestBus as never) },
      EventPattern: { 'detail-type': ['MASV Relay Request'] },
    });
    const onDefaultBus = Object.values(t.template.findResources('AWS::Events::Rule')).filter(
      (r) => r.Properties.EventBusName === undefined,
    );
    // The default bus carries only S3's own events and the workflow's status changes (the sweep).
    expect(onDefaultBus.map((r) => r.Properties.EventPattern.source).sort()).toEqual([
      ['aws.s3'],
      ['aws.states'],
    ]);
  });

  it('admits the configured accounts to put relay requests, and nothing else', () => {
    const policies = Object.values(t.template.findResources('AWS::Events::EventBusPolicy'));
    expect(policies).toHaveLength(1);
    expect(policies[0]!.Properties.Statement).toMatchObject({
      Effect: 'Allow',
      Action: 'events:PutEvents',
      Principal: {
        AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::111122223333:root']] },
      },
      Condition: { StringEquals: { 'events:detail-type': 'MASV Relay Request' } },
    });
  });

  it('uses an existing bus by name or ARN instead (the ARN kept, never cut to a name), and refuses to admit accounts to it', () => {
    const arn = 'arn:aws:events:us-west-2:123456789012:event-bus/studio-bus';
    for (const eventBusName of ['studio-bus', arn]) {
      const { template } = synth({ ...FULL, access: { eventBusName } });
      expect(Object.keys(template.findResources('AWS::Events::EventBus'))).toHaveLength(0);
      template.hasResourceProperties('AWS::Events::Rule', {
        EventBusName: eventBusName,
        EventPattern: { 'detail-type': ['MASV Relay Request'] },
      });
    }
    expect(() =>
      synth({ ...FULL, access: { eventBusName: 'studio-bus', requestAccountIds: ['111122223333'] } }),
    ).toThrow(ConfigError);
  });

  it('lets the construct grant one role the right to ask', () => {
    const app = unbundledApp();
    const stack = new Stack(app, 'Grant');
    const r = new MasvRelay(stack, 'Relay', { config: FULL });
    const role = new iam.Role(stack, 'Caller', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    });
    r.grantRequests(role);
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          {
            Action: 'events:PutEvents',
            Effect: 'Allow',
            Resource: {
              'Fn::GetAtt': [logicalIdIn(stack, r.requestBus), 'Arn'],
            },
          },
        ],
      },
    });
  });
});

describe('resources in another account or Region', () => {
  it('refuses a request bus ARN of another account or Region, naming the field and the fix', () => {
    for (const arn of [
      'arn:aws:events:us-west-2:999999999999:event-bus/studio-bus',
      'arn:aws:events:eu-west-1:123456789012:event-bus/studio-bus',
    ]) {
      expect(() => synth({ ...FULL, access: { eventBusName: arn } })).toThrow(ConfigError);
      expect(() => synth({ ...FULL, access: { eventBusName: arn } })).toThrow(
        /access\.eventBusName: .* is in (account 999999999999|Region eu-west-1).*Fix: name a bus in the account and Region the relay deploys to/,
      );
    }
  });

  it('refuses an SNS topic in another Region (its subscription could have no DLQ there), naming the field', () => {
    const elsewhere = 'arn:aws:sns:eu-west-1:123456789012:footage-events';
    expect(() => synth({ ...FULL, triggers: { snsTopicArns: [TOPIC, elsewhere] } })).toThrow(
      /triggers\.snsTopicArns\[1\]: .* is in Region eu-west-1, not the stack's us-west-2\. Fix: subscribe only topics in the Region/,
    );
  });

  it("subscribes an SNS topic of another account in the stack's Region, with the relay's DLQ", () => {
    // The subscription the stack creates is the relay account's, so its DLQ may be too.
    const otherAccount = 'arn:aws:sns:us-west-2:999999999999:footage-events';
    const { template } = synth({ ...FULL, triggers: { snsTopicArns: [otherAccount] } });
    const [subscription] = Object.values(template.findResources('AWS::SNS::Subscription'));
    expect(subscription!.Properties).toMatchObject({
      Protocol: 'sqs',
      TopicArn: otherAccount,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(relay.deadLetterQueue), 'Arn'] } },
    });
  });

  it('treats a topic of the embedding app as a configured one: another account yes, another Region no', () => {
    const build = (topicEnv: { account: string; region: string }, id: string) => {
      const app = unbundledApp();
      const stack = new Stack(app, id, { env: { account: ACCOUNT, region: 'us-west-2' } });
      const topics = new Stack(app, `${id}Topics`, { env: topicEnv });
      const topic = new sns.Topic(topics, 'Uploads', { topicName: 'uploads' }); // named: used across accounts
      const imported = sns.Topic.fromTopicArn(
        stack,
        'Imported',
        `arn:aws:sns:${topicEnv.region}:${topicEnv.account}:uploads`,
      );
      return { stack, topic, imported };
    };
    const sameRegion = build({ account: '999999999999', region: 'us-west-2' }, 'OtherAccount');
    new MasvRelay(sameRegion.stack, 'Relay', {
      config: FULL,
      triggerTopics: [sameRegion.topic, sameRegion.imported],
    });
    const subscriptions = Object.values(
      Template.fromStack(sameRegion.stack).findResources('AWS::SNS::Subscription'),
    );
    expect(subscriptions).toHaveLength(3);
    for (const s of subscriptions) expect(s.Properties.RedrivePolicy).toBeDefined();

    for (const [index, id] of [0, 1].map((i) => [i, `OtherRegion${i}`] as const)) {
      const elsewhere = build({ account: ACCOUNT, region: 'eu-west-1' }, id);
      expect(
        () =>
          new MasvRelay(elsewhere.stack, 'Relay', {
            config: FULL,
            triggerTopics: [index === 0 ? elsewhere.topic : elsewhere.imported],
          }),
      ).toThrow(/triggerTopics: topic .* is in eu-west-1, not the relay's us-west-2/);
    }
  });
});

describe('who may ask: the trigger queue', () => {
  const queueId = logicalId(relay.queue);
  const statements = queuePolicy(queueId);
  const objectRule = ruleArn(`${base.replace(/-requests$/, '')}-objects`);
  const requestRule = ruleArn(`${base}/${base}`);
  /** The rule that runs Abort for executions that ended without it (its DLQ is the relay's). */
  const sweepRule = ruleArn(`${base.replace(/-requests$/, '')}-ended`);
  const senders = [objectRule];

  it('allows every sender only with aws:SourceArn: its rule, the source bucket and the configured topic', () => {
    const allows = statements.filter((s) => s.Effect === 'Allow');
    expect(allows.map((s) => (s.Principal as { Service: string }).Service).sort()).toEqual([
      'events.amazonaws.com',
      's3.amazonaws.com',
      'sns.amazonaws.com',
    ]);
    for (const s of allows) {
      expect(s.Action).toBe('sqs:SendMessage');
      expect(JSON.stringify(s.Condition)).toContain('aws:SourceArn');
    }
    expect(allows.find((s) => JSON.stringify(s.Principal).includes('events'))!.Condition).toEqual({
      ArnEquals: { 'aws:SourceArn': senders },
    });
    expect(allows.find((s) => JSON.stringify(s.Principal).includes('sns'))!.Condition).toEqual({
      ArnEquals: { 'aws:SourceArn': TOPIC },
    });
  });

  it('denies SendMessage to everyone else, IAM-authorised principals included', () => {
    const deny = statements.find((s) => s.Sid === 'OnlyRelaySenders');
    expect(deny).toMatchObject({ Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sqs:SendMessage' });
    const allowed = (deny!.Condition as { ArnNotEquals: { 'aws:SourceArn': unknown[] } }).ArnNotEquals[
      'aws:SourceArn'
    ];
    expect(allowed).toEqual([...senders, { 'Fn::GetAtt': [logicalId(relay.sourceBucket), 'Arn'] }, TOPIC]);
  });

  it('keeps direct access for the operators the configuration names (DLQ redrive), and nobody else', () => {
    expect(statements.find((s) => s.Sid === 'OnlyRelaySenders')!.Condition).not.toHaveProperty('ArnNotLike');
    const ops = 'arn:aws:iam::123456789012:role/relay-operators';
    const { template, stack } = synth({ ...FULL, access: { ...FULL.access, queueSenderArns: [ops] } });
    const queue = logicalIdIn(stack, stack.relay.queue);
    const [policy] = Object.values(template.findResources('AWS::SQS::QueuePolicy')).filter((p) =>
      JSON.stringify(p.Properties.Queues).includes(queue),
    );
    const deny = (policy!.Properties.PolicyDocument.Statement as Array<Record<string, unknown>>).find(
      (s) => s.Sid === 'OnlyRelaySenders',
    );
    expect(deny!.Condition).toMatchObject({
      ArnNotEquals: { 'aws:SourceArn': expect.any(Array) },
      ArnNotLike: { 'aws:PrincipalArn': [ops] },
    });
  });

  it('denies SendMessage on the DLQ to all but the rules, the topic, start (its async DLQ) and operators', () => {
    // An Allow-only policy would let any IAM-authorised principal plant a message that an
    // operator then redrives into the trigger queue past its Deny.
    const deny = queuePolicy(logicalId(relay.deadLetterQueue)).find((s) => s.Sid === 'OnlyRelaySenders');
    expect(deny).toMatchObject({ Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sqs:SendMessage' });
    const startRole = logicalId(relay.functions.start.role!);
    const abortRole = logicalId(relay.functions.abort.role!);
    expect(deny!.Condition).toEqual({
      ArnNotEquals: { 'aws:SourceArn': [objectRule, requestRule, sweepRule, TOPIC] },
      ArnNotLike: {
        'aws:PrincipalArn': [{ 'Fn::GetAtt': [startRole, 'Arn'] }, { 'Fn::GetAtt': [abortRole, 'Arn'] }],
      },
    });
    const ops = 'arn:aws:iam::123456789012:role/relay-operators';
    const { template, stack } = synth({ ...FULL, access: { ...FULL.access, queueSenderArns: [ops] } });
    const dlq = logicalIdIn(stack, stack.relay.deadLetterQueue);
    const [policy] = Object.values(template.findResources('AWS::SQS::QueuePolicy')).filter((p) =>
      JSON.stringify(p.Properties.Queues).includes(dlq),
    );
    const opsDeny = (policy!.Properties.PolicyDocument.Statement as Array<Record<string, unknown>>).find(
      (s) => s.Sid === 'OnlyRelaySenders',
    );
    expect(JSON.stringify(opsDeny!.Condition)).toContain(ops);
  });

  it('gives relay requests a queue of their own that only the bus rule may send to', () => {
    // The trigger queue admits SNS topics: with raw delivery a publisher could put a forged
    // request there, so start takes relay requests only from this queue.
    const statements = queuePolicy(logicalId(relay.requestQueue));
    expect(statements.filter((s) => s.Effect === 'Allow')).toEqual([
      expect.objectContaining({
        Principal: { Service: 'events.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Condition: { ArnEquals: { 'aws:SourceArn': [requestRule] } },
      }),
    ]);
    expect(statements.find((s) => s.Sid === 'OnlyRelaySenders')).toMatchObject({
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 'sqs:SendMessage',
      Condition: { ArnNotEquals: { 'aws:SourceArn': [requestRule] } },
    });
    const startId = logicalId(relay.functions.start);
    const fn = t.template.findResources('AWS::Lambda::Function')[startId]!;
    expect(fn.Properties.Environment.Variables.REQUEST_QUEUE_ARN).toEqual({
      'Fn::GetAtt': [logicalId(relay.requestQueue), 'Arn'],
    });
  });

  it('lets only the relay rules and the configured topic send undeliverable messages to the DLQ', () => {
    const allows = queuePolicy(logicalId(relay.deadLetterQueue)).filter((s) => s.Effect === 'Allow');
    const fromEvents = allows.filter((s) => JSON.stringify(s.Principal).includes('events.amazonaws.com'));
    // Our statement names the three rules; CDK adds one for the sweep rule's own DLQ config.
    expect(fromEvents).toContainEqual(
      expect.objectContaining({
        Condition: { ArnEquals: { 'aws:SourceArn': [objectRule, requestRule, sweepRule] } },
      }),
    );
    expect(allows.filter((s) => !JSON.stringify(s.Principal).match(/events|sns/))).toEqual([]);
    expect(allows).toContainEqual(
      expect.objectContaining({
        Principal: { Service: 'sns.amazonaws.com' },
        Condition: { ArnEquals: { 'aws:SourceArn': TOPIC } },
      }),
    );
    t.template.hasResourceProperties('AWS::SNS::Subscription', {
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(relay.deadLetterQueue), 'Arn'] } },
    });
  });

  it('subscribes the queue to the configured topic with the SNS envelope kept', () => {
    t.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'sqs',
      TopicArn: TOPIC,
      Endpoint: { 'Fn::GetAtt': [queueId, 'Arn'] },
    });
    const [subscription] = Object.values(
      t.template.findResources('AWS::SNS::Subscription', { Properties: { Protocol: 'sqs' } }),
    );
    expect(subscription!.Properties.RawMessageDelivery).not.toBe(true);
  });

  it('routes Object Created events for folder markers even when a suffix filters the rest', () => {
    t.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: {
          object: { key: [{ wildcard: 'outgoing/*.mov' }, { wildcard: 'outgoing/folders/*_MASV_READY' }] },
        },
      },
    });
    expect(objectKeyFilter(parseConfig({ ...FULL, source: { prefix: 'outgoing/' } }))).toEqual([
      { prefix: 'outgoing/' },
    ]);
  });
});

describe('failures of direct invocations do not vanish', () => {
  it('gives start an async DLQ (SNS → Lambda and S3 → Lambda invoke it asynchronously), and the steps none', () => {
    // After Lambda's two retries a refused event is discarded unless the function has somewhere to put it.
    const fns = t.template.findResources('AWS::Lambda::Function');
    expect(fns[logicalId(relay.functions.start)]!.Properties.DeadLetterConfig).toEqual({
      TargetArn: { 'Fn::GetAtt': [logicalId(relay.deadLetterQueue), 'Arn'] },
    });
    expect(fns[logicalId(relay.functions.prepare)]!.Properties.DeadLetterConfig).toBeUndefined();
    const startRole = logicalId(relay.functions.start.role!);
    expect(roleStatements(t.template, startRole)).toContainEqual(
      expect.objectContaining({
        Action: 'sqs:SendMessage',
        Resource: { 'Fn::GetAtt': [logicalId(relay.deadLetterQueue), 'Arn'] },
      }),
    );
  });

  it('lets start and Abort write their KMS-encrypted DLQ: kms:GenerateDataKey and kms:Decrypt, through SQS only', () => {
    // SQS asks a producer of an encrypted queue for both; without them Lambda's DLQ write fails.
    for (const fn of [relay.functions.start, relay.functions.abort]) {
      expect(roleStatements(t.template, logicalId(fn.role!))).toContainEqual(
        expect.objectContaining({
          Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
          Resource: { 'Fn::GetAtt': [logicalId(relay.key), 'Arn'] },
          Condition: { StringEquals: { 'kms:ViaService': 'sqs.us-west-2.amazonaws.com' } },
        }),
      );
    }
  });
});

describe('start: one package per requestId', () => {
  it('may describe executions of the relay workflow only (to compare a reused name), and start them', () => {
    const startRole = logicalId(relay.functions.start.role!);
    const statements = roleStatements(t.template, startRole);
    const workflow = t.template.findResources('AWS::StepFunctions::StateMachine')[
      logicalId(relay.stateMachine)
    ]!.Properties.StateMachineName as string;
    const describe = statements.filter((s) => JSON.stringify(s.Action).includes('states:DescribeExecution'));
    expect(describe).toHaveLength(1);
    expect(describe[0]!.Action).toBe('states:DescribeExecution');
    expect(describe[0]!.Resource).toEqual({
      'Fn::Join': [
        '',
        ['arn:', { Ref: 'AWS::Partition' }, `:states:us-west-2:${ACCOUNT}:execution:${workflow}:*`],
      ],
    });
    expect(statements.filter((s) => JSON.stringify(s.Action).includes('states:'))).toHaveLength(2);
  });
});

describe('monitoring of the rules', () => {
  it('alarms when a rule cannot deliver to the queue or loses events, per rule and bus', () => {
    const alarms = Object.values(t.template.findResources('AWS::CloudWatch::Alarm')).filter(
      (a) => a.Properties.Namespace === 'AWS/Events',
    );
    const seen = alarms.map((a) => [a.Properties.MetricName, a.Properties.Dimensions]);
    const objects = `${base.replace(/-requests$/, '')}-objects`;
    expect(seen).toEqual(
      expect.arrayContaining([
        ['FailedInvocations', [{ Name: 'RuleName', Value: objects }]],
        ['InvocationsFailedToBeSentToDlq', [{ Name: 'RuleName', Value: objects }]],
        [
          'FailedInvocations',
          expect.arrayContaining([
            { Name: 'RuleName', Value: base },
            { Name: 'EventBusName', Value: base },
          ]),
        ],
      ]),
    );
    expect(alarms).toHaveLength(4);
  });
});

describe('SNS topics of the embedding app', () => {
  it('subscribes the queue to a construct-prop topic, admits it by aws:SourceArn and tells start', () => {
    const app = unbundledApp();
    const stack = new Stack(app, 'AppTopics');
    const topic = new sns.Topic(stack, 'Uploads');
    const r = new MasvRelay(stack, 'Relay', { config: FULL, triggerTopics: [topic] });
    const template = Template.fromStack(stack);
    const topicRef = { Ref: logicalIdIn(stack, topic) };
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'sqs', TopicArn: topicRef });
    const start = template.findResources('AWS::Lambda::Function')[logicalIdIn(stack, r.functions.start)]!;
    const appTopics = JSON.stringify(start.Properties.Environment.Variables.TRIGGER_TOPIC_ARNS);
    expect(appTopics).toContain(topicRef.Ref);
    expect(appTopics).not.toContain(TOPIC); // configured topics already travel in RELAY_CONFIG
    const fullStart = t.template.findResources('AWS::Lambda::Function')[logicalId(relay.functions.start)]!;
    expect(fullStart.Properties.Environment.Variables).not.toHaveProperty('TRIGGER_TOPIC_ARNS');
    const [policy] = Object.values(template.findResources('AWS::SQS::QueuePolicy')).filter((p) =>
      JSON.stringify(p.Properties.Queues).includes(logicalIdIn(stack, r.queue)),
    );
    const deny = (policy!.Properties.PolicyDocument.Statement as Array<Record<string, unknown>>).find(
      (s) => s.Sid === 'OnlyRelaySenders',
    );
    expect(JSON.stringify(deny)).toContain(topicRef.Ref);
  });

  it('scopes SNS use of the relay key to each topic (aws:SourceArn), the app topic as the configured one', () => {
    const app = unbundledApp();
    const stack = new Stack(app, 'AppTopicKey', { env: { account: ACCOUNT, region: 'us-west-2' } });
    const topic = new sns.Topic(stack, 'Uploads');
    new MasvRelay(stack, 'Relay', { config: FULL, triggerTopics: [topic] });
    const template = Template.fromStack(stack);
    const statements = Object.values(template.findResources('AWS::KMS::Key'))[0]!.Properties.KeyPolicy
      .Statement as Array<Record<string, unknown>>;
    const forSns = statements.filter(
      (s) => JSON.stringify(s.Principal) === JSON.stringify({ Service: 'sns.amazonaws.com' }),
    );
    expect(forSns.map((s) => s.Condition)).toEqual([
      { ArnEquals: { 'aws:SourceArn': TOPIC } },
      { ArnEquals: { 'aws:SourceArn': { Ref: logicalIdIn(stack, topic) } } },
    ]);
    for (const s of forSns) expect(s.Action).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
  });
});

describe('who may ask: the key policy', () => {
  const keyPolicy = () =>
    Object.values(t.template.findResources('AWS::KMS::Key'))[0]!.Properties.KeyPolicy.Statement as Array<
      Record<string, unknown>
    >;
  const forService = (service: string) =>
    keyPolicy().filter((s) => JSON.stringify(s.Principal) === JSON.stringify({ Service: service }));

  it('lets EventBridge use the key without source conditions, which its KMS requests do not carry', () => {
    // AWS documents aws:SourceAccount/aws:SourceArn as unsupported in a key policy for EventBridge
    // delivery to encrypted topics and shows none for queues: with them, every event is refused.
    // The queue policies admit only the relay's rules by aws:SourceArn (tested above).
    const events = forService('events.amazonaws.com');
    expect(events).toHaveLength(1);
    expect(events[0]!.Action).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    expect(events[0]!.Condition).toBeUndefined();
  });

  it('scopes SNS and S3 use of the key to the configured topic and the source bucket', () => {
    expect(forService('sns.amazonaws.com').map((s) => s.Condition)).toEqual([
      { ArnEquals: { 'aws:SourceArn': TOPIC } },
    ]);
    expect(forService('s3.amazonaws.com').map((s) => s.Condition)).toEqual([
      {
        ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [logicalId(relay.sourceBucket), 'Arn'] } },
        StringEquals: { 'aws:SourceAccount': ACCOUNT },
      },
    ]);
  });
});

describe('who may ask: secrets', () => {
  const statementsOf = (name: 'prepare' | 'transfer' | 'start') =>
    roleStatements(t.template, logicalId(relay.functions[name].role!));
  const secretResources = (name: 'prepare' | 'transfer' | 'start') =>
    statementsOf(name)
      .filter((s) => [s.Action].flat().includes('secretsmanager:GetSecretValue'))
      .flatMap((s) => [s.Resource].flat().map((r) => JSON.stringify(r)));

  it('grants a secret given by complete ARN exactly, and one given by name with its random suffix', () => {
    expect(secretResources('prepare')).toContain(JSON.stringify(COMPLETE_ARN));
    expect(secretResources('prepare').some((r) => r.includes(':secret:masv-relay/password-??????'))).toBe(
      true,
    );
    // A complete ARN cannot be told from a partial one ending like a suffix: granted both ways.
    expect(secretResources('transfer').sort()).toEqual(
      [JSON.stringify(COMPLETE_ARN), JSON.stringify(`${COMPLETE_ARN}-??????`)].sort(),
    );
  });

  it('grants a partial ARN with the suffix wildcard Secrets Manager matches', () => {
    const partial = 'arn:aws:secretsmanager:us-west-2:123456789012:secret:masv/api-key';
    const { template, stack } = synth({
      ...FULL,
      masv: { target: { kind: 'team', teamId: 'T', apiKeySecretName: partial } },
    });
    const role = logicalIdIn(stack, stack.relay.functions.prepare.role!);
    const body = JSON.stringify(roleStatements(template, role));
    expect(body).toContain(`${partial}-??????`);
  });

  it('grants an ARN whose name only looks suffixed ("team-secret") both exactly and with the suffix wildcard', () => {
    // "masv-relay/team-secret" may be a partial ARN (the real one ends in "-AbC123"): ambiguous.
    const ambiguous = 'arn:aws:secretsmanager:us-west-2:123456789012:secret:masv-relay/team-secret';
    const { template, stack } = synth({
      ...FULL,
      masv: { target: { kind: 'team', teamId: 'T', apiKeySecretName: ambiguous } },
    });
    const role = logicalIdIn(stack, stack.relay.functions.prepare.role!);
    const body = JSON.stringify(roleStatements(template, role));
    expect(body).toContain(`"${ambiguous}-??????"`);
    expect(body).toContain(`"${ambiguous}"`);
  });

  it('adds kms:Decrypt on the secrets key, only through Secrets Manager, only for secret readers', () => {
    for (const name of ['prepare', 'transfer'] as const) {
      const decrypt = statementsOf(name).filter((s) => s.Resource === KEY);
      expect(decrypt, name).toEqual([
        expect.objectContaining({
          Action: 'kms:Decrypt',
          Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.us-west-2.amazonaws.com' } },
        }),
      ]);
    }
    expect(JSON.stringify(statementsOf('start'))).not.toContain(KEY);
  });
});

describe('S3 Batch Operations job role', () => {
  const role = relay.batchOperationsRole!;
  const statements = roleStatements(t.template, logicalId(role));

  it('is assumed by Batch Operations and may invoke only the start function', () => {
    t.template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [Match.objectLike({ Principal: { Service: 'batchoperations.s3.amazonaws.com' } })],
      },
    });
    const invoke = statements.filter((s) => [s.Action].flat().includes('lambda:InvokeFunction'));
    expect(invoke).toHaveLength(1);
    expect(invoke[0]!.Resource).toEqual({ 'Fn::GetAtt': [logicalId(relay.functions.start), 'Arn'] });
    expect(JSON.stringify(statements)).not.toContain(logicalId(relay.functions.prepare));
  });

  it('reads manifests and writes reports in the configured buckets only', () => {
    const by = (action: string) =>
      statements.filter((s) => [s.Action].flat().includes(action)).map((s) => JSON.stringify(s.Resource));
    expect(by('s3:GetObject')).toEqual([expect.stringContaining(':::relay-manifests/*')]);
    expect(by('s3:PutObject')).toEqual([expect.stringContaining(':::relay-reports/*')]);
  });

  it('tells start which bucket is the source', () => {
    const start = t.template.findResources('AWS::Lambda::Function')[logicalId(relay.functions.start)]!;
    expect(start.Properties.Environment.Variables.SOURCE_BUCKET_NAME).toEqual({
      Ref: logicalId(relay.sourceBucket),
    });
  });
});

describe('cdk-nag with every trigger and access option', () => {
  const variants: Array<[string, RelayConfigInput]> = [
    ['every trigger and access option', FULL],
    [
      'existing bucket, no prefix, portal target, existing bus, alarm email, restores',
      {
        masv: {
          target: {
            kind: 'portal',
            portalId: 'P1',
            sender: 'ingest@example.com',
            accessCodeSecretName: 'arn:aws:secretsmanager:us-west-2:123456789012:secret:portal/code',
          },
        },
        source: { existingBucketName: 'footage-archive', suffix: '.mxf', restoreArchived: true },
        prefixRules: [{ prefix: 'dcp/', delivery: 'folder' }],
        triggers: { batchOperations: { manifestBucketName: 'footage-manifests' } },
        access: { eventBusName: 'media-requests' },
        notifications: { alarmEmail: 'ops@example.com' },
      },
    ],
  ];
  it.each(variants)('finds nothing unacknowledged: %s', (_what, config) => {
    const findings = nagFindings(
      (app) =>
        new MasvRelayStack(app, 'NagAccess', {
          env: { account: ACCOUNT, region: 'us-west-2' },
          config: parseConfig(config),
        }),
    );
    expect(findings).toEqual([]);
  });
});
