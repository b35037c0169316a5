import { createHash } from 'node:crypto';
import type { RelayDeps } from '../deps.js';
import { MasvOutcomeUnknownError, PackageRecordConflictError } from '../errors.js';
import type { PackageSummary } from '../masv/client.js';
import type { PackageAccess } from '../masv/types.js';
import type { CreateIntent, PackageGeneration, PackageRecord } from '../state/state-bucket.js';
import { createPackage, packageAccess } from './masv-target.js';
import type { ResolvedPackage } from './package-settings.js';
import type { PossibleOrphan, PreparedDelivery } from './request.js';

/*
 * The package lifecycle, owned here: create (intent first, then claim), adopt after a lost answer,
 * record, delete (a failed Prepare's package, earlier generations', a lost create's). masv-target.ts
 * below it only speaks to the configured Team or Portal; the steps use this module alone.
 */

export { packageAccess };

/** MASV's clock may differ from ours; a lost create is looked for this long before we asked. */
export const CLOCK_SKEW_MS = 5 * 60_000;

/** Attempts to create one package within one Prepare before giving up to the workflow's Retry. */
const CREATE_ATTEMPTS = 3;

/** The package a Prepare created (or adopted), and any it may have created but cannot find. */
export interface CreatedDeliveryPackage {
  record: PackageRecord;
  possibleOrphans: PossibleOrphan[];
}

/**
 * The reference a Team package's description carries: unique per delivery and Prepare attempt, so
 * a package found in MASV's listing after a lost answer is certainly this attempt's (the listing
 * shows name and description, not recipients).
 */
export function deliveryReference(deliveryId: string, generation: number) {
  return `[masv-relay ${createHash('sha256').update(deliveryId).digest('hex').slice(0, 12)}.${generation}]`;
}

export function describedWithReference(description: string, reference: string) {
  return description ? `${description}\n\n${reference}` : reference;
}

/** Packages a lost create of this intent could have made: new, empty, same name and referenced description. */
async function lostCreateCandidates(deps: RelayDeps, intent: CreateIntent): Promise<PackageSummary[]> {
  const target = deps.config.masv.target;
  if (target.kind !== 'team') return [];
  const apiKey = await deps.secret(target.apiKeySecretName);
  const listed = await deps.masv.listTeamPackages(target.teamId, apiKey, {
    states: ['new'],
    name: intent.name,
    createdAtStart: new Date(Date.parse(intent.startedAt) - CLOCK_SKEW_MS),
  });
  return listed
    .filter(
      (p) =>
        p.state === 'new' &&
        p.name === intent.name &&
        p.description === intent.description &&
        p.totalFiles === 0,
    )
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
}

/**
 * After a create whose answer was lost: finds what MASV committed and claims it for this delivery.
 * The first claimable candidate is adopted (`adopt`), or every one is deleted (`delete`). A
 * candidate another delivery has claimed is never touched.
 */
async function reconcileLostCreate(
  deps: RelayDeps,
  deliveryId: string,
  intent: CreateIntent,
  mode: 'adopt' | 'delete',
): Promise<PackageRecord | undefined> {
  const target = deps.config.masv.target;
  if (target.kind !== 'team') return undefined;
  const candidates = await lostCreateCandidates(deps, intent);
  let adopted: PackageRecord | undefined;
  for (const candidate of candidates) {
    if (!(await deps.stateBucket.claimPackage(candidate.id, deliveryId))) {
      deps.log.info('Reconcile: a matching package belongs to another delivery; left alone', {
        deliveryId,
        packageId: candidate.id,
      });
      continue;
    }
    const apiKey = await deps.secret(target.apiKeySecretName);
    const found = await deps.masv.getTeamPackage(target.teamId, apiKey, candidate.id);
    const record: PackageRecord = { packageId: found.id, owner: 'team', token: found.token };
    if (mode === 'adopt' && !adopted && found.state === 'new') {
      adopted = record;
      deps.log.warn('Reconcile: adopted the package a lost create answer had made', {
        deliveryId,
        packageId: found.id,
      });
      continue;
    }
    await deps.masv.deletePackage(packageAccess(deps, deliveryId, record));
    deps.log.warn('Reconcile: deleted an extra package a lost create answer had made', {
      deliveryId,
      packageId: found.id,
    });
  }
  if (candidates.length === 0)
    deps.log.info('Reconcile: MASV holds no package from the lost create; creating it again', { deliveryId });
  return adopted;
}

