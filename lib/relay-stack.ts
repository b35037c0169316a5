import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { RelayConfig } from '../functions/core/config.js';
import { MasvRelay } from './masv-relay.js';
import { acknowledgeNagFindings } from './nag-acknowledgements.js';

export interface MasvRelayStackProps extends StackProps {
  readonly config: RelayConfig;
}

/** The app stack: one MasvRelay from a validated configuration, with its outputs. */
export class MasvRelayStack extends Stack {
  readonly relay: MasvRelay;

  constructor(scope: Construct, id: string, props: MasvRelayStackProps) {
    super(scope, id, props);
    this.relay = new MasvRelay(this, 'Relay', { config: props.config });
    acknowledgeNagFindings(this.relay);
    new CfnOutput(this, 'SourceBucketName', { value: this.relay.sourceBucket.bucketName });
    new CfnOutput(this, 'StateMachineArn', { value: this.relay.stateMachine.stateMachineArn });
    new CfnOutput(this, 'TriggerQueueUrl', { value: this.relay.queue.queueUrl });
    new CfnOutput(this, 'TriggerQueueArn', { value: this.relay.queue.queueArn });
    new CfnOutput(this, 'RequestQueueUrl', { value: this.relay.requestQueue.queueUrl });
    // A redrive (sqs start-message-move-task) names queues by ARN: the DLQ, and the request queue
    // for requests the bus rule could not deliver.
    new CfnOutput(this, 'RequestQueueArn', { value: this.relay.requestQueue.queueArn });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.relay.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'DeadLetterQueueArn', { value: this.relay.deadLetterQueue.queueArn });
    new CfnOutput(this, 'DashboardName', { value: this.relay.monitoring.dashboard.dashboardName });
    new CfnOutput(this, 'RequestBusName', { value: this.relay.requestBus.eventBusName });
    new CfnOutput(this, 'RequestBusArn', { value: this.relay.requestBus.eventBusArn });
    new CfnOutput(this, 'StartFunctionArn', { value: this.relay.functions.start.functionArn });
    if (this.relay.batchOperationsRole) {
      new CfnOutput(this, 'BatchOperationsRoleArn', { value: this.relay.batchOperationsRole.roleArn });
    }
  }
}
