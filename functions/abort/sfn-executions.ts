import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import type { ExecutionLookup } from '../core/executions.js';

/** One client per container: warm invocations reuse its connections. */
let sfn: SFNClient | undefined;

/**
 * DescribeExecution on the relay's executions. Step Functions decrypts the input, error and cause
 * with the state machine's key for a caller that may `kms:Decrypt` with it.
 */
export function sfnExecutions(): ExecutionLookup {
  sfn ??= new SFNClient({});
  const client = sfn;
  return {
    async describe(executionArn) {
      const found = await client.send(new DescribeExecutionCommand({ executionArn }));
      return {
        status: found.status ?? 'UNKNOWN',
        ...(found.input !== undefined ? { input: found.input } : {}),
        ...(found.error !== undefined ? { error: found.error } : {}),
        ...(found.cause !== undefined ? { cause: found.cause } : {}),
      };
    },
  };
}
