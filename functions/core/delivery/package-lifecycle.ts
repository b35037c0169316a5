import { createHash } from 'node:crypto';
import type { RelayDeps } from '../deps.js';
import { MasvOutcomeUnknownError, PackageRecordConflictError } from '../errors.js';
import type { PackageSummary } from '../masv/client.js';
import type { CreateIntent, PackageGeneration, PackageRecord } from '../state/state-bucket.js';
import { createPackage, packageAccess } from './masv-target.js';
import type { ResolvedPackage } from './package-settings.js';
import type { PossibleOrphan } from './request.js';

/** MASV's clock may differ from ours; a lost create is looked for this long before we asked. */
export const CLOCK_SKEW_MS = 5 * 60_000;

/** Attempts to create one package within one Prepare before giving up to the workflow's Retry. */
const CREATE_ATTEMPTS = 3;

/** A package the relay may have created but cannot find: a Portal package whose answer was lost. */
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
