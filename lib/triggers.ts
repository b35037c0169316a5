import { ArnFormat, Duration, Names, Stack, Token } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { ConfigError, type RelayConfig } from '../functions/core/config.js';
import { RELAY_REQUEST_DETAIL_TYPE } from '../functions/core/triggers/triggers.js';
import { LAMBDA_TIMEOUT_SECONDS } from '../statemachines/definition.js';
import type { RelayNames } from './names.js';
import { refuseElsewhere } from './placement.js';

/** Where deliveries are asked for: the two queues start reads, their DLQ, and the request bus. */
export interface RelayTriggers {
  /** S3 notifications, SNS topics and the Object Created rule send here (never relay requests). */
  readonly queue: sqs.Queue;
  /** Only the relay's bus rule may send here: the one queue relay requests are taken from. */
  readonly requestQueue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  /** Created by the stack, or the one `access.eventBusName` names. */
  readonly requestBus: events.IEventBus;
}

/** The queues, encrypted with the relay's key, and the request bus. */
export function createTriggers(
  relay: Construct,
  config: RelayConfig,
  key: kms.IKey,
  names: RelayNames,
): RelayTriggers {
  const deadLetterQueue = new sqs.Queue(relay, 'DeadLetterQueue', {
    encryption: sqs.QueueEncryption.KMS,
    encryptionMasterKey: key,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  // Both queues start reads: encrypted, TLS only, and a message that keeps failing ends in the DLQ.
  const startQueue = (id: string) =>
    new sqs.Queue(relay, id, {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: key,
      enforceSSL: true,
      // AWS's advice for a Lambda event source: six times the function's timeout.
      visibilityTimeout: Duration.seconds(6 * LAMBDA_TIMEOUT_SECONDS.start),
      deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: 5 },
    });
  const queue = startQueue('TriggerQueue');
  // A queue of their own for relay requests: the trigger queue admits SNS topics, whose
  // publishers (raw delivery) could otherwise put a forged request there.
  const requestQueue = startQueue('RequestQueue');
  const requestBus = config.access.eventBusName
    ? events.EventBus.fromEventBusName(relay, 'RequestBus', names.busName)
    : new events.EventBus(relay, 'RequestBus', {
        eventBusName: names.busName,
        description: "masv-relay: delivery requests; its policy and callers' IAM decide who may ask",
      });
  return { queue, requestQueue, deadLetterQueue, requestBus };
}

/** start takes messages from both queues, and learns the workflow, source bucket and request queue. */
export function connectStart(
  start: lambda.Function,
  triggers: RelayTriggers,
  stateMachine: sfn.IStateMachine,
  sourceBucket: s3.IBucket,
) {
  start.addEnvironment('STATE_MACHINE_ARN', stateMachine.stateMachineArn);
  start.addEnvironment('SOURCE_BUCKET_NAME', sourceBucket.bucketName);
  start.addEnvironment('REQUEST_QUEUE_ARN', triggers.requestQueue.queueArn);
  for (const queue of [triggers.queue, triggers.requestQueue]) {
    start.addEventSource(
      new SqsEventSource(queue, { batchSize: 10, reportBatchItemFailures: true, maxConcurrency: 5 }),
    );
  }
}

/** The Object Created rule (default bus) and the relay request rule (request bus), each to its queue. */
export function routeEvents(
  relay: Construct,
  config: RelayConfig,
  names: RelayNames,
  triggers: RelayTriggers,
  sourceBucket: s3.IBucket,
) {
  const objectKey = objectKeyFilter(config);
  new events.Rule(relay, 'ObjectCreatedRule', {
    ruleName: names.objectRuleName,
    description: 'masv-relay: objects created in the source bucket',
    eventPattern: {
      source: ['aws.s3'],
      detailType: ['Object Created'],
      detail: {
        bucket: { name: [sourceBucket.bucketName] },
        ...(objectKey ? { object: { key: objectKey } } : {}),
      },
    },
    targets: [queueTarget(triggers.queue, triggers.deadLetterQueue)],
  });
  const requestRule = new events.Rule(relay, 'RelayRequestRule', {
    ruleName: names.requestRuleName,
    eventBus: triggers.requestBus,
    description: "masv-relay: delivery requests on the relay's own bus",
    eventPattern: { detailType: [RELAY_REQUEST_DETAIL_TYPE] },
    targets: [queueTarget(triggers.requestQueue, triggers.deadLetterQueue)],
  });
  // A bus given by ARN is named by it (CloudFormation takes a name or an ARN): CDK would cut it to
  // the name, and a bus of that name in the stack's own account would silently get the rule.
  if (names.busArn) (requestRule.node.defaultChild as events.CfnRule).eventBusName = names.busArn;
}

/**
 * Subscribes the trigger queue to the configured SNS topics and the app's, and tells start the
 * app's. Returns every topic's ARN, for the queue and DLQ policies.
 */
export function subscribeTopics(
  relay: Construct,
  config: RelayConfig,
  key: kms.IKey,
  triggers: RelayTriggers,
  start: lambda.Function,
  appTopics: sns.ITopic[],
): string[] {
  // SNS wants a subscription and its dead-letter queue in the same account and Region (SNS
  // developer guide, "Amazon SNS dead-letter queues"). The stack creates each subscription from the
  // relay's account, which then owns it (GetSubscriptionAttributes `Owner`: the subscriber's account,
  // not the topic's), so a topic of another account keeps the relay's DLQ once its policy lets this
  // account sns:Subscribe. A subscription is in its topic's Region: a topic in another Region is
  // refused rather than subscribed without a DLQ (S3 notifies only topics in the bucket's Region).
  const fix = (index: number) =>
    `subscribe only topics in the Region the relay deploys to (the source bucket's); remove triggers.snsTopicArns[${index}] or deploy the relay in the topic's Region.`;
  for (const [index, arn] of config.triggers.snsTopicArns.entries()) {
    refuseElsewhere(Stack.of(relay), `triggers.snsTopicArns[${index}]`, arn, fix(index), {
      anyAccount: true,
    });
  }
  const topics = [
    ...config.triggers.snsTopicArns.map((arn, index) =>
      sns.Topic.fromTopicArn(relay, `TriggerTopic${index}`, arn),
    ),
    ...appTopics,
  ];
  // Only the app's topics: the configured ones already travel in RELAY_CONFIG (4 KB budget).
  if (appTopics.length > 0) {
    start.addEnvironment(
      'TRIGGER_TOPIC_ARNS',
      Stack.of(relay).toJsonString(appTopics.map((t) => t.topicArn)),
    );
  }
  for (const topic of topics) {
    topic.addSubscription(new TopicToQueue(triggers.queue, key, triggers.deadLetterQueue));
  }
  return topics.map((t) => t.topicArn);
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
    if (topic instanceof sns.Topic && topic.stack !== queueStack) queueStack.addStackDependency(topic.stack);
    // As for the configured topics (subscribeTopics): another account is fine, another Region not.
    const known = (value?: string) => (value && !Token.isUnresolved(value) ? value : undefined);
    const topicRegion = known(
      topic instanceof sns.Topic
        ? topic.env.region
        : queueStack.splitArn(topic.topicArn, ArnFormat.SLASH_RESOURCE_NAME).region,
    );
    if (topicRegion && known(queueStack.region) && topicRegion !== queueStack.region) {
      throw new ConfigError([
        `triggerTopics: topic ${topic.node.path} is in ${topicRegion}, not the relay's ${queueStack.region}. Fix: give the relay topics of its own Region (SNS keeps a subscription's dead-letter queue in the subscription's account and Region).`,
      ]);
    }
    return {
      subscriberScope: this.queue,
      subscriberId: Names.nodeUniqueId(topic.node),
      endpoint: this.queue.queueArn,
      protocol: sns.SubscriptionProtocol.SQS,
      rawMessageDelivery: false,
      deadLetterQueue: this.deadLetterQueue,
      subscriptionDependency: queuePolicy.policyDependable,
      // Where the topic is, when that is not plainly the stack's Region (an imported ARN, or a
      // stack whose Region is unknown at synth), as CDK's SqsSubscription names it.
      ...(topicRegion && (!(topic instanceof sns.Topic) || topicRegion !== queueStack.region)
        ? { region: topicRegion }
        : {}),
    };
  }
}

/**
 * An SQS target without CDK's own queue grant (which, for an encrypted queue, has no
 * `aws:SourceArn` condition); `admitOnlyOwnSenders` in permissions/senders.ts writes the policy instead.
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
  const marker = config.triggers.folderMarker;
  return [...(base ?? []), ...folders.flatMap((r) => keyFilter(r.prefix, marker) ?? [])];
}

const escapeWildcard = (s: string) => s.replace(/[\\*]/g, (c) => `\\${c}`);

/** EventBridge pattern for the object key: prefix, suffix, or both through a wildcard. */
export function keyFilter(prefix?: string, suffix?: string): unknown[] | undefined {
  if (prefix && suffix) return [{ wildcard: `${escapeWildcard(prefix)}*${escapeWildcard(suffix)}` }];
  if (prefix) return [{ prefix }];
  if (suffix) return [{ suffix }];
  return undefined;
}
