import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import type { RelayConfig } from '../functions/core/config.js';
import { STATE_PREFIX } from '../functions/core/state/keys.js';

/** The relay's key, the bucket its deliveries come from and the bucket that keeps their records. */
export interface RelayStorage {
  /** Customer-managed key for execution data, the queues, the state bucket and the logs. */
  readonly key: kms.Key;
  readonly sourceBucket: s3.IBucket;
  /** Package records and the parts ledger, expiring by lifecycle rule. */
  readonly stateBucket: s3.Bucket;
}

export interface RelayStorageProps {
  readonly config: RelayConfig;
  /** A source bucket from the embedding app (see `MasvRelayProps.sourceBucket`). */
  readonly sourceBucket?: s3.IBucket;
  /** @default 14 */
  readonly stateRetentionDays?: number;
}

/**
 * The key (with the statements CloudWatch Logs and the relay's rules need), the access log bucket,
 * the state bucket, and the source bucket: the app's, the configured existing one, or a new one.
 */
export function createStorage(relay: Construct, props: RelayStorageProps): RelayStorage {
  const { config } = props;
  const stack = Stack.of(relay);
  const key = new kms.Key(relay, 'Key', {
    description: 'masv-relay: execution data, queues, state bucket and logs',
    enableKeyRotation: true,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
      actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      resources: ['*'],
      conditions: {
        ArnLike: {
          'kms:EncryptionContext:aws:logs:arn': `arn:${stack.partition}:logs:${stack.region}:${stack.account}:*`,
        },
      },
    }),
  );
  // EventBridge encrypts what its rules put on the queues. Without aws:SourceAccount/aws:SourceArn:
  // AWS documents them as unsupported in a key policy for EventBridge-to-encrypted-topic delivery
  // (SNS guide, key management) and the SQS guide's statement for event sources carries none; a
  // condition the request does not carry would refuse every event. The queue policies still admit
  // only the relay's rules by aws:SourceArn (permissions/senders.ts). See docs/architecture.md, Permissions.
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'EventBridgeRulesToRelayQueues',
      principals: [new iam.ServicePrincipal('events.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
      resources: ['*'],
    }),
  );

  const accessLogs = new s3.Bucket(relay, 'AccessLogs', {
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
    lifecycleRules: [{ expiration: Duration.days(90) }],
  });

  const stateBucket = new s3.Bucket(relay, 'StateBucket', {
    encryption: s3.BucketEncryption.KMS,
    encryptionKey: key,
    bucketKeyEnabled: true,
    enforceSSL: true,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    serverAccessLogsBucket: accessLogs,
    serverAccessLogsPrefix: 'state/',
    lifecycleRules: [
      { prefix: STATE_PREFIX, expiration: Duration.days(props.stateRetentionDays ?? 14) },
      { abortIncompleteMultipartUploadAfter: Duration.days(1) },
    ],
  });

  const sourceBucket =
    props.sourceBucket ??
    (config.source.existingBucketName
      ? s3.Bucket.fromBucketName(relay, 'SourceBucket', config.source.existingBucketName)
      : new s3.Bucket(relay, 'SourceBucket', {
          eventBridgeEnabled: true,
          encryption: s3.BucketEncryption.S3_MANAGED,
          enforceSSL: true,
          versioned: true,
          blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
          serverAccessLogsBucket: accessLogs,
          serverAccessLogsPrefix: 'source/',
          removalPolicy: RemovalPolicy.RETAIN,
          // Versioned, so every overwritten or deleted object would be billed forever without this.
          lifecycleRules: [
            {
              noncurrentVersionExpiration: Duration.days(config.source.noncurrentVersionDays),
              expiredObjectDeleteMarker: true,
              abortIncompleteMultipartUploadAfter: Duration.days(7),
            },
          ],
        }));

  return { key, sourceBucket, stateBucket };
}
