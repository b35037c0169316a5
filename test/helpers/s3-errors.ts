import { S3ServiceException } from '@aws-sdk/client-s3';

/** An error as the S3 client throws it for an answer with this error code and HTTP status. */
export const s3Failure = (name: string, status: number) =>
  new S3ServiceException({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
    message: name,
  });
