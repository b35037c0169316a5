import { type CfnElement, Stack, Token, Validations } from 'aws-cdk-lib';
import type { CfnStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import type { IConstruct } from 'constructs';
import { statePattern } from '../functions/core/state/keys.js';
import type { MasvRelay } from './masv-relay.js';

const ack = (scope: IConstruct, id: string, reason: string) =>
  Validations.of(scope).acknowledge({ id, reason });

/**
 * The cdk-nag findings masv-relay accepts, each by its exact id with the reason it is right here.
 * Anything not listed fails synthesis and the infrastructure tests.
 */
export function acknowledgeNagFindings(relay: MasvRelay) {
  acknowledgeEveryFunction(relay);
  acknowledgeSourceReads(relay);
  acknowledgeStateKeys(relay);
  acknowledgeWorkflow(relay);
  acknowledgeBucketNotificationsHandler(relay);
  acknowledgeAlarmTopic(relay);
  acknowledgeBatchOperations(relay);
  acknowledgeTriggerQueue(relay);
}

/** What every relay function shares: its logs role, X-Ray, its runtime and the relay's KMS key. */
function acknowledgeEveryFunction({ functions }: MasvRelay) {
  for (const fn of Object.values(functions)) {
    ack(
      fn,
      'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'AWSLambdaBasicExecutionRole grants only CloudWatch Logs writes; the function logs to its own KMS-encrypted log group.',
    );
    ack(
      fn,
      'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      'X-Ray PutTraceSegments and PutTelemetryRecords do not support resource-level permissions.',
    );
    ack(
      fn,
      'AwsSolutions::AwsSolutions-L1',
      'nodejs22.x is the runtime masv-relay is built and tested for (Node 20–24 dependency policy); upgrade with the dependencies.',
    );
    ack(
      fn,
      'Serverless::Serverless-LambdaLatestVersion',
      'nodejs22.x is the runtime masv-relay is built and tested for (Node 20–24 dependency policy); upgrade with the dependencies.',
    );
  }
}

/** The steps that read (and tag) source objects, whose keys are known only at run time. */
function acknowledgeSourceReads(relay: MasvRelay) {
  const { functions, sourceBucket, config } = relay;
  const prefix = config.source.prefix ?? '';
  const created = sourceBucket.node.defaultChild as CfnElement | undefined;
  const sourceArn = created
    ? `<${Stack.of(relay).getLogicalId(created)}.Arn>`
    : `arn:<AWS::Partition>:s3:::${sourceBucket.bucketName}`;
  for (const fn of [functions.prepare, functions.transfer, functions.finalize, functions.abort]) {
    ack(
      fn,
      `AwsSolutions::AwsSolutions-IAM5[Resource::${sourceArn}/${prefix}*]`,
      'Deliveries read (and tag) any object under the configured source prefix; keys are known only at run time.',
    );
  }
}

/** The state bucket's key layout: one pattern per area, under the delivery id. */
function acknowledgeStateKeys(relay: MasvRelay) {
  const { stateBucket } = relay;
  const stateId = Stack.of(relay).getLogicalId(stateBucket.node.defaultChild as never);
  for (const area of ['package', 'claims', 'parts', 'finalized', 'outcomes'] as const) {
    ack(
      relay,
      `AwsSolutions::AwsSolutions-IAM5[Resource::<${stateId}.Arn>/${statePattern(area)}]`,
      "Scoped to the relay's own state bucket; the delivery id in the key is the execution name, known only at run time.",
    );
  }
}

/** The workflow's steps, the functions it invokes and the executions start reads. */
function acknowledgeWorkflow(relay: MasvRelay) {
  const { functions } = relay;
  // start (SNS → Lambda, S3 → Lambda) and abort (the sweep rule) have an async DLQ; the other
  // three steps are only ever invoked by the workflow.
  for (const fn of [functions.prepare, functions.transfer, functions.finalize]) {
    ack(
      fn,
      'Serverless::Serverless-LambdaDLQ',
      'Invoked only synchronously, by the Step Functions workflow (its Retry/Catch and failure events handle errors); an async DLQ would never receive anything.',
    );
  }
  for (const step of ['prepare', 'transfer', 'finalize', 'abort'] as const) {
    const fnId = Stack.of(relay).getLogicalId(functions[step].node.defaultChild as never);
    ack(
      relay.stateMachine,
      `AwsSolutions::AwsSolutions-IAM5[Resource::<${fnId}.Arn>:*]`,
      "lambda:InvokeFunction on the relay's own function and its versions, as CDK's grantInvoke writes it.",
    );
  }
  // states:DescribeExecution on this state machine's executions (names are known only at run time),
  // rendered as cdk-nag writes the executions' ARN (permissions/workflow.ts: from the workflow's fixed name).
  const stack = Stack.of(relay);
  const pseudo = (value: string, name: string) => (Token.isUnresolved(value) ? `<AWS::${name}>` : value);
  const workflowName = (relay.stateMachine.node.defaultChild as CfnStateMachine).stateMachineName;
  const executions = `AwsSolutions::AwsSolutions-IAM5[Resource::arn:${pseudo(stack.partition, 'Partition')}:states:${pseudo(stack.region, 'Region')}:${pseudo(stack.account, 'AccountId')}:execution:${workflowName}:*]`;
  ack(
    functions.start,
    executions,
    "start reads the input of an existing execution of the relay's own workflow, named only at run time, to tell a duplicate from a reused requestId.",
  );
  ack(
    functions.abort,
    executions,
    "Abort reads the input and error of an ended execution of the relay's own workflow, named only at run time (its status-change event leaves them out).",
  );
  ack(
    relay.stateMachine,
    'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
    'X-Ray tracing and CloudWatch Logs delivery (logs:CreateLogDelivery and friends) do not support resource-level permissions.',
  );
}

function acknowledgeBucketNotificationsHandler(relay: MasvRelay) {
  // CDK's singleton that turns on EventBridge notifications for a created source bucket.
  for (const child of Stack.of(relay).node.children) {
    if (child.node.id.startsWith('BucketNotificationsHandler')) {
      ack(
        child,
        'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        "CDK's own bucket-notifications custom resource; it only writes its logs with this managed policy.",
      );
    }
  }
}

function acknowledgeAlarmTopic(relay: MasvRelay) {
  const topic = relay.monitoring.topic;
  if (topic?.node.defaultChild) {
    ack(
      topic,
      'Serverless::Serverless-SNSRedrivePolicy',
      'The email subscription only carries alarm notifications; the alarms themselves stay in ALARM and on the dashboard if an email is lost.',
    );
  }
}

function acknowledgeBatchOperations(relay: MasvRelay) {
  const { config } = relay;
  const batchRole = relay.batchOperationsRole;
  const batch = config.triggers.batchOperations;
  if (batchRole && batch) {
    for (const bucket of new Set([
      batch.manifestBucketName,
      batch.reportBucketName ?? batch.manifestBucketName,
    ])) {
      ack(
        batchRole,
        `AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::${bucket}/*]`,
        'Batch Operations reads manifests and writes completion reports under keys each job chooses, in the buckets the configuration names.',
      );
    }
  }
}

function acknowledgeTriggerQueue(relay: MasvRelay) {
  ack(
    relay.deadLetterQueue,
    'Serverless::Serverless-SQSRedrivePolicy',
    'This queue is the dead-letter queue of the trigger queue; it has nowhere further to redrive.',
  );
  ack(
    relay.functions.start,
    'Serverless::Serverless-LambdaEventSourceMappingDestination',
    'Failed messages are reported as partial batch failures and reach the trigger queue’s DLQ through its redrive policy.',
  );
}
