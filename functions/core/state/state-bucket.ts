import type { S3Client } from '@aws-sdk/client-s3';
import type { PreparedDelivery } from '../delivery/request.js';
import type { UploadedPart } from '../masv/types.js';
import { type FinalizeMark, FinalizeMarks } from './finalize-marks.js';
import { areaOf, DELIVERY_AREAS } from './keys.js';
import { type CreateIntent, type PackageRecord, PackageRecords } from './package-records.js';
import { PartsLedger } from './parts-ledger.js';
import { StateObjects } from './state-objects.js';

export type { FinalizeMark } from './finalize-marks.js';
export type { CreateIntent, PackageGeneration, PackageRecord } from './package-records.js';

/**
 * The relay's own records of a delivery in its state bucket, in one place for the steps: its
 * packages (`package-records.ts`), the parts ledger (`parts-ledger.ts`), the finalize marks and
 * outcome markers (`finalize-marks.ts`). A lifecycle rule expires whatever is left behind.
 */
export class StateBucket {
  private readonly objects: StateObjects;
  private readonly packages: PackageRecords;
  private readonly parts: PartsLedger;
  private readonly finalize: FinalizeMarks;

  constructor(s3: S3Client, bucket: string) {
    this.objects = new StateObjects(s3, bucket);
    this.packages = new PackageRecords(this.objects);
    this.parts = new PartsLedger(this.objects);
    this.finalize = new FinalizeMarks(this.objects);
  }

  // Packages, generation by generation, and their claims (PackageRecords says how).

  isRecordOf(key: string, generation: number) {
    return this.packages.isRecordOf(key, generation);
  }

  packageGenerations(deliveryId: string) {
    return this.packages.packageGenerations(deliveryId);
  }

  packageRecords(deliveryId: string) {
    return this.packages.packageRecords(deliveryId);
  }

  newestGeneration(deliveryId: string) {
    return this.packages.newestGeneration(deliveryId);
  }

  finishedPrepare(deliveryId: string) {
    return this.packages.finishedPrepare(deliveryId);
  }

  recordCreateIntent(deliveryId: string, generation: number, intent: CreateIntent) {
    return this.packages.recordCreateIntent(deliveryId, generation, intent);
  }

  savePackage(deliveryId: string, generation: number, record: PackageRecord) {
    return this.packages.savePackage(deliveryId, generation, record);
  }

  savePrepared(deliveryId: string, generation: number, prepared: PreparedDelivery) {
    return this.packages.savePrepared(deliveryId, generation, prepared);
  }

  claimPackage(packageId: string, deliveryId: string) {
    return this.packages.claimPackage(packageId, deliveryId);
  }

  loadPackage(deliveryId: string) {
    return this.packages.loadPackage(deliveryId);
  }

  requirePackage(deliveryId: string, packageId?: string) {
    return this.packages.requirePackage(deliveryId, packageId);
  }

  // The parts ledger (PartsLedger).

  async recordPart(deliveryId: string, fileIndex: number, part: UploadedPart, storedAt?: number) {
    await this.parts.recordPart(deliveryId, fileIndex, part, storedAt);
  }

  /** Finished parts of one file, by part number (of two records of a part, the one stored last). */
  listParts(deliveryId: string, fileIndex: number) {
    return this.parts.listPartsInWindow(deliveryId, fileIndex, 1, Number.MAX_SAFE_INTEGER);
  }

  listPartsInWindow(deliveryId: string, fileIndex: number, first: number, last: number) {
    return this.parts.listPartsInWindow(deliveryId, fileIndex, first, last);
  }

  // Finalize marks and outcome markers (FinalizeMarks).

  markDelivered(deliveryId: string, result: unknown) {
    return this.finalize.markDelivered(deliveryId, result);
  }

  delivered<T>(deliveryId: string) {
    return this.finalize.delivered<T>(deliveryId);
  }

  markAborted(deliveryId: string, detail: unknown) {
    return this.finalize.markAborted(deliveryId, detail);
  }

  aborted<T>(deliveryId: string) {
    return this.finalize.aborted<T>(deliveryId);
  }

  markFileFinalized(deliveryId: string, fileIndex: number) {
    return this.finalize.markFileFinalized(deliveryId, fileIndex);
  }

  mark(deliveryId: string, mark: FinalizeMark) {
    return this.finalize.mark(deliveryId, mark);
  }

  markOnce(deliveryId: string, mark: FinalizeMark) {
    return this.finalize.markOnce(deliveryId, mark);
  }

  finalizeProgress(deliveryId: string) {
    return this.finalize.finalizeProgress(deliveryId);
  }

  async marks(deliveryId: string): Promise<Set<FinalizeMark>> {
    return (await this.finalize.finalizeProgress(deliveryId)).marks;
  }

  /**
   * Deletes the delivery's records in each of its areas (claims and outcome markers stay); `keep`
   * spares some (e.g. the record of an undeleted package).
   */
  async clear(deliveryId: string, keep: (key: string) => boolean = () => false) {
    const keys: string[] = [];
    for (const area of DELIVERY_AREAS) {
      for (const { key } of await this.objects.list(areaOf(deliveryId, area))) if (!keep(key)) keys.push(key);
    }
    await this.objects.deleteAll(keys);
  }
}
