import type { PreparedDelivery } from '../delivery/request.js';
import { MasvProtocolError, PackageRecordConflictError } from '../errors.js';
import { areaOf, claimKey, STATE_PREFIX } from './keys.js';
import type { StateObjects } from './state-objects.js';

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
 * A delivery's packages, generation by generation (create intent, record, Prepare's kept result),
 * and the claims that tie a package to one delivery.
 */
export class PackageRecords {
  constructor(private readonly objects: StateObjects) {}

  /** Key of a generation's package record (for `clear`'s `keep`). */
  isRecordOf(key: string, generation: number) {
    const file = parseGenerationFile(key);
    return file?.kind === 'json' && file.generation === generation;
  }

  private packageKey(deliveryId: string, generation: number, kind: GenerationFileKind) {
    return `${areaOf(deliveryId, 'package')}${generationFile(generation, kind)}`;
  }

  /** The delivery's package files by name alone (one listing, nothing read). */
  private async generationFiles(deliveryId: string): Promise<GenerationFile[]> {
    const files: GenerationFile[] = [];
    for (const { key } of await this.objects.list(areaOf(deliveryId, 'package'))) {
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
      if (kind === 'json') entry.record = await this.objects.readJson<PackageRecord>(key);
      else if (kind === 'prepared') entry.prepared = await this.objects.readJson<PreparedDelivery>(key);
      else entry.intent = await this.objects.readJson<CreateIntent>(key);
    }
    return [...byGeneration.values()].sort((a, b) => a.generation - b.generation);
  }

  /** The recorded packages of every generation, oldest first; intents and kept results are not read. */
  async packageRecords(deliveryId: string): Promise<Array<{ generation: number; record: PackageRecord }>> {
    const records: Array<{ generation: number; record: PackageRecord }> = [];
    for (const { key, generation, kind } of await this.generationFiles(deliveryId)) {
      if (kind !== 'json') continue;
      const record = await this.objects.readJson<PackageRecord>(key);
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
    const prepared = await this.objects.readJson<PreparedDelivery>(kept.key);
    return prepared && { generation: kept.generation, prepared };
  }

  /** Notes that this generation is about to create a package, so a lost answer can be found again. */
  async recordCreateIntent(deliveryId: string, generation: number, intent: CreateIntent) {
    if (!(await this.objects.putOnce(this.packageKey(deliveryId, generation, 'creating'), intent))) {
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
    if (!(await this.objects.putOnce(this.packageKey(deliveryId, generation, 'json'), record))) {
      throw new PackageRecordConflictError(
        `Delivery ${deliveryId} already recorded package generation ${generation}: an overlapping Prepare won; package ${record.packageId} is not used.`,
      );
    }
  }

  /** Keeps a finished Prepare's output, so a repeated Prepare returns it instead of starting over. */
  async savePrepared(deliveryId: string, generation: number, prepared: PreparedDelivery) {
    await this.objects.putOnce(this.packageKey(deliveryId, generation, 'prepared'), prepared);
  }

  /**
   * Marks a package as this delivery's, once across all deliveries: reconciliation may only adopt
   * or delete a package nobody else has claimed. True when the claim is (or already was) ours.
   */
  async claimPackage(packageId: string, deliveryId: string): Promise<boolean> {
    const key = claimKey(packageId);
    if (await this.objects.putOnce(key, { deliveryId })) return true;
    return (await this.objects.readJson<{ deliveryId: string }>(key))?.deliveryId === deliveryId;
  }

  /** The package of the delivery's latest generation, if it was recorded. */
  async loadPackage(deliveryId: string): Promise<PackageRecord | undefined> {
    // One listing and one read: every batch asks, so the intents and the (large) kept results of
    // the generations are not read here.
    const newest = newestFile(await this.generationFiles(deliveryId), 'json');
    return newest ? this.objects.readJson<PackageRecord>(newest.key) : undefined;
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
}
