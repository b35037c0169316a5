import { type CfnElement, Stack, Token, Validations } from 'aws-cdk-lib';
import type { CfnStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import type { IConstruct } from 'constructs';
import { statePattern } from '../functions/core/state-keys.js';
import type { MasvRelay } from './masv-relay.js';

const ack = (scope: IConstruct, id: string, reason: string) =>
  Validations.of(scope).acknowledge({ id, reason });

/**
 * The cdk-nag findings masv-relay accepts, each by its exact id with the reason it is right here.
 * Anything not listed fails synthesis and the infrastructure tests.
 */
export function acknowledgeNagFindings(relay: MasvRelay) {
  const { functions, stateBucket, sourceBucket, config } = relay;
  const prefix = config.source.prefix ?? '';
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
  const stateId = Stack.of(relay).getLogicalId(stateBucket.node.defaultChild as never);
  for (const area of ['package', 'claims', 'parts', 'finalized', 'outcomes'] as const) {
    ack(
      relay,
      `AwsSolutions::AwsSolutions-IAM5[Resource::<${stateId}.Arn>/${statePattern(area)}]`,
      "Scoped to the relay's own state bucket; the delivery id in the key is the execution name, known only at run time.",
    );
  }
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
  // rendered as cdk-nag writes the executions' ARN (permissions.ts: from the workflow's fixed name).
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
  const topic = relay.monitoring.topic;
  if (topic?.node.defaultChild) {
    ack(
      topic,
      'Serverless::Serverless-SNSRedrivePolicy',
      'The email subscription only carries alarm notifications; the alarms themselves stay in ALARM and on the dashboard if an email is lost.',
    );
  }
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
  ack(
    relay.deadLetterQueue,
    'Serverless::Serverless-SQSRedrivePolicy',
    'This queue is the dead-letter queue of the trigger queue; it has nowhere further to redrive.',
  );
  ack(
    functions.start,
    'Serverless::Serverless-LambdaEventSourceMappingDestination',
    'Failed messages are reported as partial batch failures and reach the trigger queue’s DLQ through its redrive policy.',
  );
}
