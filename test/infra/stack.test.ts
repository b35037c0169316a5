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
    expect(JSON.stringify(puts[0]!.Resource)).toContain('/deliveries/*/parts/*');
    expect(actionsOf(roleOf('transfer'))).not.toContain('s3:DeleteObject');
    expect(actionsOf(roleOf('transfer'))).not.toContain('s3:PutObjectTagging');
  });

  it('lets Prepare and Abort record and claim packages, and Finalize and Abort write the finalize markers', () => {
    const writes = (name: 'prepare' | 'transfer' | 'finalize' | 'abort') =>
      roleOf(name)
        .filter((s) => actionsOf([s]).includes('s3:PutObject'))
        .map((s) => JSON.stringify(s.Resource).match(/deliveries\/[^"]*/)?.[0]);
    expect(writes('prepare')).toEqual(['deliveries/*/package/*']);
    expect(writes('transfer')).toEqual(['deliveries/*/parts/*']);
    expect(writes('finalize')).toEqual(['deliveries/*/finalized/*']);
    expect(writes('abort').sort()).toEqual(['deliveries/*/finalized/*', 'deliveries/*/package/*']);
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
