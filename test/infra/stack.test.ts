import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, type RelayConfigInput } from '../../functions/core/config.js';
import { loadConfigFile } from '../../lib/config-file.js';
import { keyFilter, MasvRelay } from '../../lib/masv-relay.js';
import { MasvRelayStack } from '../../lib/relay-stack.js';
import { actionsOf, logicalIdIn, nagFindings, roleStatements, unbundledApp } from '../helpers/synth.js';

const CONFIG: RelayConfigInput = {
  masv: {
    target: { kind: 'team', teamId: '01ENX9B1J68NT9Y4QHXD7T0X6S', apiKeySecretName: 'masv-relay/api-key' },
  },
  package: { recipients: ['editor@example.com'], passwordSecretName: 'masv-relay/password' },
  source: { prefix: 'outgoing/' },
  transfer: { mapConcurrency: 12, transferReservedConcurrency: 30 },
  notifications: { alarmEmail: 'ops@example.com' },
};

function synth(config: RelayConfigInput = CONFIG) {
  const app = unbundledApp();
  const stack = new MasvRelayStack(app, 'Test', { config: loadConfigLike(config) });
  return { app, stack, template: Template.fromStack(stack) };
}

function loadConfigLike(config: RelayConfigInput) {
  const path = join(tmpdir(), `masv-relay-test-${process.pid}.jsonc`);
  writeFileSync(path, `// test config\n${JSON.stringify(config)}`);
  return loadConfigFile(path);
}

let t: ReturnType<typeof synth>;
beforeAll(() => {
  t = synth();
});

describe('MasvRelay stack: security', () => {
  it('encrypts the state bucket, the queues and the workflow data with one rotating customer-managed key', () => {
    const { template, stack } = t;
    const keyId = logicalIdIn(stack, t.stack.relay.key);
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            ServerSideEncryptionByDefault: {
              SSEAlgorithm: 'aws:kms',
              KMSMasterKeyID: { 'Fn::GetAtt': [keyId, 'Arn'] },
            },
          },
        ],
      },
    });
    const queues = template.findResources('AWS::SQS::Queue');
    expect(Object.values(queues)).toHaveLength(3); // trigger queue, request queue, DLQ
    for (const q of Object.values(queues))
      expect(q.Properties.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      EncryptionConfiguration: {
        Type: 'CUSTOMER_MANAGED_KMS_KEY',
        KmsKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
      },
    });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
  });

  it('creates the source bucket versioned, encrypted, private and with EventBridge notifications', () => {
    const source = t.template.findResources('AWS::S3::Bucket', {
      Properties: { VersioningConfiguration: { Status: 'Enabled' } },
    });
    const [bucket] = Object.values(source);
    expect(bucket?.Properties).toMatchObject({
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
    t.template.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: { EventBridgeConfiguration: {} },
    });
  });

  it("expires the created source bucket's old versions, 30 days by default or as configured", () => {
    const rulesOf = (template: Template) =>
      Object.values(
        template.findResources('AWS::S3::Bucket', {
          Properties: { VersioningConfiguration: { Status: 'Enabled' } },
        }),
      )[0]?.Properties.LifecycleConfiguration?.Rules;
    const rule = (days: number) => ({
      Status: 'Enabled',
      NoncurrentVersionExpiration: { NoncurrentDays: days },
      ExpiredObjectDeleteMarker: true,
      AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
    });
    expect(rulesOf(t.template)).toEqual([rule(30)]);
    const configured = synth({ ...CONFIG, source: { prefix: 'outgoing/', noncurrentVersionDays: 7 } });
    expect(rulesOf(configured.template)).toEqual([rule(7)]);
  });

  it('outputs the queues by ARN, which a DLQ redrive names, and by URL', () => {
    const outputs = t.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    const { relay } = t.stack;
    for (const [name, queue] of [
      ['TriggerQueue', relay.queue],
      ['RequestQueue', relay.requestQueue],
      ['DeadLetterQueue', relay.deadLetterQueue],
    ] as const) {
      const id = logicalIdIn(t.stack, queue);
      expect(outputs[`${name}Arn`]?.Value).toEqual({ 'Fn::GetAtt': [id, 'Arn'] });
      expect(outputs[`${name}Url`]?.Value).toEqual({ Ref: id });
    }
  });

  it('denies non-TLS access to every bucket and queue', () => {
    for (const type of ['AWS::S3::BucketPolicy', 'AWS::SQS::QueuePolicy']) {
      const policies = Object.values(t.template.findResources(type));
      expect(policies.length).toBeGreaterThan(0);
      for (const policy of policies) {
        expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
          expect.objectContaining({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        );
      }
    }
    const buckets = Object.keys(t.template.findResources('AWS::S3::Bucket'));
    expect(Object.values(t.template.findResources('AWS::S3::BucketPolicy'))).toHaveLength(buckets.length);
  });

  it('expires delivery records in the state bucket', () => {
    t.template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Prefix: 'deliveries/', ExpirationInDays: 14, Status: 'Enabled' }),
        ]),
      },
    });
  });

  it('keeps the API key out of every environment variable: only its secret name is configured', () => {
    for (const fn of Object.values(t.template.findResources('AWS::Lambda::Function'))) {
      const variables = (fn.Properties.Environment?.Variables ?? {}) as Record<string, unknown>;
      expect(Object.keys(variables).filter((k) => /API_?KEY|TOKEN|PASSWORD/i.test(k))).toEqual([]);
      const envBytes = Object.entries(variables).reduce(
        (n, [k, v]) => n + k.length + JSON.stringify(v).length,
        0,
      );
      expect(envBytes).toBeLessThan(4096);
      if (typeof variables.RELAY_CONFIG === 'string') {
        expect(JSON.parse(variables.RELAY_CONFIG).masv.target).toEqual({
          kind: 'team',
          teamId: '01ENX9B1J68NT9Y4QHXD7T0X6S',
          apiKeySecretName: 'masv-relay/api-key',
        });
      }
    }
  });
});

