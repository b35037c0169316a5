import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import type { RelayConfig } from '../functions/core/config.js';
import { renderDefinition } from '../statemachines/definition.js';
import type { RelayFunctions } from './functions.js';
import type { RelayNames } from './names.js';

/**
 * The delivery workflow: `statemachines/relay.asl.json` with the step functions' ARNs substituted,
 * its execution data encrypted with the relay's key and logged in full.
 */
export function createWorkflow(
  relay: Construct,
  config: RelayConfig,
  names: RelayNames,
  functions: RelayFunctions,
  key: kms.IKey,
  logRetention: logs.RetentionDays,
): sfn.StateMachine {
  const workflowLogs = new logs.LogGroup(relay, 'WorkflowLogs', {
    retention: logRetention,
    encryptionKey: key,
  });
  return new sfn.StateMachine(relay, 'Workflow', {
    // Named, because Step Functions encrypts execution data under the state machine's ARN as
    // encryption context, and CDK's key grant for the workflow's role names that ARN from the
    // name: without one it would end in `stateMachine:` and match no execution.
    stateMachineName: names.stateMachineName,
    stateMachineType: sfn.StateMachineType.STANDARD,
    definitionBody: sfn.DefinitionBody.fromString(
      renderDefinition({ MapConcurrency: config.transfer.mapConcurrency }),
    ),
    definitionSubstitutions: {
      PrepareFunctionArn: functions.prepare.functionArn,
      TransferFunctionArn: functions.transfer.functionArn,
      FinalizeFunctionArn: functions.finalize.functionArn,
      AbortFunctionArn: functions.abort.functionArn,
    },
    logs: { destination: workflowLogs, level: sfn.LogLevel.ALL, includeExecutionData: true },
    tracingEnabled: true,
    encryptionConfiguration: new sfn.CustomerManagedEncryptionConfiguration(key, Duration.minutes(5)),
  });
}

/**
 * A safety net for executions that end without reaching Abort (history or payload limit, the
 * execution timeout, stopped by hand): Abort runs from their status change and deletes what the
 * delivery left; when Abort already ran, it finds its own mark and does nothing.
 */
export function sweepEndedExecutions(
  relay: Construct,
  names: RelayNames,
  stateMachine: sfn.IStateMachine,
  abort: lambda.IFunction,
  deadLetterQueue: sqs.IQueue,
) {
  new events.Rule(relay, 'ExecutionEndedRule', {
    ruleName: names.sweepRuleName,
    description: 'masv-relay: executions that ended without their Abort step run Abort',
    eventPattern: {
      source: ['aws.states'],
      detailType: ['Step Functions Execution Status Change'],
      detail: {
        status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
        stateMachineArn: [stateMachine.stateMachineArn],
      },
    },
    targets: [
      new targets.LambdaFunction(abort, {
        retryAttempts: 8,
        maxEventAge: Duration.hours(24),
        deadLetterQueue,
      }),
    ],
  });
}
