import { fileURLToPath } from 'node:url';
import { ArnFormat, Duration, Names, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  ConfigError,
  parseConfig,
  type RelayConfig,
  type RelayConfigInput,
} from '../functions/core/config.js';
import { METRICS_NAMESPACE } from '../functions/core/metrics.js';
import { RELAY_REQUEST_DETAIL_TYPE } from '../functions/core/triggers.js';
import { LAMBDA_TIMEOUT_SECONDS, renderDefinition } from '../statemachines/definition.js';
import { RelayMonitoring } from './monitoring.js';

/** Properties of the {@link MasvRelay} construct. */
export interface MasvRelayProps {
  /**
   * The relay configuration (validated here; invalid values fail synthesis with a message that
   * names the field and the fix). See `docs/configuration.md`.
   */
  readonly config: RelayConfigInput | RelayConfig;
  /**
   * A source bucket from the embedding app. When omitted, the bucket named by
   * `config.source.existingBucketName` is imported, or a new one is created.
   * An existing bucket must have EventBridge notifications turned on.
   */
  readonly sourceBucket?: s3.IBucket;
  /**
   * SNS topics of the embedding app that carry the source bucket's S3 notifications: the trigger
   * queue subscribes to each, as to the topics of `config.triggers.snsTopicArns`.
   */
  readonly triggerTopics?: sns.ITopic[];
  /** Days the state bucket keeps a delivery's records (package token, parts ledger). @default 14 */
  readonly stateRetentionDays?: number;
  /** Retention of the workflow and function logs. @default one month */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Bundle the AWS SDK into each function instead of using the one the nodejs22.x runtime
   * provides. Pins the SDK version at the cost of ~400 KB more per bundle.
   * @default false
   */
  readonly bundleAwsSdk?: boolean;
}

/** The five functions of the relay. */
export interface RelayFunctions {
  readonly start: nodejs.NodejsFunction;
  readonly prepare: nodejs.NodejsFunction;
  readonly transfer: nodejs.NodejsFunction;
  readonly finalize: nodejs.NodejsFunction;
  readonly abort: nodejs.NodejsFunction;
}

/** Room left for the configuration in a function's 4 KB of environment variables. */
export const MAX_CONFIG_ENV_BYTES = 3400;

const FUNCTION_DIR = fileURLToPath(new URL('../functions/', import.meta.url));
const PROJECT_ROOT = fileURLToPath(new URL('../', import.meta.url));

/**
 * masv-relay as a reusable construct: objects created in the source bucket (or "MASV Relay
 * Request" events from any service) become MASV packages through a Step Functions workflow.
 *
 * @example
 * new MasvRelay(this, 'Relay', {
 *   config: {
 *     masv: { target: { kind: 'team', teamId: '01ENX…', apiKeySecretName: 'masv-relay/api-key' } },
 *     package: { recipients: ['editor@example.com'] },
 *   },
 * });
 */
export class MasvRelay extends Construct {
  /** The validated configuration in force. */
  readonly config: RelayConfig;
  /** Customer-managed key for execution data, the queues, the state bucket and the logs. */
  readonly key: kms.Key;
  readonly sourceBucket: s3.IBucket;
  /** The relay's own bucket: package records and the parts ledger, expiring by lifecycle rule. */
  readonly stateBucket: s3.Bucket;
  /** S3 notifications, SNS topics and the Object Created rule send here (never relay requests). */
  readonly queue: sqs.Queue;
  /** Only the relay's bus rule may send here: the one queue relay requests are taken from. */
  readonly requestQueue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  /**
   * The bus relay requests arrive on: created by the stack, or the one `access.eventBusName`
   * names. Its resource policy and the callers' IAM decide who may ask for deliveries.
   */
  readonly requestBus: events.IEventBus;
  /** The role S3 Batch Operations jobs run with, when `triggers.batchOperations` is configured. */
  readonly batchOperationsRole?: iam.Role;
  readonly stateMachine: sfn.StateMachine;
  readonly functions: RelayFunctions;
  readonly monitoring: RelayMonitoring;

