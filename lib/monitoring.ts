import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, RelayMetric } from '../functions/core/metrics.js';

export interface RelayMonitoringProps {
  readonly stateMachine: sfn.StateMachine;
  readonly functions: lambda.IFunction[];
  readonly transferFunction: lambda.IFunction;
  /** Functions invoked asynchronously with a dead-letter queue (start, abort). */
  readonly deadLetterFunctions?: lambda.IFunction[];
  readonly deadLetterQueue: sqs.IQueue;
  readonly key: kms.IKey;
  /** Creates an encrypted topic with this email subscribed. */
  readonly alarmEmail?: string;
  /** Sends alarms to an existing topic. */
  readonly alarmTopic?: sns.ITopic;
  /** The relay's EventBridge rules (a bus name for rules not on the default bus). */
  readonly rules?: Array<{ ruleName: string; eventBusName?: string }>;
}

/** The relay's dashboard and alarms (executions, bytes, retries, DLQ, Lambda errors and throttles). */
export class RelayMonitoring extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly topic?: sns.ITopic;

  constructor(scope: Construct, id: string, props: RelayMonitoringProps) {
    super(scope, id);
    const period = Duration.minutes(5);
    const relayMetric = (metricName: string, serviceName: string, statistic = 'Sum') =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: serviceName },
        statistic,
        period,
      });
    const started = props.stateMachine.metricStarted({ period });
    const succeeded = props.stateMachine.metricSucceeded({ period });
    const failed = props.stateMachine.metricFailed({ period });
    const dlqDepth = props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
      period: Duration.minutes(1),
    });
    const concurrency = new cloudwatch.Metric({
      namespace: 'AWS/Lambda',
      metricName: 'ConcurrentExecutions',
      dimensionsMap: { FunctionName: props.transferFunction.functionName },
      statistic: 'Maximum',
      period: Duration.minutes(1),
    });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      widgets: [
        [
          new cloudwatch.GraphWidget({ title: 'Deliveries', left: [started, succeeded, failed], width: 12 }),
          new cloudwatch.GraphWidget({
            title: 'Bytes relayed',
            left: [relayMetric(RelayMetric.bytesRelayed, 'masv-relay-transfer')],
            width: 12,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Part retries',
            left: [relayMetric(RelayMetric.partRetries, 'masv-relay-transfer')],
            width: 8,
          }),
          new cloudwatch.GraphWidget({ title: 'Trigger DLQ depth', left: [dlqDepth], width: 8 }),
          new cloudwatch.GraphWidget({ title: 'Transfer concurrency', left: [concurrency], width: 8 }),
        ],
      ],
    });

    this.topic = props.alarmTopic;
    if (!this.topic && props.alarmEmail) {
      const topic = new sns.Topic(this, 'AlarmTopic', { masterKey: props.key, enforceSSL: true });
      // A topic policy replaces SNS's default one, which let the account's principals publish:
      // the TLS Deny alone would leave CloudWatch no way in. Alarms of this account and Region
      // only (SNS guide, access policy use cases: CloudWatch alarms, aws:SourceArn/SourceAccount).
      const stack = Stack.of(this);
      topic.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'CloudWatchAlarmsMayPublish',
          principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
          actions: ['sns:Publish'],
          resources: [topic.topicArn],
          conditions: {
            ArnLike: {
              'aws:SourceArn': `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:*`,
            },
            StringEquals: { 'aws:SourceAccount': stack.account },
          },
        }),
      );
      // CloudWatch alarms publish to an encrypted topic only if the key lets them (SNS guide,
      // "Enable compatibility between event sources from AWS services and encrypted topics").
      props.key.grant(
        new iam.ServicePrincipal('cloudwatch.amazonaws.com'),
        'kms:Decrypt',
        'kms:GenerateDataKey*',
      );
      topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
      this.topic = topic;
    }

    const alarm = (name: string, metric: cloudwatch.IMetric, description: string) => {
      const a = new cloudwatch.Alarm(this, name, {
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      if (this.topic) a.addAlarmAction(new actions.SnsAction(this.topic));
      this.alarms.push(a);
    };
    alarm('ExecutionsFailed', failed, 'A delivery failed; its failure event and the workflow logs say why.');
    alarm(
      'DeadLetterQueueNotEmpty',
      dlqDepth,
      'Trigger messages could not start deliveries; inspect the DLQ.',
    );
    // Events a rule could deliver neither to the queue nor to the DLQ are lost: a queue or key
    // policy that refuses EventBridge shows here first.
    for (const [index, rule] of (props.rules ?? []).entries()) {
      const ruleMetric = (metricName: string) =>
        new cloudwatch.Metric({
          namespace: 'AWS/Events',
          metricName,
          dimensionsMap: {
            RuleName: rule.ruleName,
            ...(rule.eventBusName ? { EventBusName: rule.eventBusName } : {}),
          },
          statistic: 'Sum',
          period,
        });
      alarm(
        `RuleFailedInvocations${index}`,
        ruleMetric('FailedInvocations'),
        `EventBridge rule ${rule.ruleName} could not deliver events to its queue (trigger or request queue); check the queue and key policies.`,
      );
      alarm(
        `RuleDlqFailures${index}`,
        ruleMetric('InvocationsFailedToBeSentToDlq'),
        `EventBridge rule ${rule.ruleName} lost events: neither its queue nor the DLQ accepted them.`,
      );
    }
    // Lambda could not put a failed asynchronous event in the DLQ (a queue or key policy refusing
    // it): the event is gone, and only this metric shows it.
    for (const [index, fn] of (props.deadLetterFunctions ?? []).entries()) {
      alarm(
        `LambdaDeadLetterErrors${index}`,
        fn.metric('DeadLetterErrors', { period, statistic: 'Sum' }),
        'A relay function could not send a failed asynchronous event to the DLQ: the event is lost; check the DLQ and key policies.',
      );
    }
    for (const [index, fn] of props.functions.entries()) {
      alarm(`LambdaErrors${index}`, fn.metricErrors({ period }), 'A relay function reported errors.');
      // Transfer's throttles are its queue: the reserved concurrency holds batches back by design
      // and the workflow waits them out (a wait that runs out fails the execution, which alarms).
      if (fn === props.transferFunction) continue;
      alarm(`LambdaThrottles${index}`, fn.metricThrottles({ period }), 'A relay function was throttled.');
    }
  }
}
