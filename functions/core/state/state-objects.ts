import {
  DeleteObjectsCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { NetworkError, StateBucketError } from '../errors.js';
import { statusOf } from '../sdk-errors.js';

const isConditionalConflict = (error: unknown) => {
  const status = statusOf(error);
  const name = (error as Error).name;
  return (
    status === 412 || status === 409 || name === 'PreconditionFailed' || name === 'ConditionalRequestConflict'
  );
};

/**
 * The state bucket's objects as the records need them: JSON written once, empty markers, reads
 * and listings, each call's failure turned into an error that says whether to retry.
 */
export class StateObjects {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  /** Every state-bucket call: transient failures become retryable, the rest say what to check. */
  private send(command: GetObjectCommand): Promise<GetObjectCommandOutput>;
  private send(command: ListObjectsV2Command): Promise<ListObjectsV2CommandOutput>;
  private send(command: PutObjectCommand | DeleteObjectsCommand): Promise<unknown>;
  private async send(
    command: GetObjectCommand | ListObjectsV2Command | PutObjectCommand | DeleteObjectsCommand,
  ) {
    try {
      return await this.s3.send(command as GetObjectCommand);
    } catch (error) {
      const status = statusOf(error);
      const name = (error as Error).name;
      if (name === 'NoSuchKey' || status === 404) throw error;
      if (status === undefined || status >= 500 || name === 'SlowDown') {
        throw new NetworkError(`The relay's state bucket ${this.bucket} failed transiently: ${name}.`, {
          cause: error,
        });
      }
      throw new StateBucketError(
        `The relay's state bucket ${this.bucket} refused a request (${status} ${name}): check the function's IAM permissions and the bucket's KMS key.`,
        { cause: error },
      );
    }
  }

  /** Writes a JSON object only if its key does not exist yet (`If-None-Match: *`); false if it did. */
  async putOnce(key: string, value: unknown): Promise<boolean> {
    const body = JSON.stringify(value);
    try {
      await this.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentLength: Buffer.byteLength(body),
          ContentType: 'application/json',
          IfNoneMatch: '*',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalConflict((error as { cause?: unknown }).cause ?? error)) return false;
      throw error;
    }
  }

  async putEmpty(key: string) {
    await this.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: '', ContentLength: 0 }));
  }

  async readJson<T>(key: string): Promise<T | undefined> {
    try {
      const response = await this.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return JSON.parse(await response.Body!.transformToString()) as T;
    } catch (error) {
      if ((error as Error).name === 'NoSuchKey' || statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /** Keys under `prefix` (after `startAfter`), page by page until `done` says a key is past the range. */
  async list(prefix: string, startAfter?: string, done?: (key: string) => boolean) {
    const objects: Array<{ key: string; at: number }> = [];
    let token: string | undefined;
    do {
      const page = await this.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          ContinuationToken: token,
          ...(startAfter && !token ? { StartAfter: startAfter } : {}),
        }),
      );
      for (const o of page.Contents ?? []) {
        if (done?.(o.Key!)) return objects;
        objects.push({ key: o.Key!, at: o.LastModified?.getTime() ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return objects;
  }

  /** Deletes the keys, 1,000 to a request (DeleteObjects' limit). */
  async deleteAll(keys: string[]) {
    for (let i = 0; i < keys.length; i += 1000) {
      await this.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true },
        }),
      );
    }
  }
}
