import { Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { ConfigError, type RelayConfig } from '../../functions/core/config.js';
import { RELAY_REQUEST_DETAIL_TYPE } from '../../functions/core/triggers/triggers.js';
import type { RelayFunctions } from '../functions.js';
import type { RelayNames } from '../names.js';
import type { RelayTriggers } from '../triggers.js';

/** Lets the accounts of `access.requestAccountIds` put relay requests on the bus the stack creates. */
export function admitRequestAccounts(config: RelayConfig, requestBus: events.IEventBus, busName: string) {
  if (config.access.requestAccountIds.length === 0) return;
  if (!(requestBus instanceof events.EventBus)) {
    throw new ConfigError([
      `access.requestAccountIds: accounts can be admitted only to the bus the stack creates, not to "${busName}". Fix: remove access.eventBusName, or grant the accounts in that bus's own resource policy.`,
    ]);
  }
  requestBus.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'RelayRequestsFromAccounts',
      principals: config.access.requestAccountIds.map((account) => new iam.AccountPrincipal(account)),
      actions: ['events:PutEvents'],
      resources: [requestBus.eventBusArn],
      conditions: { StringEquals: { 'events:detail-type': RELAY_REQUEST_DETAIL_TYPE } },
    }),
  );
}

export interface QueueSendersProps {
  readonly config: RelayConfig;
  readonly names: RelayNames;
  readonly key: kms.IKey;
  readonly triggers: RelayTriggers;
  readonly sourceBucket: s3.IBucket;
  /** The configured SNS topics and the app's, all subscribed to the trigger queue. */
  readonly topicArns: string[];
  readonly functions: RelayFunctions;
}

/**
 * The trigger queue and its DLQ accept messages only from this relay's EventBridge rules, the
 * source bucket (direct S3 notifications) and the configured SNS topics: an Allow per sender
 * with `aws:SourceArn`, and a Deny for every other principal, IAM-authorised ones included.
 */
export function admitOnlyOwnSenders(relay: Construct, props: QueueSendersProps) {
  const { names, key, sourceBucket, topicArns } = props;
  const { queue, requestQueue, deadLetterQueue } = props.triggers;
  const stack = Stack.of(relay);
  const ruleArns = [names.objectRuleArn, names.requestRuleArn];
  const senders = [names.objectRuleArn, sourceBucket.bucketArn, ...topicArns];
  // Each queue admits its own rule; the DLQ takes what either rule could not deliver.
  const ruleSenders: Array<[sqs.Queue, string[]]> = [
    [queue, [names.objectRuleArn]],
    [requestQueue, [names.requestRuleArn]],
    [deadLetterQueue, [...ruleArns, names.sweepRuleArn]],
  ];
  for (const [q, rules] of ruleSenders) {
    q.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'RelayRulesMaySend',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['sqs:SendMessage'],
        resources: [q.queueArn],
        conditions: { ArnEquals: { 'aws:SourceArn': rules } },
      }),
    );
  }
  queue.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'SourceBucketMaySend',
      principals: [new iam.ServicePrincipal('s3.amazonaws.com')],
      actions: ['sqs:SendMessage'],
      resources: [queue.queueArn],
      conditions: {
        ArnEquals: { 'aws:SourceArn': sourceBucket.bucketArn },
        StringEquals: { 'aws:SourceAccount': stack.account },
      },
    }),
  );
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'SourceBucketNotifications',
      principals: [new iam.ServicePrincipal('s3.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
      resources: ['*'],
      conditions: {
        ArnEquals: { 'aws:SourceArn': sourceBucket.bucketArn },
        StringEquals: { 'aws:SourceAccount': stack.account },
      },
    }),
  );
  // Operators the configuration names keep direct access (e.g. to redrive the DLQ).
  const operators = props.config.access.queueSenderArns;
  denyOtherSenders(queue, senders, operators);
  denyOtherSenders(requestQueue, [names.requestRuleArn], operators);
  // The DLQ too: a message planted there would be redriven by an operator past the queues' Deny.
  // Its senders: both rules and the topics (undeliverable events), and start's role (its async
  // DLQ). SQS's own move of a message after maxReceiveCount is not a SendMessage.
  denyOtherSenders(
    deadLetterQueue,
    [...ruleArns, names.sweepRuleArn, ...topicArns],
    [...operators, props.functions.start.role!.roleArn, props.functions.abort.role!.roleArn],
  );
}

/**
 * A Deny for every principal but the queue's own senders (by `aws:SourceArn`) and the given
 * principals: an Allow alone would not stop IAM-authorised principals.
 */
function denyOtherSenders(queue: sqs.Queue, sourceArns: string[], principals: string[]) {
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