/**
 * Deletes what earlier Prepare attempts of this delivery left: their recorded packages (never
 * finalized: only a finished Prepare leads to Finalize) and, for a create whose answer or Lambda
 * was lost before the record, whatever MASV committed. Portal packages that cannot be looked up
 * are returned as possible orphans.
 */
export async function cleanUpEarlierGenerations(
  deps: RelayDeps,
  deliveryId: string,
  generations: PackageGeneration[],
): Promise<PossibleOrphan[]> {
  const orphans: PossibleOrphan[] = [];
  for (const generation of generations) {
    if (generation.record) {
      await deps.masv.deletePackage(packageAccess(deps, deliveryId, generation.record));
      deps.log.warn('Deleted the package of an earlier Prepare attempt (its result was lost)', {
        deliveryId,
        packageId: generation.record.packageId,
        generation: generation.generation,
      });
    } else if (generation.intent) {
      if (deps.config.masv.target.kind === 'team')
        await reconcileLostCreate(deps, deliveryId, generation.intent, 'delete');
      else orphans.push({ name: generation.intent.name, createdAfter: generation.intent.startedAt });
    }
  }
  return orphans;
}

/**
 * Creates the delivery's package exactly once: the intent is recorded first, a lost answer is
 * reconciled from MASV's team listing (adopt what committed, never create blindly again), and the
 * package is claimed so no other delivery's reconciliation can take it.
 */
export async function createDeliveryPackage(
  deps: RelayDeps,
  deliveryId: string,
  generation: number,
  settings: ResolvedPackage,
  partSize: number,
): Promise<CreatedDeliveryPackage> {
  const described =
    deps.config.masv.target.kind === 'team'
      ? {
          ...settings,
          description: describedWithReference(
            settings.description,
            deliveryReference(deliveryId, generation),
          ),
        }
      : settings;
  const intent: CreateIntent = {
    startedAt: (deps.now?.() ?? new Date()).toISOString(),
    name: described.name,
    description: described.description,
  };
  await deps.stateBucket.recordCreateIntent(deliveryId, generation, intent);
  const possibleOrphans: PossibleOrphan[] = [];
  for (let attempt = 1; attempt <= CREATE_ATTEMPTS; attempt++) {
    let record: PackageRecord | undefined;
    try {
      record = await createPackage(deps, described, partSize);
    } catch (error) {
      if (!(error instanceof MasvOutcomeUnknownError)) throw error;
      deps.log.warn('The answer to create package was lost; reconciling from MASV', {
        deliveryId,
        attempt,
        error: error.message,
      });
      if (deps.config.masv.target.kind === 'team') {
        record = await reconcileLostCreate(deps, deliveryId, intent, 'adopt');
        if (record) return { record, possibleOrphans };
      } else {
        possibleOrphans.push({ name: intent.name, createdAfter: intent.startedAt });
        deps.log.warn(
          'A Portal package cannot be looked up without an API key: reporting a possible orphan',
          { deliveryId, name: intent.name, createdAfter: intent.startedAt },
        );
      }
      continue;
    }
    if (await deps.stateBucket.claimPackage(record.packageId, deliveryId)) return { record, possibleOrphans };
    deps.log.warn("Another delivery's reconciliation claimed this package first; creating another", {
      deliveryId,
      packageId: record.packageId,
    });
  }
  throw new PackageRecordConflictError(
    `Could not create a package for delivery ${deliveryId} in ${CREATE_ATTEMPTS} attempts (answers lost or packages claimed); the workflow retries Prepare.`,
  );
}

/** A Prepare's package once created: its generation, record and credentials, and what may be orphaned. */
export interface DeliveryPackage {
  generation: number;
  record: PackageRecord;
  access: PackageAccess;
  possibleOrphans: PossibleOrphan[];
}

/** What Prepare asks the package for: its settings, the part size and how many files it will hold. */
export interface PackageOrder {
  settings: ResolvedPackage;
  partSize: number;
  files: number;
}

