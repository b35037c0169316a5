import { ArnFormat, type Stack, Token } from 'aws-cdk-lib';
import { ConfigError } from '../functions/core/config.js';

export interface PlacementRule {
  /** Whether a resource of another account in the stack's Region is accepted. @default false */
  readonly anyAccount?: boolean;
}

/**
 * Refuses an ARN of another account or Region than the stack's (the Region only with
 * `anyAccount`), where both are known at synth (an environment-agnostic stack's are not: then the
 * ARN itself goes into the template, and AWS refuses at deploy what does not fit). `field` and
 * `fix` make the message.
 */
export function refuseElsewhere(
  stack: Stack,
  field: string,
  arn: string,
  fix: string,
  rule: PlacementRule = {},
) {
  const { account, region } = stack.splitArn(arn, ArnFormat.SLASH_RESOURCE_NAME);
  const differs = (ours: string, theirs?: string) => !Token.isUnresolved(ours) && !!theirs && theirs !== ours;
  const problems = [
    !rule.anyAccount && differs(stack.account, account)
      ? `account ${account}, not the stack's ${stack.account}`
      : undefined,
    differs(stack.region, region) ? `Region ${region}, not the stack's ${stack.region}` : undefined,
  ].filter(Boolean);
  if (problems.length > 0) {
    throw new ConfigError([`${field}: "${arn}" is in ${problems.join(' and ')}. Fix: ${fix}`]);
  }
}
