import {
  DeleteObjectsCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { MasvProtocolError, NetworkError, StorageError } from './errors.js';
import type { UploadedPart } from './masv/types.js';

export interface PackageRecord {
  packageId: string;
  owner: 'team' | 'portal';
  /** Package token: kept here, encrypted at rest, so it never travels through workflow state. */
  token: string;
}

/**
 * The relay's own records of a delivery in its state bucket: the package token and the parts
 * ledger (one empty object per finished part, the ETag in its key, so one listing reads them all
 * and a retried batch skips finished parts). A lifecycle rule expires whatever is left behind.
 */
export class DeliveryStore {
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
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      const name = (error as Error).name;
      if (name === 'NoSuchKey' || status === 404) throw error;
      if (status === undefined || status >= 500 || name === 'SlowDown') {
        throw new NetworkError(`The relay's state bucket ${this.bucket} failed transiently: ${name}.`, {
          cause: error,
        });
      }
      throw new StorageError(
        `The relay's state bucket ${this.bucket} refused a request (${status} ${name}): check the function's IAM permissions and the bucket's KMS key.`,
        { cause: error },
      );
    }
  }

  private root(deliveryId: string) {
    return `deliveries/${deliveryId}/`;
  }

  async savePackage(deliveryId: string, record: PackageRecord) {
    await this.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: `${this.root(deliveryId)}package.json`,
        Body: JSON.stringify(record),
        ContentLength: Buffer.byteLength(JSON.stringify(record)),
        ContentType: 'application/json',
      }),
    );
  }

  async loadPackage(deliveryId: string): Promise<PackageRecord | undefined> {
    try {
      const response = await this.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: `${this.root(deliveryId)}package.json` }),
      );
      return JSON.parse(await response.Body!.transformToString()) as PackageRecord;
    } catch (error) {
      if (
        (error as Error).name === 'NoSuchKey' ||
        (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404
      ) {
        return undefined;
      }
      throw error;
    }
  }

  async requirePackage(deliveryId: string): Promise<PackageRecord> {
    const record = await this.loadPackage(deliveryId);
    if (!record) {
      throw new MasvProtocolError(
        `No package record for delivery ${deliveryId} in the state bucket (expired or deleted). Start the delivery again.`,
      );
    }
    return record;
  }

  async recordPart(deliveryId: string, fileIndex: number, part: UploadedPart) {
    const key = `${this.root(deliveryId)}parts/${fileIndex}/${String(part.partNumber).padStart(5, '0')}.${encodeURIComponent(part.etag)}`;
    await this.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: '', ContentLength: 0 }));
  }

  /** Finished parts of one file, by part number (the latest record wins if a part was sent twice). */
  async listParts(deliveryId: string, fileIndex: number): Promise<Map<number, UploadedPart>> {
    const parts = new Map<number, UploadedPart & { at: number }>();
    for (const object of await this.list(`${this.root(deliveryId)}parts/${fileIndex}/`)) {
      const name = object.key.slice(object.key.lastIndexOf('/') + 1);
      const dot = name.indexOf('.');
      const partNumber = Number(name.slice(0, dot));
      const etag = decodeURIComponent(name.slice(dot + 1));
      const previous = parts.get(partNumber);
      if (!previous || previous.at <= object.at) parts.set(partNumber, { partNumber, etag, at: object.at });
    }
    return new Map([...parts].map(([n, { partNumber, etag }]) => [n, { partNumber, etag }]));
  }

  async markFileFinalized(deliveryId: string, fileIndex: number) {
    await this.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: `${this.root(deliveryId)}finalized/${fileIndex}`,
        Body: '',
        ContentLength: 0,
      }),
    );
  }

  async finalizedFiles(deliveryId: string): Promise<Set<number>> {
    const objects = await this.list(`${this.root(deliveryId)}finalized/`);
    return new Set(objects.map((o) => Number(o.key.slice(o.key.lastIndexOf('/') + 1))));
  }

  /** Deletes every record of the delivery. */
  async clear(deliveryId: string) {
    const keys = (await this.list(this.root(deliveryId))).map((o) => o.key);
    for (let i = 0; i < keys.length; i += 1000) {
      await this.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true },
        }),
      );
    }
  }

  private async list(prefix: string) {
    const objects: Array<{ key: string; at: number }> = [];
    let token: string | undefined;
    do {
      const page = await this.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) objects.push({ key: o.Key!, at: o.LastModified?.getTime() ?? 0 });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return objects;
  }
}
