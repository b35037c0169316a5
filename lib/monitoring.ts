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

/** The metrics the dashboard shows and the alarms watch, all at the relay's period. */
function relayMetrics(props: RelayMonitoringProps) {
  const period = Duration.minutes(5);
  const relayMetric = (metricName: string, serviceName: string, statistic = 'Sum') =>
    new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { service: serviceName },
      statistic,
      period,
    });
  return {
    period,
    started: props.stateMachine.metricStarted({ period }),
    succeeded: props.stateMachine.metricSucceeded({ period }),
    failed: props.stateMachine.metricFailed({ period }),
    dlqDepth: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
      period: Duration.minutes(1),
    }),
    concurrency: new cloudwatch.Metric({
      namespace: 'AWS/Lambda',
      metricName: 'ConcurrentExecutions',
      dimensionsMap: { FunctionName: props.transferFunction.functionName },
      statistic: 'Maximum',
      period: Duration.minutes(1),
    }),
    bytesRelayed: relayMetric(RelayMetric.bytesRelayed, 'masv-relay-transfer'),
    partRetries: relayMetric(RelayMetric.partRetries, 'masv-relay-transfer'),
  };
}

type RelayMetrics = ReturnType<typeof relayMetrics>;

/** The relay's dashboard and alarms (executions, bytes, retries, DLQ, Lambda errors and throttles). */
export class RelayMonitoring extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly topic?: sns.ITopic;

  constructor(scope: Construct, id: string, props: RelayMonitoringProps) {
    super(scope, id);
    const metrics = relayMetrics(props);
    this.dashboard = this.buildDashboard(metrics);
    this.topic =
      props.alarmTopic ?? (props.alarmEmail ? this.buildTopic(props.key, props.alarmEmail) : undefined);
    this.alarm(
      'ExecutionsFailed',
      metrics.failed,
      'A delivery failed; its failure event and the workflow logs say why.',
    );
    this.alarm(
      'DeadLetterQueueNotEmpty',
      metrics.dlqDepth,
      'Trigger messages could not start deliveries; inspect the DLQ.',
    );
    this.buildRuleAlarms(props.rules ?? [], metrics.period);
    this.buildFunctionAlarms(props, metrics.period);
  }

  private buildDashboard(metrics: RelayMetrics) {
    const { started, succeeded, failed, dlqDepth, concurrency } = metrics;
    return new cloudwatch.Dashboard(this, 'Dashboard', {
      widgets: [
        [
          new cloudwatch.GraphWidget({ title: 'Deliveries', left: [started, succeeded, failed], width: 12 }),
          new cloudwatch.GraphWidget({ title: 'Bytes relayed', left: [metrics.bytesRelayed], width: 12 }),
        ],
        [
          new cloudwatch.GraphWidget({ title: 'Part retries', left: [metrics.partRetries], width: 8 }),
          new cloudwatch.GraphWidget({ title: 'Trigger DLQ depth', left: [dlqDepth], width: 8 }),
          new cloudwatch.GraphWidget({ title: 'Transfer concurrency', left: [concurrency], width: 8 }),
        ],
      ],
    });
  }

  /** An encrypted topic with `email` subscribed, that only this account's alarms may publish to. */
  private buildTopic(key: kms.IKey, email: string): sns.ITopic {
    const topic = new sns.Topic(this, 'AlarmTopic', { masterKey: key, enforceSSL: true });
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
    key.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    topic.addSubscription(new subscriptions.EmailSubscription(email));
    return topic;
  }

  /** An alarm on any datapoint of `metric` (≥ 1), sent to the topic when there is one. */
  private alarm(name: string, metric: cloudwatch.IMetric, description: string) {
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
  }

  /**
   * Events a rule could deliver neither to the queue nor to the DLQ are lost: a queue or key
   * policy that refuses EventBridge shows here first.
   */
  private buildRuleAlarms(rules: NonNullable<RelayMonitoringProps['rules']>, period: Duration) {
    for (const [index, rule] of rules.entries()) {
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
      this.alarm(
        `RuleFailedInvocations${index}`,
        ruleMetric('FailedInvocations'),
        `EventBridge rule ${rule.ruleName} could not deliver events to its queue (trigger or request queue); check the queue and key policies.`,
      );
      this.alarm(
        `RuleDlqFailures${index}`,
        ruleMetric('InvocationsFailedToBeSentToDlq'),
        `EventBridge rule ${rule.ruleName} lost events: neither its queue nor the DLQ accepted them.`,
      );
    }
  }

  private buildFunctionAlarms(props: RelayMonitoringProps, period: Duration) {
    // Lambda could not put a failed asynchronous event in the DLQ (a queue or key policy refusing
    // it): the event is gone, and only this metric shows it.
    for (const [index, fn] of (props.deadLetterFunctions ?? []).entries()) {
      this.alarm(
        `LambdaDeadLetterErrors${index}`,
        fn.metric('DeadLetterErrors', { period, statistic: 'Sum' }),
        'A relay function could not send a failed asynchronous event to the DLQ: the event is lost; check the DLQ and key policies.',
      );
    }
    for (const [index, fn] of props.functions.entries()) {
      this.alarm(`LambdaErrors${index}`, fn.metricErrors({ period }), 'A relay function reported errors.');
      // Transfer's throttles are its queue: the reserved concurrency holds batches back by design
      // and the workflow waits them out (a wait that runs out fails the execution, which alarms).
      if (fn === props.transferFunction) continue;
      this.alarm(
        `LambdaThrottles${index}`,
        fn.metricThrottles({ period }),
        'A relay function was throttled.',
      );
    }
  }
}
