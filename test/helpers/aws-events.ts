/**
 * Trigger events shaped like the samples AWS publishes (S3 "Event message structure" and test
 * event, the Lambda guide's SNS and SQS records, the SNS-to-SQS envelope without raw delivery,
 * and S3 Batch Operations invocation schemas 1.0 and 2.0), with the names and values a test varies.
 */
export const BUCKET = 'amzn-s3-demo-bucket';
export const TOPIC_ARN = 'arn:aws:sns:us-west-2:123456789012:footage-events';

export function s3Record(
  key: string,
  options: { bucket?: string; versionId?: string; eTag?: string; eventName?: string } = {},
) {
  const bucket = options.bucket ?? BUCKET;
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: 'us-west-2',
    eventTime: '1970-01-01T00:00:00.000Z',
    eventName: options.eventName ?? 'ObjectCreated:Put',
    userIdentity: { principalId: 'AIDAJDPLRKLG7UEXAMPLE' },
    requestParameters: { sourceIPAddress: '127.0.0.1' },
    responseElements: {
      'x-amz-request-id': 'C3D13FE58DE4C810',
      'x-amz-id-2': 'FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD',
    },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: 'testConfigRule',
      bucket: {
        name: bucket,
        ownerIdentity: { principalId: 'A3NL1KOZZKExample' },
        arn: `arn:aws:s3:::${bucket}`,
      },
      object: {
        key,
        size: 1024,
        eTag: options.eTag ?? 'd41d8cd98f00b204e9800998ecf8427e',
        ...(options.versionId ? { versionId: options.versionId } : {}),
        sequencer: '0055AED6DCD90281E5',
      },
    },
  };
}

export const s3Notification = (...records: unknown[]) => ({ Records: records });

export const s3TestEvent = () => ({
  Service: 'Amazon S3',
  Event: 's3:TestEvent',
  Time: '2014-10-13T15:57:02.089Z',
  Bucket: BUCKET,
  RequestId: '5582815E1AEA5ADF',
  HostId: '8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE',
});

/** The SNS envelope: what SQS receives without raw message delivery, and `Sns` in a Lambda record. */
export function snsEnvelope(message: string, topicArn = TOPIC_ARN, type = 'Notification') {
  return {
    Type: type,
    MessageId: '95df01b4-ee98-5cb9-9903-4c221d41eb5e',
    TopicArn: topicArn,
    Subject: 'Amazon S3 Notification',
    Message: message,
    Timestamp: '1970-01-01T00:00:00.000Z',
    SignatureVersion: '1',
    Signature: 'EXAMPLE',
    SigningCertURL: 'EXAMPLE',
    UnsubscribeURL: 'EXAMPLE',
  };
}

/** An SNS → Lambda invocation. */
export function snsLambdaEvent(...envelopes: unknown[]) {
  return {
    Records: envelopes.map((Sns) => ({
      EventVersion: '1.0',
      EventSubscriptionArn: `${TOPIC_ARN}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55`,
      EventSource: 'aws:sns',
      Sns,
    })),
  };
}

export const TRIGGER_QUEUE_ARN = 'arn:aws:sqs:us-west-2:123456789012:relay-trigger';
export const REQUEST_QUEUE_ARN = 'arn:aws:sqs:us-west-2:123456789012:relay-requests';

/** An SQS → Lambda batch from the trigger queue; each body is a string as SQS delivers it. */
export function sqsEvent(...bodies: string[]) {
  return sqsEventFrom(TRIGGER_QUEUE_ARN, ...bodies);
}

/** An SQS → Lambda batch from the given queue. */
export function sqsEventFrom(queueArn: string, ...bodies: string[]) {
  return {
    Records: bodies.map((body, i) => ({
      messageId: `059f36b4-87a3-44ab-83d2-66197513283${i}`,
      receiptHandle: 'AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...',
      body,
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: '1545082649183',
        SenderId: 'AIDAIENQZJOLO23YVJ4VO',
        ApproximateFirstReceiveTimestamp: '1545082649185',
      },
      messageAttributes: {},
      md5OfBody: '098f6bcd4621d373cade4e832627b4f6',
      eventSource: 'aws:sqs',
      eventSourceARN: queueArn,
      awsRegion: 'us-west-2',
    })),
  };
}

export function batchOperationsV1(key: string, versionId: string | null = '1', bucket = BUCKET) {
  return {
    invocationSchemaVersion: '1.0',
    invocationId: 'YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo',
    job: { id: 'f3cc4f60-61f6-4a2b-8a21-d07600c373ce' },
    tasks: [
      {
        taskId: 'dGFza2lkZ29lc2hlcmUK',
        s3Key: key,
        s3VersionId: versionId,
        s3BucketArn: `arn:aws:s3:::${bucket}`,
      },
    ],
  };
}

export function batchOperationsV2(
  tasks: Array<{ key: string; versionId?: string | null; bucket?: string }>,
  userArguments?: Record<string, string>,
) {
  return {
    invocationSchemaVersion: '2.0',
    invocationId: 'YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo',
    job: { id: 'ec3e8a56-bd4a-4f32-a2b3-3c8b5a0d8e11', ...(userArguments ? { userArguments } : {}) },
    tasks: tasks.map((t, i) => ({
      taskId: `dGFza2lk${i}`,
      s3Key: t.key,
      s3VersionId: t.versionId ?? null,
      s3Bucket: t.bucket ?? BUCKET,
    })),
  };
}

/** A relay request as the relay's bus rule puts it on the request queue. */
export function relayRequestEvent(detail: unknown, account = '111122223333') {
  return {
    version: '0',
    id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
    'detail-type': 'MASV Relay Request',
    source: 'my.app',
    account,
    time: '2026-11-27T00:00:00Z',
    region: 'us-west-2',
    resources: [],
    detail,
  };
}