describe('MasvRelay stack: least privilege', () => {
  const roleOf = (name: 'start' | 'prepare' | 'transfer' | 'finalize' | 'abort') =>
    roleStatements(t.template, logicalIdIn(t.stack, t.stack.relay.functions[name].role!));

  it('lets only transfer write parts, and only under the ledger prefix', () => {
    const puts = roleOf('transfer').filter((s) => actionsOf([s]).includes('s3:PutObject'));
    expect(puts).toHaveLength(1);
    expect(JSON.stringify(puts[0]!.Resource)).toContain('/deliveries/parts/*');
    expect(actionsOf(roleOf('transfer'))).not.toContain('s3:DeleteObject');
    expect(actionsOf(roleOf('transfer'))).not.toContain('s3:PutObjectTagging');
  });

  /** The state-bucket areas a step's statements with `action` name, e.g. `deliveries/parts/*`. */
  const stateAreas = (name: 'prepare' | 'transfer' | 'finalize' | 'abort', action: string) =>
    roleOf(name)
      .filter((s) => actionsOf([s]).includes(action))
      .flatMap((s) => [...JSON.stringify(s.Resource).matchAll(/deliveries\/[^"]*/g)].map((m) => m[0]))
      .sort();

  it('lets Prepare record packages, Prepare and Abort claim them, and Finalize and Abort write marks and outcomes', () => {
    expect(stateAreas('prepare', 's3:PutObject')).toEqual(['deliveries/claims/*', 'deliveries/package/*']);
    expect(stateAreas('transfer', 's3:PutObject')).toEqual(['deliveries/parts/*']);
    expect(stateAreas('finalize', 's3:PutObject')).toEqual([
      'deliveries/finalized/*',
      'deliveries/outcomes/*',
    ]);
    // Abort reconciles lost creates only to delete them: it claims packages, never records one.
    expect(stateAreas('abort', 's3:PutObject')).toEqual([
      'deliveries/claims/*',
      'deliveries/finalized/*',
      'deliveries/outcomes/*',
    ]);
  });

  it("lets only Finalize and Abort delete, and only a delivery's own areas (never claims or outcomes)", () => {
    expect(stateAreas('prepare', 's3:DeleteObject')).toEqual([]);
    expect(stateAreas('transfer', 's3:DeleteObject')).toEqual([]);
    for (const name of ['finalize', 'abort'] as const) {
      expect(stateAreas(name, 's3:DeleteObject')).toEqual([
        'deliveries/finalized/*',
        'deliveries/package/*',
        'deliveries/parts/*',
      ]);
    }
    expect(stateAreas('finalize', 's3:GetObject')).toEqual(['deliveries/outcomes/*', 'deliveries/package/*']);
  });

  it('lets every step list the state bucket without an s3:prefix condition, so a missing record reads 404', () => {
    // S3 answers 403 for a missing key unless the caller may s3:ListBucket the bucket, and a GET
    // carries no s3:prefix: Finalize and Abort read outcome markers that normally do not exist.
    const stateBucket = { 'Fn::GetAtt': [logicalIdIn(t.stack, t.stack.relay.stateBucket), 'Arn'] };
    for (const name of ['prepare', 'transfer', 'finalize', 'abort'] as const) {
      const lists = roleOf(name).filter(
        (s) =>
          actionsOf([s]).includes('s3:ListBucket') &&
          JSON.stringify(s.Resource) === JSON.stringify(stateBucket),
      );
      expect(lists, name).toHaveLength(1);
      expect(lists[0]!.Condition, name).toBeUndefined();
    }
  });

  it('lets Finalize and Abort HEAD the source (s3:GetObject) before tagging an unversioned object', () => {
    for (const name of ['finalize', 'abort'] as const) {
      const onSource = roleOf(name).filter((s) => JSON.stringify(s.Resource).includes('SourceBucket'));
      expect(actionsOf(onSource), name).toContain('s3:GetObject');
      expect(JSON.stringify(onSource), name).toContain('/outgoing/*');
    }
  });

  it('uses the relay key only through the service each function calls, with exactly the actions needed', () => {
    const keyArn = JSON.stringify({ 'Fn::GetAtt': [logicalIdIn(t.stack, t.stack.relay.key), 'Arn'] });
    const keyUse = (name: 'start' | 'prepare' | 'transfer' | 'finalize' | 'abort') =>
      roleOf(name).filter((s) => JSON.stringify(s.Resource) === keyArn);
    const via = (statement: { Condition?: unknown }) =>
      /"kms:ViaService":\{"Fn::Join":\["",\["([a-z0-9]+)\.",\{"Ref":"AWS::Region"\},"\.amazonaws\.com"\]\]\}/.exec(
        JSON.stringify(statement.Condition),
      )?.[1];
    for (const name of ['prepare', 'transfer', 'finalize'] as const) {
      expect(
        keyUse(name).map((s) => [via(s), actionsOf([s])]),
        name,
      ).toEqual([['s3', ['kms:Decrypt', 'kms:GenerateDataKey']]]);
    }
    expect(keyUse('abort').map((s) => [via(s), actionsOf([s]).sort()])).toEqual([
      ['s3', ['kms:Decrypt', 'kms:GenerateDataKey']],
      ['sqs', ['kms:Decrypt', 'kms:GenerateDataKey']],
      ['states', ['kms:Decrypt']],
    ]);
    // start: its async DLQ (SQS), StartExecution and DescribeExecution (Step Functions), and the
    // kms:Decrypt CDK's SQS event source grants for receiving from the encrypted queues.
    expect(keyUse('start').map((s) => [via(s), actionsOf([s]).sort()])).toEqual([
      ['sqs', ['kms:Decrypt', 'kms:GenerateDataKey']],
      ['states', ['kms:Decrypt', 'kms:GenerateDataKey']],
      [undefined, ['kms:Decrypt']],
    ]);
    for (const name of ['start', 'prepare', 'transfer', 'finalize', 'abort'] as const) {
      expect(
        actionsOf(roleOf(name)).filter((a) => /kms:(Encrypt|ReEncrypt|GenerateDataKey\*)/.test(a)),
        name,
      ).toEqual([]);
    }
  });

  it('grants secrets only secretsmanager:GetSecretValue, the one call the functions make', () => {
    for (const name of ['prepare', 'transfer', 'finalize', 'abort'] as const) {
      const secrets = actionsOf(roleOf(name)).filter((a) => a.startsWith('secretsmanager:'));
      expect(new Set(secrets), name).toEqual(new Set(['secretsmanager:GetSecretValue']));
    }
  });

  it("publishes events on the default bus only under the relay's own source", () => {
    for (const name of ['finalize', 'abort'] as const) {
      const puts = roleOf(name).filter((s) => actionsOf([s]).includes('events:PutEvents'));
      expect(
        puts.map((s) => s.Condition),
        name,
      ).toEqual([{ StringEquals: { 'events:source': 'masv-relay' } }]);
    }
  });

  it('scopes source reads to the configured prefix', () => {
    for (const name of ['prepare', 'transfer'] as const) {
      const reads = roleOf(name).filter(
        (s) => actionsOf([s]).includes('s3:GetObject') && JSON.stringify(s.Resource).includes('SourceBucket'),
      );
      expect(reads).toHaveLength(1);
      expect(JSON.stringify(reads[0]!.Resource)).toContain('/outgoing/*');
    }
    const list = roleOf('prepare').find(
      (s) => actionsOf([s]).includes('s3:ListBucket') && JSON.stringify(s.Resource).includes('SourceBucket'),
    );
    expect(list?.Condition).toEqual({ StringLike: { 's3:prefix': ['outgoing/*'] } });
  });

  it('lets only the functions that call MASV with the API key read the secret', () => {
    const reads = (name: 'start' | 'prepare' | 'transfer' | 'finalize' | 'abort') =>
      actionsOf(roleOf(name)).includes('secretsmanager:GetSecretValue');
    expect({
      start: reads('start'),
      prepare: reads('prepare'),
      transfer: reads('transfer'),
      finalize: reads('finalize'),
      abort: reads('abort'),
    }).toEqual({
      start: false,
      prepare: true,
      transfer: true,
      finalize: true,
      abort: true,
    });
    const password = roleOf('prepare').filter((s) =>
      JSON.stringify(s.Resource).includes('masv-relay/password'),
    );
    expect(password).toHaveLength(1);
    expect(JSON.stringify(roleOf('transfer'))).not.toContain('masv-relay/password');
  });

  it('tags sources only from finalize and abort, and publishes events only from them', () => {
    for (const name of ['start', 'prepare', 'transfer'] as const) {
      expect(actionsOf(roleOf(name))).not.toContain('s3:PutObjectTagging');
      expect(actionsOf(roleOf(name))).not.toContain('events:PutEvents');
    }
    for (const name of ['finalize', 'abort'] as const) {
      expect(actionsOf(roleOf(name))).toContain('s3:PutObjectTagging');
      expect(actionsOf(roleOf(name))).toContain('events:PutEvents');
    }
  });

  it('lets start only start executions of this state machine', () => {
    const start = roleOf('start').filter((s) => actionsOf([s]).includes('states:StartExecution'));
    expect(start[0]!.Resource).toEqual({ Ref: logicalIdIn(t.stack, t.stack.relay.stateMachine) });
    expect(actionsOf(roleOf('start')).filter((a) => a.startsWith('s3:'))).toEqual([]);
  });
});

describe('MasvRelay stack: the workflow and its key', () => {
  it("names the state machine, so the workflow role's key grant names the deployed state machine's ARN", () => {
    const id = logicalIdIn(t.stack, t.stack.relay.stateMachine);
    const name = t.template.findResources('AWS::StepFunctions::StateMachine')[id]!.Properties
      .StateMachineName;
    expect(name).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
    const statements = roleStatements(t.template, logicalIdIn(t.stack, t.stack.relay.stateMachine.role));
    const grant = statements.find((s) =>
      JSON.stringify(s.Condition ?? {}).includes('aws:states:stateMachineArn'),
    );
    const context = (grant!.Condition as { StringEquals: Record<string, unknown> }).StringEquals[
      'kms:EncryptionContext:aws:states:stateMachineArn'
    ];
    // The ARN a Ref of the state machine resolves to: arn:<partition>:states:<region>:<account>:stateMachine:<name>.
    expect(context).toEqual({
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':states:',
          { Ref: 'AWS::Region' },
          ':',
          { Ref: 'AWS::AccountId' },
          `:stateMachine:${name}`,
        ],
      ],
    });
  });

  it('lets start and Abort describe executions of the relay workflow only (Abort: input and error of an ended one)', () => {
    const id = logicalIdIn(t.stack, t.stack.relay.stateMachine);
    const name = t.template.findResources('AWS::StepFunctions::StateMachine')[id]!.Properties
      .StateMachineName;
    for (const fn of ['start', 'abort'] as const) {
      const statements = roleStatements(t.template, logicalIdIn(t.stack, t.stack.relay.functions[fn].role!));
      const describe = statements.filter((s) => actionsOf([s]).includes('states:DescribeExecution'));
      expect(describe, fn).toHaveLength(1);
      expect(JSON.stringify(describe[0]!.Resource), fn).toContain(`:execution:${name}:*`);
    }
  });
});

describe('MasvRelay stack: wiring', () => {
  it('routes Object Created events from the source bucket and prefix to the trigger queue, relay requests to the request queue', () => {
    const queueArn = { 'Fn::GetAtt': [logicalIdIn(t.stack, t.stack.relay.queue), 'Arn'] };
    const requestQueueArn = { 'Fn::GetAtt': [logicalIdIn(t.stack, t.stack.relay.requestQueue), 'Arn'] };
    t.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: {
          bucket: { name: [{ Ref: Match.stringLikeRegexp('SourceBucket') }] },
          object: { key: [{ prefix: 'outgoing/' }] },
        },
      },
      Targets: [Match.objectLike({ Arn: queueArn, DeadLetterConfig: Match.anyValue() })],
    });
    t.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { 'detail-type': ['MASV Relay Request'] },
      Targets: [Match.objectLike({ Arn: requestQueueArn, DeadLetterConfig: Match.anyValue() })],
    });
  });

  it('runs Abort for executions that ended without it (history, payload, timeout, stopped)', () => {
    const abortArn = { 'Fn::GetAtt': [logicalIdIn(t.stack, t.stack.relay.functions.abort), 'Arn'] };
    t.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: {
          status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
          stateMachineArn: [{ Ref: logicalIdIn(t.stack, t.stack.relay.stateMachine) }],
        },
      },
      Targets: [
        Match.objectLike({
          Arn: abortArn,
          DeadLetterConfig: {
            Arn: { 'Fn::GetAtt': [logicalIdIn(t.stack, t.stack.relay.deadLetterQueue), 'Arn'] },
          },
          RetryPolicy: { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 8 },
        }),
      ],
    });
  });

  it('redrives failed trigger messages to the DLQ and reports partial batch failures', () => {
    t.template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [logicalIdIn(t.stack, t.stack.relay.deadLetterQueue), 'Arn'] },
        maxReceiveCount: 5,
      },
    });
    for (const queue of [t.stack.relay.queue, t.stack.relay.requestQueue]) {
      t.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: { 'Fn::GetAtt': [logicalIdIn(t.stack, queue), 'Arn'] },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        FunctionName: { Ref: logicalIdIn(t.stack, t.stack.relay.functions.start) },
      });
      t.template.hasResourceProperties('AWS::SQS::Queue', {
        RedrivePolicy: Match.objectLike({ maxReceiveCount: 5 }),
      });
    }
  });

  it('runs the definition file with logging ALL, X-Ray, and substitutions that resolve to the right functions', () => {
    const [machine] = Object.values(t.template.findResources('AWS::StepFunctions::StateMachine'));
    const props = machine!.Properties;
    expect(props.StateMachineType).toBe('STANDARD');
    expect(props.LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: true });
    expect(props.TracingConfiguration).toEqual({ Enabled: true });
    const definition = JSON.parse(props.DefinitionString);
    expect(definition.States.Transfer.MaxConcurrency).toBe(12);
    expect(definition.States.Prepare.Resource).toBe('${PrepareFunctionArn}');
    const fns = t.stack.relay.functions;
    expect(props.DefinitionSubstitutions).toEqual({
      PrepareFunctionArn: { 'Fn::GetAtt': [logicalIdIn(t.stack, fns.prepare), 'Arn'] },
      TransferFunctionArn: { 'Fn::GetAtt': [logicalIdIn(t.stack, fns.transfer), 'Arn'] },
      FinalizeFunctionArn: { 'Fn::GetAtt': [logicalIdIn(t.stack, fns.finalize), 'Arn'] },
      AbortFunctionArn: { 'Fn::GetAtt': [logicalIdIn(t.stack, fns.abort), 'Arn'] },
    });
  });

  it('builds every function for nodejs22.x on arm64 with explicit memory, timeout and tracing', () => {
    for (const [name, fn] of Object.entries(t.stack.relay.functions)) {
      const props = t.template.findResources('AWS::Lambda::Function')[logicalIdIn(t.stack, fn)]!.Properties;
      expect(props, name).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
      });
      expect(props.MemorySize, name).toBeGreaterThan(0);
      expect(props.Timeout, name).toBeGreaterThan(0);
    }
    const transfer =
      t.template.findResources('AWS::Lambda::Function')[
        logicalIdIn(t.stack, t.stack.relay.functions.transfer)
      ]!.Properties;
    expect(transfer).toMatchObject({ ReservedConcurrentExecutions: 30, Timeout: 900, MemorySize: 1024 });
  });

  it('keeps workflow and function logs with a retention and the customer-managed key', () => {
    for (const group of Object.values(t.template.findResources('AWS::Logs::LogGroup'))) {
      expect(group.Properties.RetentionInDays).toBe(30);
      expect(group.Properties.KmsKeyId).toEqual({
        'Fn::GetAtt': [logicalIdIn(t.stack, t.stack.relay.key), 'Arn'],
      });
    }
  });
});