/** A finished attempt's result, returned as it is: nothing created or deleted. */
function alreadyPrepared(deps: RelayDeps, finished: { generation: number; prepared: PreparedDelivery }) {
  // Its answer was lost, or this is a late, stale invocation.
  deps.log.info('Prepare already finished for this delivery; returning its result', {
    deliveryId: finished.prepared.deliveryId,
    packageId: finished.prepared.package.id,
    generation: finished.generation,
  });
  return finished.prepared;
}

/** The result of a Prepare that already finished for this delivery, from the state bucket alone. */
export async function finishedPrepare(
  deps: RelayDeps,
  deliveryId: string,
): Promise<PreparedDelivery | undefined> {
  const earlier = await deps.stateBucket.finishedPrepare(deliveryId);
  return earlier ? alreadyPrepared(deps, earlier) : undefined;
}

/**
 * Prepare's package from creation to the kept result: earlier generations are cleaned up, the
 * package is created (or adopted) and recorded, `fill` adds the files, and the result is kept. A
 * package whose filling fails, or that a newer attempt overtook, is deleted again.
 */
export async function preparePackage(
  deps: RelayDeps,
  deliveryId: string,
  order: PackageOrder,
  fill: (pkg: DeliveryPackage) => Promise<PreparedDelivery>,
): Promise<PreparedDelivery> {
  // Read again right before the clean-up deletes the packages it lists: an overlapping attempt may
  // have finished (and its package been finalized) while this one read the sources.
  const generations = await deps.stateBucket.packageGenerations(deliveryId);
  const finished = generations.findLast((g) => g.prepared);
  if (finished?.prepared && finished === generations.findLast((g) => g.record)) {
    return alreadyPrepared(deps, { generation: finished.generation, prepared: finished.prepared });
  }
  const generation = (generations.at(-1)?.generation ?? 0) + 1;
  const earlierOrphans = await cleanUpEarlierGenerations(deps, deliveryId, generations);
  const created = await createDeliveryPackage(deps, deliveryId, generation, order.settings, order.partSize);
  const { record } = created;
  deps.log.info('Created the MASV package', {
    deliveryId,
    packageId: record.packageId,
    generation,
    files: order.files,
  });
  const pkg: DeliveryPackage = {
    generation,
    record,
    access: packageAccess(deps, deliveryId, record),
    possibleOrphans: [...earlierOrphans, ...created.possibleOrphans],
  };
  const prepared = await fillRecordedPackage(deps, deliveryId, pkg, fill);
  // Not in the fill's clean-up: the package is complete and recorded, so a failed write of the
  // result must not delete it. If the write was stored after all, a retry returns this result; if
  // not, the next attempt (or Abort) deletes the package as an unfinished generation's.
  await deps.stateBucket.savePrepared(deliveryId, generation, prepared);
  return prepared;
}

/** Records the package, then fills it; on any failure the package is deleted (its record kept). */
async function fillRecordedPackage(
  deps: RelayDeps,
  deliveryId: string,
  pkg: DeliveryPackage,
  fill: (pkg: DeliveryPackage) => Promise<PreparedDelivery>,
): Promise<PreparedDelivery> {
  try {
    await deps.stateBucket.savePackage(deliveryId, pkg.generation, pkg.record);
    const prepared = await fill(pkg);
    // A later attempt began while this one ran: it is the one the workflow waits for, so this
    // one gives way (and its package goes) rather than compete.
    const newest = await deps.stateBucket.newestGeneration(deliveryId);
    if (newest > pkg.generation) {
      throw new PackageRecordConflictError(
        `Prepare generation ${pkg.generation} of delivery ${deliveryId} was overtaken by generation ${newest}; its package ${pkg.record.packageId} is deleted.`,
      );
    }
    return prepared;
  } catch (error) {
    await deleteFailedPackage(deps, deliveryId, pkg);
    throw error;
  }
}

/** The package record stays: if this delete fails too, the next attempt or Abort deletes it. */
async function deleteFailedPackage(deps: RelayDeps, deliveryId: string, pkg: DeliveryPackage) {
  const packageId = pkg.record.packageId;
  await deps.masv.deletePackage(pkg.access).then(
    () => deps.log.warn('Deleted the package of the failed prepare', { deliveryId, packageId }),
    (cleanupError: unknown) =>
      deps.log.warn('Could not delete the package after a failed prepare; its record is kept', {
        deliveryId,
        packageId,
        error: (cleanupError as Error).message,
      }),
  );
}
