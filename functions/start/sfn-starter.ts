import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { DeliveryRequest } from '../core/delivery/request.js';
import { DeliveryRequestError } from '../core/errors.js';
import { deliveryConflict, type StartExecution, sameDeliveryRequest } from '../core/steps/start.js';
import { requiredEnv } from '../env.js';

/** One client per container: warm invocations reuse its connections. */
let sfn: SFNClient | undefined;

/**
 * StartExecution on the relay's state machine. Step Functions answers ExecutionAlreadyExists for a
 * name reused with other input, or for a finished execution: the existing execution's input tells
 * a duplicate (`false`) from a different request reusing the name (an error, never a silent drop).
 */
export async function sfnStarter(): Promise<StartExecution> {
  const stateMachineArn = requiredEnv('STATE_MACHINE_ARN');
  sfn ??= new SFNClient({});
  const client = sfn;
  return async (name, input) => {
    try {
      await client.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
      return true;
    } catch (error) {
      if (!(error instanceof ExecutionAlreadyExists)) throw error;
    }
    const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    const existing = await client.send(new DescribeExecutionCommand({ executionArn }));
    if (existing.input === undefined) {
      throw new DeliveryRequestError(
        `The delivery ${name} already exists, but its input could not be read to compare it with this request (DescribeExecution returned none). Check that start may kms:Decrypt with the relay's key.`,
      );
    }
    if (sameDeliveryRequest(JSON.parse(existing.input) as DeliveryRequest, input)) return false;
    throw deliveryConflict(name, input);
  };
}
