import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { StartExecution } from '../core/steps/start.js';
import { requiredEnv } from '../runtime.js';

/** StartExecution on the relay's state machine; `false` when an execution of that name exists. */
export async function sfnStarter(): Promise<StartExecution> {
  const sfn = new SFNClient({});
  const stateMachineArn = requiredEnv('STATE_MACHINE_ARN');
  return async (name, input) => {
    try {
      await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
      return true;
    } catch (error) {
      if (error instanceof ExecutionAlreadyExists) return false;
      throw error;
    }
  };
}