describe('MasvRelay stack: observability', () => {
  it('alarms on failed executions, a non-empty DLQ, Lambda errors, and throttles except transfer’s (its queue), notifying the topic', () => {
    const alarms = Object.values(t.template.findResources('AWS::CloudWatch::Alarm'));
    const metrics = alarms.map((a) => a.Properties.MetricName);
    expect(metrics).toContain('ExecutionsFailed');
    expect(metrics).toContain('ApproximateNumberOfMessagesVisible');
    expect(metrics.filter((m) => m === 'Errors')).toHaveLength(5);
    const throttled = alarms.filter((a) => a.Properties.MetricName === 'Throttles');
    expect(throttled).toHaveLength(4);
    const transfer = logicalIdIn(t.stack, t.stack.relay.functions.transfer);
    for (const alarm of throttled)
      expect(JSON.stringify(alarm.Properties.Dimensions)).not.toContain(transfer);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toHaveLength(1);
    t.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
  });

  it('lets CloudWatch publish to the alarm topic it creates (only alarms of this account) and use its key', () => {
    const [policy] = Object.values(t.template.findResources('AWS::SNS::TopicPolicy'));
    const statements = policy!.Properties.PolicyDocument.Statement as Array<Record<string, unknown>>;
    const publish = statements.find((s) => s.Effect === 'Allow');
    expect(publish).toMatchObject({
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Action: 'sns:Publish',
      Condition: {
        StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
        ArnLike: { 'aws:SourceArn': expect.anything() },
      },
    });
    expect(JSON.stringify((publish!.Condition as { ArnLike: unknown }).ArnLike)).toContain(':alarm:*');
    const keyPolicy = Object.values(t.template.findResources('AWS::KMS::Key'))[0]!.Properties.KeyPolicy
      .Statement as Array<Record<string, unknown>>;
    expect(keyPolicy).toContainEqual(
      expect.objectContaining({
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      }),
    );
  });

  it('alarms when start or Abort cannot put a failed asynchronous event in the DLQ (DeadLetterErrors)', () => {
    const alarms = Object.values(t.template.findResources('AWS::CloudWatch::Alarm')).filter(
      (a) => a.Properties.MetricName === 'DeadLetterErrors',
    );
    const fns = alarms.map((a) => JSON.stringify(a.Properties.Dimensions));
    expect(fns).toHaveLength(2);
    for (const fn of [t.stack.relay.functions.start, t.stack.relay.functions.abort])
      expect(fns.some((d) => d.includes(logicalIdIn(t.stack, fn)))).toBe(true);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toHaveLength(1);
  });

  it('has a dashboard with deliveries, bytes relayed, part retries, DLQ depth and transfer concurrency', () => {
    const [dashboard] = Object.values(t.template.findResources('AWS::CloudWatch::Dashboard'));
    const body = JSON.stringify(dashboard!.Properties.DashboardBody);
    for (const text of [
      'ExecutionsStarted',
      'ExecutionsSucceeded',
      'BytesRelayed',
      'PartRetries',
      'ApproximateNumberOfMessagesVisible',
      'ConcurrentExecutions',
    ]) {
      expect(body).toContain(text);
    }
  });
});

