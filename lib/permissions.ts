import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import type { RelayConfig } from '../functions/core/config.js';
import type { RelayFunctions } from './functions.js';
import { grantEventPuts } from './permissions/events.js';
import { grantSecretReads } from './permissions/secrets.js';
import { grantSourceAccess } from './permissions/source.js';
import { grantStateAreas } from './permissions/state.js';

export interface StepPermissionsProps {
  readonly config: RelayConfig;
  readonly functions: RelayFunctions;
  readonly key: kms.IKey;
  readonly sourceBucket: s3.IBucket;
  readonly stateBucket: s3.IBucket;
}

/**
 * Each step function gets exactly what its step does, on exactly the resources it touches, one
 * concern at a time (lib/permissions/); the order here is the order of each role's statements.
 */
export function grantLeastPrivilege(relay: Construct, props: StepPermissionsProps) {
  const { config, functions, key, sourceBucket, stateBucket } = props;
  grantSourceAccess(config, functions, sourceBucket);
  grantStateAreas(relay, functions, stateBucket, key);
  grantSecretReads(relay, config, functions);
  grantEventPuts(relay, functions);
}
