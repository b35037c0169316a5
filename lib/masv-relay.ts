import type * as events from 'aws-cdk-lib/aws-events';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { parseConfig, type RelayConfig, type RelayConfigInput } from '../functions/core/config.js';
import { createFunctions, type RelayFunctions } from './functions.js';
import { RelayMonitoring } from './monitoring.js';
import { relayNames } from './names.js';
import { grantBatchOperations } from './permissions/batch-operations.js';
import { admitOnlyOwnSenders, admitRequestAccounts } from './permissions/senders.js';
import { grantDeadLetterWrites, grantWorkflow } from './permissions/workflow.js';
import { grantLeastPrivilege } from './permissions.js';
import { createStorage } from './storage.js';
import { connectStart, createTriggers, routeEvents, subscribeTopics } from './triggers.js';
import { createWorkflow, sweepEndedExecutions } from './workflow.js';

export type { RelayFunctions } from './functions.js';
export { keyFilter, objectKeyFilter } from './triggers.js';

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

  // A delivery flows triggers.ts → workflow.ts → functions.ts → storage.ts. The parts are built
  // storage first, each once what it refers to exists, and the order of these calls is the order
  // of the resources and policy statements in the template: reordering them changes the template.
  constructor(scope: Construct, id: string, props: MasvRelayProps) {
    super(scope, id);
    const config = parseConfig(props.config);
    this.config = config;
    const names = relayNames(this, config);
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;

    const { key, sourceBucket, stateBucket } = createStorage(this, {
      config,
      sourceBucket: props.sourceBucket,
      stateRetentionDays: props.stateRetentionDays,
    });
    this.key = key;
    this.sourceBucket = sourceBucket;
    this.stateBucket = stateBucket;

    const triggers = createTriggers(this, config, key, names);
    this.queue = triggers.queue;
    this.requestQueue = triggers.requestQueue;
    this.deadLetterQueue = triggers.deadLetterQueue;
    this.requestBus = triggers.requestBus;
    admitRequestAccounts(config, this.requestBus, names.busName);

    const functions = createFunctions(this, {
      config,
      key,
      stateBucket,
      deadLetterQueue: this.deadLetterQueue,
      logRetention,
      bundleAwsSdk: props.bundleAwsSdk,
    });
    this.functions = functions;
    grantLeastPrivilege(this, { config, functions, key, sourceBucket, stateBucket });
    grantDeadLetterWrites(functions, key);

    this.stateMachine = createWorkflow(this, config, names, functions, key, logRetention);
    grantWorkflow(this.stateMachine, names, functions, key);
    connectStart(functions.start, triggers, this.stateMachine, sourceBucket);

    routeEvents(this, config, names, triggers, sourceBucket);
    sweepEndedExecutions(this, names, this.stateMachine, functions.abort, this.deadLetterQueue);
    const appTopics = props.triggerTopics ?? [];
    const topicArns = subscribeTopics(this, config, key, triggers, functions.start, appTopics);
    admitOnlyOwnSenders(this, { config, names, key, triggers, sourceBucket, topicArns, functions });
    this.batchOperationsRole = grantBatchOperations(this, config, functions.start);

    this.monitoring = new RelayMonitoring(this, 'Monitoring', {
      stateMachine: this.stateMachine,
      functions: Object.values(functions),
      transferFunction: functions.transfer,
      deadLetterFunctions: [functions.start, functions.abort],
      deadLetterQueue: this.deadLetterQueue,
      key,
      alarmEmail: config.notifications.alarmEmail,
      rules: [
        { ruleName: names.objectRuleName },
        { ruleName: names.requestRuleName, eventBusName: names.busName },
      ],
      alarmTopic: config.notifications.snsTopicArn
        ? sns.Topic.fromTopicArn(this, 'AlarmTopic', config.notifications.snsTopicArn)
        : undefined,
    });
  }

  /** Lets a role or user put relay requests on the relay's bus (same account; other accounts: `access.requestAccountIds`). */
  grantRequests(grantee: iam.IGrantable): iam.Grant {
    return this.requestBus.grantPutEventsTo(grantee);
  }
}