describe('cdk-nag', () => {
  it('finds nothing unacknowledged in the AwsSolutions and Serverless packs', () => {
    const findings = nagFindings((app) => new MasvRelayStack(app, 'Nag', { config: loadConfigLike(CONFIG) }));
    expect(findings).toEqual([]);
  });

  it('still reports findings that nobody acknowledged', () => {
    const findings = nagFindings((app) => new MasvRelay(new Stack(app, 'Bare'), 'Relay', { config: CONFIG }));
    expect(findings.some((f) => f.startsWith('AwsSolutions-IAM4['))).toBe(true);
    expect(findings.some((f) => f.startsWith('Serverless-LambdaDLQ'))).toBe(true);
  });
});

describe('configuration at synth time', () => {
  it('refuses a bad configuration naming the field, the value and the fix', () => {
    const app = unbundledApp();
    const stack = new Stack(app, 'Bad');
    const bad = { ...CONFIG, transfer: { partSizeMiB: 2 } } as RelayConfigInput;
    expect(() => new MasvRelay(stack, 'Relay', { config: bad })).toThrow(ConfigError);
    expect(() => new MasvRelay(stack, 'Relay2', { config: bad })).toThrow(
      /transfer\.partSizeMiB: .*\(got 2\)\. Fix: use a whole number of MiB between 5 and 5120/,
    );
  });

  it('refuses a configuration too large for a Lambda environment, saying how to shrink it', () => {
    const app = unbundledApp();
    const prefixRules = Array.from({ length: 40 }, (_, i) => ({
      prefix: `outgoing/client-${i}/`,
      package: { description: 'x'.repeat(80) },
    }));
    expect(
      () => new MasvRelay(new Stack(app, 'Big'), 'Relay', { config: { ...CONFIG, prefixRules } }),
    ).toThrow(
      /more than the 3400 bytes a Lambda environment can carry\. Fix: shorten descriptions and merge prefix rules/,
    );
  });

  it('reports a missing config file and a JSON syntax error with the line', () => {
    expect(() => loadConfigFile('/nonexistent/masv-relay.config.jsonc')).toThrow(
      /copy config\/example\.config\.jsonc/,
    );
    const path = join(tmpdir(), `broken-${process.pid}.jsonc`);
    writeFileSync(path, '{\n  "masv": {\n    "target": }\n}');
    expect(() => loadConfigFile(path)).toThrow(/:3: ValueExpected/);
  });

  it('accepts the shipped example configuration', () => {
    expect(loadConfigFile('config/example.config.jsonc').masv.target.kind).toBe('team');
  });

  it('imports an existing bucket instead of creating one', () => {
    const { template } = synth({ ...CONFIG, source: { existingBucketName: 'my-footage' } });
    expect(
      Object.values(
        template.findResources('AWS::S3::Bucket', {
          Properties: { VersioningConfiguration: Match.anyValue() },
        }),
      ),
    ).toHaveLength(0);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { detail: { bucket: { name: ['my-footage'] } } },
    });
  });

  it('filters keys by prefix and suffix together with one wildcard', () => {
    expect(keyFilter('in/', '.mov')).toEqual([{ wildcard: 'in/*.mov' }]);
    expect(keyFilter('a*b/', undefined)).toEqual([{ prefix: 'a*b/' }]);
    expect(keyFilter('a*b/', '.mov')).toEqual([{ wildcard: 'a\\*b/*.mov' }]);
    expect(keyFilter()).toBeUndefined();
  });

  it('runs with a Portal target without granting any API key', () => {
    const { template } = synth({
      masv: {
        target: {
          kind: 'portal',
          portalId: 'P1',
          sender: 'relay@example.com',
          accessCodeSecretName: 'masv-relay/code',
        },
      },
    });
    const body = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(body).toContain('masv-relay/code');
    expect(body).not.toContain('masv-relay/api-key');
  });
});
