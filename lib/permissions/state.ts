import { Stack } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { DELIVERY_AREAS, type StateArea, statePattern } from '../../functions/core/state/keys.js';
import type { RelayFunctions } from '../functions.js';
import { statement, viaService } from './statements.js';

type StateAccess = { read: StateArea[]; write: StateArea[]; clear?: true };

/**
 * The state bucket, area by area (functions/core/state/keys.ts): what each step reads, writes and
 * deletes. Prepare records packages and claims them; Transfer writes the parts ledger; Finalize and
 * Abort write finalize marks and outcome markers and clear a delivery's records. Abort writes no
 * package record: it only claims the packages of lost creates it deletes (package-lifecycle.ts).
 */
export function grantStateAreas(
  relay: Construct,
  functions: RelayFunctions,
  stateBucket: s3.IBucket,
  key: kms.IKey,
) {
  const { prepare, transfer, finalize, abort } = functions;
  const stack = Stack.of(relay);
  const state = (areas: readonly StateArea[]) =>
    areas.map((area) => stateBucket.arnForObjects(statePattern(area)));
  const stateAccess: Array<[lambda.IFunction, StateAccess]> = [
    [prepare, { read: ['package', 'claims'], write: ['package', 'claims'] }],
    [transfer, { read: ['package'], write: ['parts'] }],
    [finalize, { read: ['package', 'outcomes'], write: ['finalized', 'outcomes'], clear: true }],
    [
      abort,
      { read: ['package', 'claims', 'outcomes'], write: ['claims', 'finalized', 'outcomes'], clear: true },
    ],
  ];
  for (const [f, access] of stateAccess) {
    f.addToRolePolicy(statement(['s3:GetObject'], state(access.read)));
    f.addToRolePolicy(statement(['s3:PutObject'], state(access.write)));
    if (access.clear) f.addToRolePolicy(statement(['s3:DeleteObject'], state(DELIVERY_AREAS)));
    // Without the condition on s3:prefix: S3 answers a GET of a missing key 404 only to a caller
    // allowed s3:ListBucket on the bucket, and 403 otherwise (GetObject, "Permissions"); a GET
    // carries no s3:prefix, so a prefix-conditioned grant would turn every missing record (a
    // finalize mark, an outcome marker) into a refusal. The bucket holds only the relay's records.
    f.addToRolePolicy(statement(['s3:ListBucket'], [stateBucket.bucketArn]));
    // The state bucket's objects: S3 decrypts for a GET and generates a data key for a PUT.
    f.addToRolePolicy(
      statement(['kms:Decrypt', 'kms:GenerateDataKey'], [key.keyArn], viaService(stack, 's3')),
    );
  }
}
