import type { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';

/** An Allow of `actions` on `resources`, under `conditions` when given. */
export const statement = (actions: string[], resources: string[], conditions?: Record<string, unknown>) =>
  new iam.PolicyStatement({ actions, resources, conditions });

/** A condition that lets the relay's key be used only by the named service on the caller's behalf. */
export const viaService = (stack: Stack, service: string) => ({
  StringEquals: { 'kms:ViaService': `${service}.${stack.region}.amazonaws.com` },
});
