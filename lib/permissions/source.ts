import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { RelayConfig } from '../../functions/core/config.js';
import type { RelayFunctions } from '../functions.js';
import { statement } from './statements.js';

/** The source objects under the configured prefix: Prepare and Transfer read, Finalize and Abort tag. */
export function grantSourceAccess(config: RelayConfig, functions: RelayFunctions, sourceBucket: s3.IBucket) {
  const { prepare, transfer, finalize, abort } = functions;
  const sourceObjects = sourceBucket.arnForObjects(`${config.source.prefix ?? ''}*`);
  for (const f of [prepare, transfer]) {
    f.addToRolePolicy(statement(['s3:GetObject', 's3:GetObjectVersion'], [sourceObjects]));
  }
  prepare.addToRolePolicy(
    statement(['s3:ListBucket'], [sourceBucket.bucketArn], {
      StringLike: { 's3:prefix': [`${config.source.prefix ?? ''}*`] },
    }),
  );
  // Archived sources are restored by Prepare only when the configuration asks for it.
  if (config.source.restoreArchived)
    prepare.addToRolePolicy(statement(['s3:RestoreObject'], [sourceObjects]));
  // Tags, and s3:GetObject for the HEAD that checks an unversioned key still holds the delivered
  // object before tagging it (`stillHolds` in s3-source.ts; S3 authorises HeadObject as GetObject,
  // and only a HEAD without a version id is made, so no GetObjectVersion).
  for (const f of [finalize, abort]) {
    f.addToRolePolicy(
      statement(
        [
          's3:GetObject',
          's3:GetObjectTagging',
          's3:GetObjectVersionTagging',
          's3:PutObjectTagging',
          's3:PutObjectVersionTagging',
        ],
        [sourceObjects],
      ),
    );
  }
}
