import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import type { RelayConfig } from '../../functions/core/config.js';
import type { RelayFunctions } from '../functions.js';

/**
 * The role an S3 Batch Operations job runs with: invoke start (which answers per task), read
 * the manifest, write the completion report. None without `triggers.batchOperations`.
 */
export function grantBatchOperations(
  relay: Construct,
  config: RelayConfig,
  start: RelayFunctions['start'],
): iam.Role | undefined {
  const batch = config.triggers.batchOperations;
  if (!batch) return undefined;
  const role = new iam.Role(relay, 'BatchOperationsRole', {
    assumedBy: new iam.ServicePrincipal('batchoperations.s3.amazonaws.com'),
    description: 'masv-relay: S3 Batch Operations jobs that deliver existing objects',
  });
  // The unqualified ARN only: jobs name the function as the README shows (no versions or aliases).
  role.addToPolicy(
    new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [start.functionArn] }),
  );
  const manifest = s3.Bucket.fromBucketName(relay, 'BatchManifestBucket', batch.manifestBucketName);
  const report = s3.Bucket.fromBucketName(
    relay,
    'BatchReportBucket',
    batch.reportBucketName ?? batch.manifestBucketName,
  );
  role.addToPolicy(
    new iam.PolicyStatement({
      actions: ['s3:GetObject', 's3:GetObjectVersion'],
      resources: [manifest.arnForObjects('*')],
    }),
  );
  role.addToPolicy(
    new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [report.arnForObjects('*')] }),
  );
  role.addToPolicy(
    new iam.PolicyStatement({
      actions: ['s3:GetBucketLocation'],
      resources: [...new Set([manifest.bucketArn, report.bucketArn])],
    }),
  );
  return role;
}
