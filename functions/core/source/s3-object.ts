/** One S3 object, named by bucket and key, and by version when the delivery knows it. */
export interface S3ObjectName {
  bucket: string;
  key: string;
  versionId?: string;
}

/** The parameters that name the object (its version, when known) in an S3 request. */
export function objectParams(object: S3ObjectName) {
  return { Bucket: object.bucket, Key: object.key, VersionId: object.versionId };
}

/** The object as `s3://bucket/key`, for messages. */
export function s3Url(object: { bucket: string; key: string }) {
  return `s3://${object.bucket}/${object.key}`;
}
