import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { RelayFunctions } from '../functions.js';
import type { RelayNames } from '../names.js';
import { viaService } from './statements.js';

/** The workflow invokes its four steps; start starts executions of it. */
export function grantWorkflow(
  stateMachine: sfn.StateMachine,
  names: RelayNames,
  functions: RelayFunctions,
  key: kms.IKey,
) {
  for (const step of ['prepare', 'transfer', 'finalize', 'abort'] as const) {
    functions[step].grantInvoke(stateMachine);
  }
  stateMachine.grantStartExecution(functions.start);
  // A name already taken: start reads that execution's input to tell a duplicate from a different
  // request reusing the requestId. Abort reads an ended execution's input and error the same way
  // (the status-change event of a CMK-encrypted state machine leaves them out).
  // The executions' ARN from the workflow's fixed name, not from the state machine: the workflow
  // invokes Abort, so a reference from Abort's policy to it would be a dependency cycle.
  const stack = Stack.of(stateMachine);
  const executions = stack.formatArn({
    service: 'states',
    resource: 'execution',
    resourceName: `${names.stateMachineName}:*`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
  for (const f of [functions.start, functions.abort]) {
    f.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['states:DescribeExecution'], resources: [executions] }),
    );
  }
  // Step Functions encrypts execution data with the relay's key: the input start passes to
  // StartExecution (a data key), what DescribeExecution returns (decrypt); only through Step Functions.
  const useKey = (f: RelayFunctions[keyof RelayFunctions], actions: string[]) =>
    f.addToRolePolicy(
      new iam.PolicyStatement({ actions, resources: [key.keyArn], conditions: viaService(stack, 'states') }),
    );
  useKey(functions.start, ['kms:Decrypt', 'kms:GenerateDataKey']);
  useKey(functions.abort, ['kms:Decrypt']);
}

/**
 * start and abort are invoked asynchronously (S3 and SNS → start, the sweep rule → abort) with the
 * DLQ as their dead-letter queue; Lambda sends there with the function's role, and SQS asks a
 * producer of a KMS-encrypted queue for kms:GenerateDataKey and kms:Decrypt (SQS developer guide,
 * "Configure KMS permissions for producers"). CDK's deadLetterQueue grants only sqs:SendMessage.
 */
export function grantDeadLetterWrites(functions: RelayFunctions, key: kms.IKey) {
  const stack = Stack.of(key);
  for (const f of [functions.start, functions.abort]) {
    f.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [key.keyArn],
        conditions: viaService(stack, 'sqs'),
      }),
    );
  }
}
