import {
  DeleteObjectsCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { PreparedDelivery } from '../delivery/request.js';
import { MasvProtocolError, NetworkError, PackageRecordConflictError, StateBucketError } from '../errors.js';
import type { UploadedPart } from '../masv/types.js';
import { statusOf } from '../sdk-errors.js';
import { areaOf, claimKey, DELIVERY_AREAS, outcomeKey, STATE_PREFIX } from './keys.js';

export interface PackageRecord {
  packageId: string;
  owner: 'team' | 'portal';
  /** Package token: kept here, encrypted at rest, so it never travels through workflow state. */
  token: string;
}

/** One Prepare attempt's package: written once, numbered so a later attempt never overwrites one. */
export interface PackageGeneration {
  generation: number;
  /** What the attempt asked MASV to create, and when (present even if the answer never came). */
  intent?: CreateIntent;
  record?: PackageRecord;
  /** Set once the attempt finished: a later Prepare of the same delivery returns it unchanged. */
  prepared?: PreparedDelivery;
}

/** Enough of a requested package to recognise it in MASV's listing after a lost answer. */
export interface CreateIntent {
  startedAt: string;
  name: string;
  description: string;
}

/** Markers of the irreversible finalize steps, written before the call so a repeat can tell. */
const FINALIZE_MARKS = ['package-finalizing', 'package-finalized', 'link-requested'] as const;
export type FinalizeMark = (typeof FINALIZE_MARKS)[number];

/** `00042.<etag>~<storedAt>`: part number, ETag as received, when storage accepted it (older records: LastModified). */
function parsePartKey(name: string, lastModified: number) {
  const dot = name.indexOf('.');
  const tilde = name.lastIndexOf('~');
  const storedAt = tilde > dot ? Number(name.slice(tilde + 1)) : Number.NaN;
  return {
    partNumber: Number(name.slice(0, dot)),
    etag: decodeURIComponent(name.slice(dot + 1, tilde > dot ? tilde : undefined)),
    at: Number.isFinite(storedAt) ? storedAt : lastModified,
  };
}

const isConditionalConflict = (error: unknown) => {
  const status = statusOf(error);
  const name = (error as Error).name;
  return (
    status === 412 || status === 409 || name === 'PreconditionFailed' || name === 'ConditionalRequestConflict'
  );
};

type GenerationFileKind = 'json' | 'creating' | 'prepared';

const generationFile = (generation: number, kind: GenerationFileKind) =>
  `${String(generation).padStart(4, '0')}.${kind}`;

/**
 * `deliveries/package/{id}/0042.prepared` → generation 42, kind `prepared`; undefined for any
 * other key, one nested deeper included: the file name must follow the area and delivery id.
 */
function parseGenerationFile(key: string): { generation: number; kind: GenerationFileKind } | undefined {
  const area = `${STATE_PREFIX}package/`;
  if (!key.startsWith(area)) return undefined;
  const match = /^[^/]+\/(\d{4,})\.(json|creating|prepared)$/.exec(key.slice(area.length));
  return match ? { generation: Number(match[1]), kind: match[2] as GenerationFileKind } : undefined;
}

type GenerationFile = { key: string; generation: number; kind: GenerationFileKind };

/** The file of the newest generation among `files` (of one kind, when given). */
const newestFile = (files: GenerationFile[], kind?: GenerationFileKind) =>
  files
    .filter((f) => kind === undefined || f.kind === kind)
    .reduce<GenerationFile | undefined>(
      (newest, f) => (newest && newest.generation >= f.generation ? newest : f),
      undefined,
    );

/**
 * The relay's own records of a delivery in its state bucket: the package token and the parts
 * ledger (one empty object per finished part, the ETag in its key, so one listing reads them all
 * and a retried batch skips finished parts). A lifecycle rule expires whatever is left behind.
 */
export class StateBucket {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  /** Key of a generation's package record (for `clear`'s `keep`). */
  isRecordOf(key: string, generation: number) {
    const file = parseGenerationFile(key);
    return file?.kind === 'json' && file.generation === generation;
  }

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
  private async putOnce(key: string, value: unknown): Promise<boolean> {
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

  private async readJson<T>(key: string): Promise<T | undefined> {
    try {
      const response = await this.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return JSON.parse(await response.Body!.transformToString()) as T;
    } catch (error) {
      if ((error as Error).name === 'NoSuchKey' || statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  private packageKey(deliveryId: string, generation: number, kind: GenerationFileKind) {
    return `${areaOf(deliveryId, 'package')}${generationFile(generation, kind)}`;
  }

  /** The delivery's package files by name alone (one listing, nothing read). */
  private async generationFiles(deliveryId: string): Promise<GenerationFile[]> {
    const files: GenerationFile[] = [];
    for (const { key } of await this.list(areaOf(deliveryId, 'package'))) {
      const file = parseGenerationFile(key);
      if (file) files.push({ key, ...file });
    }
    return files;
  }

  /** Every package generation of the delivery, oldest first, with or without a record. */
  async packageGenerations(deliveryId: string): Promise<PackageGeneration[]> {
    const byGeneration = new Map<number, PackageGeneration>();
    for (const { key, generation, kind } of await this.generationFiles(deliveryId)) {
      const entry = byGeneration.get(generation) ?? { generation };
      byGeneration.set(generation, entry);
      if (kind === 'json') entry.record = await this.readJson<PackageRecord>(key);
      else if (kind === 'prepared') entry.prepared = await this.readJson<PreparedDelivery>(key);
      else entry.intent = await this.readJson<CreateIntent>(key);
    }
    return [...byGeneration.values()].sort((a, b) => a.generation - b.generation);
  }

  /** The recorded packages of every generation, oldest first; intents and kept results are not read. */
  async packageRecords(deliveryId: string): Promise<Array<{ generation: number; record: PackageRecord }>> {
    const records: Array<{ generation: number; record: PackageRecord }> = [];
    for (const { key, generation, kind } of await this.generationFiles(deliveryId)) {
      if (kind !== 'json') continue;
      const record = await this.readJson<PackageRecord>(key);
      if (record) records.push({ generation, record });
    }
    return records.sort((a, b) => a.generation - b.generation);
  }

  /** The newest generation any Prepare attempt began (0 when none), from the listing alone. */
  async newestGeneration(deliveryId: string): Promise<number> {
    return newestFile(await this.generationFiles(deliveryId))?.generation ?? 0;
  }

  /**
   * The kept result of the newest recorded generation, when that generation finished: one listing
   * and at most one read, so a repeated Prepare can answer before reading any source.
   */
  async finishedPrepare(
    deliveryId: string,
  ): Promise<{ generation: number; prepared: PreparedDelivery } | undefined> {
    const files = await this.generationFiles(deliveryId);
    const kept = newestFile(files, 'prepared');
    if (!kept || kept.generation !== newestFile(files, 'json')?.generation) return undefined;
    const prepared = await this.readJson<PreparedDelivery>(kept.key);
    return prepared && { generation: kept.generation, prepared };
  }

  /** Notes that this generation is about to create a package, so a lost answer can be found again. */
  async recordCreateIntent(deliveryId: string, generation: number, intent: CreateIntent) {
    if (!(await this.putOnce(this.packageKey(deliveryId, generation, 'creating'), intent))) {
      throw new PackageRecordConflictError(
        `Another Prepare of delivery ${deliveryId} is creating package generation ${generation}; this one stops.`,
      );
    }
  }

  /**
   * Records the generation's package, once: an overlapping Prepare that got there first makes
   * this throw, and the caller deletes the package it created instead of using it.
   */
  async savePackage(deliveryId: string, generation: number, record: PackageRecord) {
    if (!(await this.putOnce(this.packageKey(deliveryId, generation, 'json'), record))) {
      throw new PackageRecordConflictError(
        `Delivery ${deliveryId} already recorded package generation ${generation}: an overlapping Prepare won; package ${record.packageId} is not used.`,
      );
    }
  }

  /** Keeps a finished Prepare's output, so a repeated Prepare returns it instead of starting over. */
  async savePrepared(deliveryId: string, generation: number, prepared: PreparedDelivery) {
    await this.putOnce(this.packageKey(deliveryId, generation, 'prepared'), prepared);
  }

  /** Remembers that the delivery happened, so a Finalize or Abort that runs again reports success. */
  async markDelivered(deliveryId: string, result: unknown): Promise<boolean> {
    return this.putOnce(outcomeKey('delivered', deliveryId), result);
  }

  async delivered<T>(deliveryId: string): Promise<T | undefined> {
    return this.readJson<T>(outcomeKey('delivered', deliveryId));
  }

  /** Remembers that Abort handled the delivery, so a later sweep does nothing. */
  async markAborted(deliveryId: string, detail: unknown): Promise<boolean> {
    return this.putOnce(outcomeKey('aborted', deliveryId), detail);
  }

  async aborted<T>(deliveryId: string): Promise<T | undefined> {
    return this.readJson<T>(outcomeKey('aborted', deliveryId));
  }

  /**
   * Marks a package as this delivery's, once across all deliveries: reconciliation may only adopt
   * or delete a package nobody else has claimed. True when the claim is (or already was) ours.
   */
  async claimPackage(packageId: string, deliveryId: string): Promise<boolean> {
    const key = claimKey(packageId);
    if (await this.putOnce(key, { deliveryId })) return true;
    return (await this.readJson<{ deliveryId: string }>(key))?.deliveryId === deliveryId;
  }

  /** The package of the delivery's latest generation, if it was recorded. */
  async loadPackage(deliveryId: string): Promise<PackageRecord | undefined> {
    // One listing and one read: every batch asks, so the intents and the (large) kept results of
    // the generations are not read here.
    const newest = newestFile(await this.generationFiles(deliveryId), 'json');
    return newest ? this.readJson<PackageRecord>(newest.key) : undefined;
  }

  /** The delivery's current package; when `packageId` is given it must be that one. */
  async requirePackage(deliveryId: string, packageId?: string): Promise<PackageRecord> {
    const record = await this.loadPackage(deliveryId);
    if (!record) {
      throw new MasvProtocolError(
        `No package record for delivery ${deliveryId} in the state bucket (expired or deleted). Start the delivery again.`,
      );
    }
    if (packageId !== undefined && record.packageId !== packageId) {
      throw new PackageRecordConflictError(
        `Delivery ${deliveryId} now records package ${record.packageId}, not ${packageId}: this invocation belongs to an earlier Prepare and stops.`,
      );
    }
    return record;
  }

  /**
   * Records a finished part. `storedAt` (ms) is when storage answered the PUT: of two records of
   * one part (overlapping invocations), the one stored last names the copy storage kept.
   */
  async recordPart(deliveryId: string, fileIndex: number, part: UploadedPart, storedAt = Date.now()) {
    await this.putEmpty(
      `${areaOf(deliveryId, 'parts')}${fileIndex}/${String(part.partNumber).padStart(5, '0')}.${encodeURIComponent(part.etag)}~${storedAt}`,
    );
  }

  /** Finished parts of one file, by part number (of two records of a part, the one stored last). */
  async listParts(deliveryId: string, fileIndex: number): Promise<Map<number, UploadedPart>> {
    return this.listPartsInWindow(deliveryId, fileIndex, 1, Number.MAX_SAFE_INTEGER);
  }

  /**
   * Finished parts `first…last` of one file: one listing page from just before `first` instead of
   * the whole file's parts, so a batch of a 10,000-part file costs one LIST, not ten.
   */
  async listPartsInWindow(
    deliveryId: string,
    fileIndex: number,
    first: number,
    last: number,
  ): Promise<Map<number, UploadedPart>> {
    const prefix = `${areaOf(deliveryId, 'parts')}${fileIndex}/`;
    const startAfter = `${prefix}${String(first - 1).padStart(5, '0')}/`;
    const parts = new Map<number, UploadedPart & { at: number }>();
    const beyond = (key: string) => Number(key.slice(prefix.length, key.indexOf('.', prefix.length))) > last;
    for (const object of await this.list(prefix, startAfter, beyond)) {
      const { partNumber, etag, at } = parsePartKey(object.key.slice(prefix.length), object.at);
      if (partNumber < first || partNumber > last) continue;
      const previous = parts.get(partNumber);
      if (!previous || previous.at <= at) parts.set(partNumber, { partNumber, etag, at });
    }
    return new Map([...parts].map(([n, { partNumber, etag }]) => [n, { partNumber, etag }]));
  }

  async markFileFinalized(deliveryId: string, fileIndex: number) {
    await this.putEmpty(`${areaOf(deliveryId, 'finalized')}${fileIndex}`);
  }

  private async putEmpty(key: string) {
    await this.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: '', ContentLength: 0 }));
  }

  async mark(deliveryId: string, mark: FinalizeMark) {
    await this.putEmpty(`${areaOf(deliveryId, 'finalized')}${mark}`);
  }

  /** Writes the marker only if it is not there yet; false when an earlier attempt wrote it. */
  async markOnce(deliveryId: string, mark: FinalizeMark): Promise<boolean> {
    return this.putOnce(`${areaOf(deliveryId, 'finalized')}${mark}`, { at: new Date().toISOString() });
  }

  /** One listing of the finalize area: the files marked finalized (by index) and the finalize marks. */
  async finalizeProgress(deliveryId: string): Promise<{ files: Set<number>; marks: Set<FinalizeMark> }> {
    const files = new Set<number>();
    const marks = new Set<FinalizeMark>();
    const area = areaOf(deliveryId, 'finalized');
    for (const { key } of await this.list(area)) {
      const name = key.slice(area.length);
      if (/^\d+$/.test(name)) files.add(Number(name));
      else if ((FINALIZE_MARKS as readonly string[]).includes(name)) marks.add(name as FinalizeMark);
    }
    return { files, marks };
  }

  async marks(deliveryId: string): Promise<Set<FinalizeMark>> {
    return (await this.finalizeProgress(deliveryId)).marks;
  }

  /**
   * Deletes the delivery's records in each of its areas (claims and outcome markers stay); `keep`
   * spares some (e.g. the record of an undeleted package).
   */
  async clear(deliveryId: string, keep: (key: string) => boolean = () => false) {
    const keys: string[] = [];
    for (const area of DELIVERY_AREAS) {
      for (const { key } of await this.list(areaOf(deliveryId, area))) if (!keep(key)) keys.push(key);
    }
    for (let i = 0; i < keys.length; i += 1000) {
      await this.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true },
        }),
      );
    }
  }

  /** Keys under `prefix` (after `startAfter`), page by page until `done` says a key is past the range. */
  private async list(prefix: string, startAfter?: string, done?: (key: string) => boolean) {
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
}