  constructor(scope: Construct, id: string, props: MasvRelayProps) {
    super(scope, id);
    const config = parseConfig(props.config);
    this.config = config;
    const stack = Stack.of(this);
    // Explicit names, so policies can name the rules' ARNs without a dependency cycle.
    const baseName = Names.uniqueResourceName(this, { maxLength: 40, separator: '-' });
    const busName = config.access.eventBusName
      ? (config.access.eventBusName.split('/').pop() as string)
      : `${baseName}-requests`;
    const ruleArn = (name: string, bus?: string) =>
      stack.formatArn({
        service: 'events',
        resource: 'rule',
        resourceName: bus ? `${bus}/${name}` : name,
        arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
      });
    const objectRuleName = `${baseName}-objects`;
    const requestRuleName = `${baseName}-requests`;
    const sweepRuleName = `${baseName}-ended`;
    const ruleArns = [ruleArn(objectRuleName), ruleArn(requestRuleName, busName)];
    const sweepRuleArn = ruleArn(sweepRuleName);
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;

    this.key = new kms.Key(this, 'Key', {
      description: 'masv-relay: execution data, queues, state bucket and logs',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: {
          ArnLike: {
            'kms:EncryptionContext:aws:logs:arn': `arn:${stack.partition}:logs:${stack.region}:${stack.account}:*`,
          },
        },
      }),
    );
    // EventBridge encrypts what its rules put on the queues; only this relay's rules may use the key.
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'EventBridgeRulesOfThisRelay',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnEquals: { 'aws:SourceArn': [...ruleArns, sweepRuleArn] },
        },
      }),
    );

    const accessLogs = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(90) }],
    });

    this.stateBucket = new s3.Bucket(this, 'StateBucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'state/',
      lifecycleRules: [
        { prefix: 'deliveries/', expiration: Duration.days(props.stateRetentionDays ?? 14) },
        { abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });

    this.sourceBucket =
      props.sourceBucket ??
      (config.source.existingBucketName
        ? s3.Bucket.fromBucketName(this, 'SourceBucket', config.source.existingBucketName)
        : new s3.Bucket(this, 'SourceBucket', {
            eventBridgeEnabled: true,
            encryption: s3.BucketEncryption.S3_MANAGED,
            enforceSSL: true,
            versioned: true,
            blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
            serverAccessLogsBucket: accessLogs,
            serverAccessLogsPrefix: 'source/',
            removalPolicy: RemovalPolicy.RETAIN,
          }));

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new sqs.Queue(this, 'TriggerQueue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.key,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(180),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: 5 },
    });
    // A queue of their own for relay requests: the trigger queue admits SNS topics, whose
    // publishers (raw delivery) could otherwise put a forged request there.
    this.requestQueue = new sqs.Queue(this, 'RequestQueue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.key,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(180),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: 5 },
    });
    this.requestBus = config.access.eventBusName
      ? events.EventBus.fromEventBusName(this, 'RequestBus', busName)
      : new events.EventBus(this, 'RequestBus', {
          eventBusName: busName,
          description: "masv-relay: delivery requests; its policy and callers' IAM decide who may ask",
        });
    if (config.access.requestAccountIds.length > 0) {
      if (!(this.requestBus instanceof events.EventBus)) {
        throw new ConfigError([
          `access.requestAccountIds: accounts can be admitted only to the bus the stack creates, not to "${busName}". Fix: remove access.eventBusName, or grant the accounts in that bus's own resource policy.`,
        ]);
      }
      this.requestBus.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'RelayRequestsFromAccounts',
          principals: config.access.requestAccountIds.map((account) => new iam.AccountPrincipal(account)),
          actions: ['events:PutEvents'],
          resources: [this.requestBus.eventBusArn],
          conditions: { StringEquals: { 'events:detail-type': RELAY_REQUEST_DETAIL_TYPE } },
        }),
      );
    }

    const relayConfig = JSON.stringify(config);
    // Lambda allows 4 KB of environment variables per function; the rest of ours take ~0.5 KB.
    if (Buffer.byteLength(relayConfig) > MAX_CONFIG_ENV_BYTES) {
      throw new ConfigError([
        `(root): the configuration is ${Buffer.byteLength(relayConfig)} bytes as JSON, more than the ${MAX_CONFIG_ENV_BYTES} bytes a Lambda environment can carry. Fix: shorten descriptions and merge prefix rules.`,
      ]);
    }
    const env = {
      RELAY_CONFIG: relayConfig,
      STATE_BUCKET: this.stateBucket.bucketName,
      EVENT_BUS_NAME: 'default',
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
    const fn = (
      name: keyof RelayFunctions,
      memoryMiB: number,
      timeout: Duration,
      extra: Partial<nodejs.NodejsFunctionProps> = {},
    ) =>
      new nodejs.NodejsFunction(this, `${name[0]!.toUpperCase()}${name.slice(1)}Function`, {
        entry: `${FUNCTION_DIR}${name}/handler.ts`,
        handler: 'handler',
        projectRoot: PROJECT_ROOT,
        depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: memoryMiB,
        timeout,
        tracing: lambda.Tracing.ACTIVE,
        loggingFormat: lambda.LoggingFormat.JSON,
        logGroup: new logs.LogGroup(this, `${name}Logs`, {
          retention: logRetention,
          encryptionKey: this.key,
        }),
        environment: { ...env, POWERTOOLS_SERVICE_NAME: `masv-relay-${name}` },
        bundling: {
          format: nodejs.OutputFormat.ESM,
          target: 'node22',
          minify: true,
          sourceMap: true,
          mainFields: ['module', 'main'],
          banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
          externalModules: props.bundleAwsSdk ? [] : ['@aws-sdk/*'],
        },
        ...extra,
      });

    this.functions = {
      // SNS → Lambda and S3 → Lambda invoke start asynchronously: after Lambda's two retries a
      // refused event goes to the DLQ as it arrived (redrivable), instead of being discarded.
      start: fn('start', 256, Duration.seconds(LAMBDA_TIMEOUT_SECONDS.start), {
        deadLetterQueue: this.deadLetterQueue,
      }),
      prepare: fn('prepare', 512, Duration.seconds(LAMBDA_TIMEOUT_SECONDS.prepare)),
      transfer: fn(
        'transfer',
        config.transfer.transferMemoryMiB,
        Duration.seconds(LAMBDA_TIMEOUT_SECONDS.transfer),
        {
          reservedConcurrentExecutions: config.transfer.transferReservedConcurrency,
        },
      ),
      finalize: fn('finalize', 512, Duration.seconds(LAMBDA_TIMEOUT_SECONDS.finalize)),
      // The sweep rule invokes abort asynchronously: what it cannot handle lands in the DLQ.
      abort: fn('abort', 256, Duration.seconds(LAMBDA_TIMEOUT_SECONDS.abort), {
        deadLetterQueue: this.deadLetterQueue,
      }),
    };
    this.grantLeastPrivilege(config);

    const workflowLogs = new logs.LogGroup(this, 'WorkflowLogs', {
      retention: logRetention,
      encryptionKey: this.key,
    });
    this.stateMachine = new sfn.StateMachine(this, 'Workflow', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromString(
        renderDefinition({ MapConcurrency: config.transfer.mapConcurrency }),
      ),
      definitionSubstitutions: {
        PrepareFunctionArn: this.functions.prepare.functionArn,
        TransferFunctionArn: this.functions.transfer.functionArn,
        FinalizeFunctionArn: this.functions.finalize.functionArn,
        AbortFunctionArn: this.functions.abort.functionArn,
      },
      logs: { destination: workflowLogs, level: sfn.LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
      encryptionConfiguration: new sfn.CustomerManagedEncryptionConfiguration(this.key, Duration.minutes(5)),
    });
    for (const step of ['prepare', 'transfer', 'finalize', 'abort'] as const) {
      this.functions[step].grantInvoke(this.stateMachine);
    }
    this.stateMachine.grantStartExecution(this.functions.start);
    // A name already taken: start reads that execution's input (encrypted with the relay's key) to
    // tell a duplicate from a different request reusing the requestId.
    this.stateMachine.grantExecution(this.functions.start, 'states:DescribeExecution');
    this.key.grantDecrypt(this.functions.start);
    this.functions.start.addEnvironment('STATE_MACHINE_ARN', this.stateMachine.stateMachineArn);
    this.functions.start.addEnvironment('SOURCE_BUCKET_NAME', this.sourceBucket.bucketName);
    this.functions.start.addEnvironment('REQUEST_QUEUE_ARN', this.requestQueue.queueArn);
    for (const queue of [this.queue, this.requestQueue]) {
      this.functions.start.addEventSource(
        new SqsEventSource(queue, { batchSize: 10, reportBatchItemFailures: true, maxConcurrency: 5 }),
      );
    }

    const objectKey = objectKeyFilter(config);
    new events.Rule(this, 'ObjectCreatedRule', {
      ruleName: objectRuleName,
      description: 'masv-relay: objects created in the source bucket',
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: {
          bucket: { name: [this.sourceBucket.bucketName] },
          ...(objectKey ? { object: { key: objectKey } } : {}),
        },
      },
      targets: [queueTarget(this.queue, this.deadLetterQueue)],
    });
    new events.Rule(this, 'RelayRequestRule', {
      ruleName: requestRuleName,
      eventBus: this.requestBus,
      description: "masv-relay: delivery requests on the relay's own bus",
      eventPattern: { detailType: [RELAY_REQUEST_DETAIL_TYPE] },
      targets: [queueTarget(this.requestQueue, this.deadLetterQueue)],
    });
    // A safety net for executions that end without reaching Abort (history or payload limit, the
    // execution timeout, stopped by hand): Abort runs from their status change and deletes what
    // the delivery left; when Abort already ran, it finds its own mark and does nothing.
    new events.Rule(this, 'ExecutionEndedRule', {
      ruleName: sweepRuleName,
      description: 'masv-relay: executions that ended without their Abort step run Abort',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
          stateMachineArn: [this.stateMachine.stateMachineArn],
        },
      },
      targets: [
        new targets.LambdaFunction(this.functions.abort, {
          retryAttempts: 8,
          maxEventAge: Duration.hours(24),
          deadLetterQueue: this.deadLetterQueue,
        }),
      ],
    });
    this.admitOnlyOwnSenders(ruleArns, sweepRuleArn, props.triggerTopics ?? []);
    this.batchOperationsRole = this.grantBatchOperations(config);

    this.monitoring = new RelayMonitoring(this, 'Monitoring', {
      stateMachine: this.stateMachine,
      functions: Object.values(this.functions),
      transferFunction: this.functions.transfer,
      deadLetterQueue: this.deadLetterQueue,
      key: this.key,
      alarmEmail: config.notifications.alarmEmail,
      rules: [{ ruleName: objectRuleName }, { ruleName: requestRuleName, eventBusName: busName }],
      alarmTopic: config.notifications.snsTopicArn
        ? sns.Topic.fromTopicArn(this, 'AlarmTopic', config.notifications.snsTopicArn)
        : undefined,
    });
  }

  /** Lets a role or user put relay requests on the relay's bus (same account; other accounts: `access.requestAccountIds`). */
  grantRequests(grantee: iam.IGrantable): iam.Grant {
    return this.requestBus.grantPutEventsTo(grantee);
  }

  /**
   * The trigger queue and its DLQ accept messages only from this relay's EventBridge rules, the
   * source bucket (direct S3 notifications) and the configured SNS topics: an Allow per sender
   * with `aws:SourceArn`, and a Deny for every other principal, IAM-authorised ones included.
   */
  private admitOnlyOwnSenders(ruleArns: string[], sweepRuleArn: string, appTopics: sns.ITopic[]) {
    const stack = Stack.of(this);
    const topics = [
      ...this.config.triggers.snsTopicArns.map((arn, index) =>
        sns.Topic.fromTopicArn(this, `TriggerTopic${index}`, arn),
      ),
      ...appTopics,
    ];
    const topicArns = topics.map((t) => t.topicArn);
    // Only the app's topics: the configured ones already travel in RELAY_CONFIG (4 KB budget).
    if (appTopics.length > 0) {
      this.functions.start.addEnvironment(
        'TRIGGER_TOPIC_ARNS',
        stack.toJsonString(appTopics.map((t) => t.topicArn)),
      );
    }
    for (const topic of topics) {
      topic.addSubscription(new TopicToQueue(this.queue, this.key, this.deadLetterQueue));
    }
    const [objectRuleArn, requestRuleArn] = ruleArns as [string, string];
    const senders = [objectRuleArn, this.sourceBucket.bucketArn, ...topicArns];
    // Each queue admits its own rule; the DLQ takes what either rule could not deliver.
    const ruleSenders: Array<[sqs.Queue, string[]]> = [
      [this.queue, [objectRuleArn]],
      [this.requestQueue, [requestRuleArn]],
      [this.deadLetterQueue, [...ruleArns, sweepRuleArn]],
    ];
    for (const [queue, rules] of ruleSenders) {
      queue.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'RelayRulesMaySend',
          principals: [new iam.ServicePrincipal('events.amazonaws.com')],
          actions: ['sqs:SendMessage'],
          resources: [queue.queueArn],
          conditions: { ArnEquals: { 'aws:SourceArn': rules } },
        }),
      );
    }
    this.queue.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'SourceBucketMaySend',
        principals: [new iam.ServicePrincipal('s3.amazonaws.com')],
        actions: ['sqs:SendMessage'],
        resources: [this.queue.queueArn],
        conditions: {
          ArnEquals: { 'aws:SourceArn': this.sourceBucket.bucketArn },
          StringEquals: { 'aws:SourceAccount': stack.account },
        },
      }),
    );
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'SourceBucketNotifications',
        principals: [new iam.ServicePrincipal('s3.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: {
          ArnEquals: { 'aws:SourceArn': this.sourceBucket.bucketArn },
          StringEquals: { 'aws:SourceAccount': stack.account },
        },
      }),
    );
    this.denyOtherSenders(this.queue, senders);
    this.denyOtherSenders(this.requestQueue, [requestRuleArn]);
    // The DLQ too: a message planted there would be redriven by an operator past the queues' Deny.
    // Its senders: both rules and the topics (undeliverable events), and start's role (its async
    // DLQ). SQS's own move of a message after maxReceiveCount is not a SendMessage.
    this.denyOtherSenders(
      this.deadLetterQueue,
      [...ruleArns, sweepRuleArn, ...topicArns],
      [this.functions.start.role!.roleArn, this.functions.abort.role!.roleArn],
    );
  }

  /**
   * A Deny for every principal but the queue's own senders (by `aws:SourceArn`) and the operators
   * the configuration names: an Allow alone would not stop IAM-authorised principals.
   */
  private denyOtherSenders(queue: sqs.Queue, sourceArns: string[], principalArns: string[] = []) {
    // Operators the configuration names keep direct access (e.g. to redrive the DLQ).
    const principals = [...this.config.access.queueSenderArns, ...principalArns];
    queue.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'OnlyRelaySenders',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['sqs:SendMessage'],
        resources: [queue.queueArn],
        conditions: {
          ArnNotEquals: { 'aws:SourceArn': sourceArns },
          ...(principals.length > 0 ? { ArnNotLike: { 'aws:PrincipalArn': principals } } : {}),
        },
      }),
    );
  }

  /**
   * The role an S3 Batch Operations job runs with: invoke start (which answers per task), read
   * the manifest, write the completion report.
   */
  private grantBatchOperations(config: RelayConfig): iam.Role | undefined {
    const batch = config.triggers.batchOperations;
    if (!batch) return undefined;
    const role = new iam.Role(this, 'BatchOperationsRole', {
      assumedBy: new iam.ServicePrincipal('batchoperations.s3.amazonaws.com'),
      description: 'masv-relay: S3 Batch Operations jobs that deliver existing objects',
    });
    // The unqualified ARN only: jobs name the function as the README shows (no versions or aliases).
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [this.functions.start.functionArn],
      }),
    );
    const manifest = s3.Bucket.fromBucketName(this, 'BatchManifestBucket', batch.manifestBucketName);
    const report = s3.Bucket.fromBucketName(
      this,
      'BatchReportBucket',
      batch.reportBucketName ?? batch.manifestBucketName,
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject', 's3:GetObjectVersion'],
        resources: [manifest.arnForObjects('*')],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [report.arnForObjects('*')] }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetBucketLocation'],
        resources: [...new Set([manifest.bucketArn, report.bucketArn])],
      }),
    );
    return role;
  }

  /** Each function gets exactly what its step does, on exactly the resources it touches. */
  private grantLeastPrivilege(config: RelayConfig) {
    const { prepare, transfer, finalize, abort } = this.functions;
    const sourceObjects = this.sourceBucket.arnForObjects(`${config.source.prefix ?? ''}*`);
    const stateObjects = (pattern: string) => this.stateBucket.arnForObjects(`deliveries/${pattern}`);
    const statement = (actions: string[], resources: string[], conditions?: Record<string, unknown>) =>
      new iam.PolicyStatement({ actions, resources, conditions });

    for (const f of [prepare, transfer]) {
      f.addToRolePolicy(statement(['s3:GetObject', 's3:GetObjectVersion'], [sourceObjects]));
    }
    prepare.addToRolePolicy(
      statement(['s3:ListBucket'], [this.sourceBucket.bucketArn], {
        StringLike: { 's3:prefix': [`${config.source.prefix ?? ''}*`] },
      }),
    );
    // Archived sources are restored by Prepare only when the configuration asks for it.
    if (config.source.restoreArchived)
      prepare.addToRolePolicy(statement(['s3:RestoreObject'], [sourceObjects]));
    for (const f of [finalize, abort]) {
      f.addToRolePolicy(
        statement(
          [
            's3:GetObjectTagging',
            's3:GetObjectVersionTagging',
            's3:PutObjectTagging',
            's3:PutObjectVersionTagging',
          ],
          [sourceObjects],
        ),
      );
    }

    // Package records, create intents and claims (`deliveries/_claims/package/{id}.json`) all live
    // under `*/package/*`; Prepare and Abort reconcile lost creates, so both may claim packages.
    for (const f of [prepare, abort]) {
      f.addToRolePolicy(statement(['s3:PutObject', 's3:GetObject'], [stateObjects('*/package/*')]));
    }
    prepare.addToRolePolicy(statement(['s3:DeleteObject'], [stateObjects('*')]));
    transfer.addToRolePolicy(statement(['s3:GetObject'], [stateObjects('*/package/*')]));
    transfer.addToRolePolicy(statement(['s3:PutObject'], [stateObjects('*/parts/*')]));
    finalize.addToRolePolicy(statement(['s3:GetObject'], [stateObjects('*/package/*')]));
    // Finalize markers, and `_delivered/finalized/{id}.json`; Abort completes a delivery it finds finalized.
    for (const f of [finalize, abort]) {
      f.addToRolePolicy(statement(['s3:PutObject'], [stateObjects('*/finalized/*')]));
    }
    for (const f of [finalize, abort]) {
      f.addToRolePolicy(statement(['s3:GetObject', 's3:DeleteObject'], [stateObjects('*')]));
    }
    for (const f of [prepare, transfer, finalize, abort]) {
      f.addToRolePolicy(
        statement(['s3:ListBucket'], [this.stateBucket.bucketArn], {
          StringLike: { 's3:prefix': ['deliveries/*'] },
        }),
      );
      this.key.grantEncryptDecrypt(f);
    }

    const secretNames = new Set<string>();
    if (config.masv.target.kind === 'team') secretNames.add(config.masv.target.apiKeySecretName);
    else if (config.masv.target.accessCodeSecretName)
      secretNames.add(config.masv.target.accessCodeSecretName);
    const passwordSecrets = [config.package, ...config.prefixRules.map((r) => r.package)]
      .map((p) => p.passwordSecretName)
      .filter((name): name is string => Boolean(name));
    // The API key: Prepare creates packages; Transfer and Finalize refresh expired package tokens.
    // Abort reads the API key too: it refreshes an expired package token before deleting, and
    // reads the package's state so a finalized package is never deleted.
    const apiKeyReaders =
      config.masv.target.kind === 'team' ? [prepare, transfer, finalize, abort] : [prepare];
    for (const [index, ref] of [...secretNames].entries()) {
      for (const secret of secretsFromReference(this, `MasvSecret${index}`, ref))
        for (const f of apiKeyReaders) secret.grantRead(f);
    }
    for (const [index, ref] of [...new Set(passwordSecrets)].entries()) {
      for (const secret of secretsFromReference(this, `PasswordSecret${index}`, ref))
        secret.grantRead(prepare);
    }
    const secretsKey = config.access.secretsKmsKeyArn;
    if (secretsKey) {
      // Secrets encrypted with a customer-managed key: decrypt only through Secrets Manager.
      for (const f of new Set([...apiKeyReaders, prepare])) {
        f.addToRolePolicy(
          statement(['kms:Decrypt'], [secretsKey], {
            StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com` },
          }),
        );
      }
    }

    const defaultBus = events.EventBus.fromEventBusName(this, 'DefaultBus', 'default');
    for (const f of [finalize, abort]) defaultBus.grantPutEventsTo(f);
  }
}

/**
 * A secret given by name, by complete ARN (ending in `-` and six characters, as the console shows
 * it) or by partial ARN: each granted as Secrets Manager will match it at run time. An ARN whose
 * name merely ends like a suffix ("team-secret") cannot be told from a complete one, so it is
 * granted both ways: exactly, and with the `-??????` suffix wildcard.
 */
export function secretsFromReference(scope: Construct, id: string, ref: string): secretsmanager.ISecret[] {
  const arn = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:(.+)$/.exec(ref);
  if (!arn) return [secretsmanager.Secret.fromSecretNameV2(scope, id, ref)];
  const partial = secretsmanager.Secret.fromSecretPartialArn(scope, id, ref);
  return /-[A-Za-z0-9]{6}$/.test(arn[1]!)
    ? [secretsmanager.Secret.fromSecretCompleteArn(scope, `${id}Complete`, ref), partial]
    : [partial];
}

/**
 * SNS → the trigger queue, envelope kept. Unlike CDK's SqsSubscription, the key statement for SNS
 * always carries `aws:SourceArn` (CDK scopes it only under a feature flag, which a topic of the
 * embedding app does not see). Messages SNS cannot deliver land in the DLQ, not nowhere. Same
 * scope and id as CDK's, so the subscription keeps its logical id.
 */
class TopicToQueue implements sns.ITopicSubscription {
  constructor(
    private readonly queue: sqs.Queue,
    private readonly key: kms.IKey,
    private readonly deadLetterQueue: sqs.IQueue,
  ) {}

  bind(topic: sns.ITopic): sns.TopicSubscriptionConfig {
    const principals = [new iam.ServicePrincipal('sns.amazonaws.com')];
    const onlyThisTopic = { ArnEquals: { 'aws:SourceArn': topic.topicArn } };
    const queuePolicy = this.queue.addToResourcePolicy(
      new iam.PolicyStatement({
        principals,
        actions: ['sqs:SendMessage'],
        resources: [this.queue.queueArn],
        conditions: onlyThisTopic,
      }),
    );
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals,
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: onlyThisTopic,
      }),
    );
    const queueStack = Stack.of(this.queue);
    let region: string | undefined;
    if (topic instanceof sns.Topic) {
      if (topic.stack !== queueStack) queueStack.addStackDependency(topic.stack);
      const other = topic.env.region;
      region = !Token.isUnresolved(other) && other !== queueStack.region ? other : undefined;
    } else {
      region = queueStack.splitArn(topic.topicArn, ArnFormat.SLASH_RESOURCE_NAME).region;
    }
    return {
      subscriberScope: this.queue,
      subscriberId: Names.nodeUniqueId(topic.node),
      endpoint: this.queue.queueArn,
      protocol: sns.SubscriptionProtocol.SQS,
      rawMessageDelivery: false,
      deadLetterQueue: this.deadLetterQueue,
      subscriptionDependency: queuePolicy.policyDependable,
      ...(region ? { region } : {}),
    };
  }
}

/**
 * An SQS target without CDK's own queue grant (which, for an encrypted queue, has no
 * `aws:SourceArn` condition); {@link MasvRelay.admitOnlyOwnSenders} writes the policy instead.
 */
function queueTarget(queue: sqs.IQueue, deadLetterQueue: sqs.IQueue): events.IRuleTarget {
  return {
    bind: () => ({
      arn: queue.queueArn,
      deadLetterConfig: { arn: deadLetterQueue.queueArn },
      targetResource: queue,
    }),
  };
}

/** The Object Created key filter: the source prefix/suffix, plus folder markers when a suffix would hide them. */
export function objectKeyFilter(config: RelayConfig): unknown[] | undefined {
  const base = keyFilter(config.source.prefix, config.source.suffix);
  const folders = config.prefixRules.filter((r) => r.delivery === 'folder');
  if (!config.source.suffix || folders.length === 0) return base;
  const escapeWildcard = (s: string) => s.replace(/[\\*]/g, (c) => `\\${c}`);
  const marker = config.triggers.folderMarker;
  return [
    ...(base ?? []),
    ...folders.map((r) => ({ wildcard: `${escapeWildcard(r.prefix)}*${escapeWildcard(marker)}` })),
  ];
}

/** EventBridge pattern for the object key: prefix, suffix, or both through a wildcard. */
export function keyFilter(prefix?: string, suffix?: string): unknown[] | undefined {
  if (prefix && suffix) {
    const escapeWildcard = (s: string) => s.replace(/[\\*]/g, (c) => `\\${c}`);
    return [{ wildcard: `${escapeWildcard(prefix)}*${escapeWildcard(suffix)}` }];
  }
  if (prefix) return [{ prefix }];
  if (suffix) return [{ suffix }];
  return undefined;
}
