import { packageAccess } from '../delivery/package-lifecycle.js';
import type { PreparedDelivery } from '../delivery/request.js';
import type { RelayDeps } from '../deps.js';
import { IncompleteUploadError, MasvNotFoundError } from '../errors.js';
import { DELIVERY_SUCCEEDED } from '../events.js';
import type { PackageAccess, UploadedPart } from '../masv/types.js';
import { runPool } from '../pool.js';
import { redact } from '../redact.js';
import { tagSource } from '../source/s3-source.js';

export interface FinalizeResult {
  deliveryId: string;
  packageId: string;
  files: number;
  bytes: number;
  linkId?: string;
  /** Follow-ups after the package finalize that failed (logged; the delivery still succeeded). */
  followUpFailures: string[];
}

/**
 * Whether the package is finalized, read from MASV when it can be (Team packages). `undefined`
 * when MASV cannot be asked (Portal packages have no lookup without an API key).
 */
export async function packageIsFinalized(deps: RelayDeps, packageId: string): Promise<boolean | undefined> {
  const target = deps.config.masv.target;
  if (target.kind !== 'team') return undefined;
  const apiKey = await deps.secret(target.apiKeySecretName);
  try {
    const found = await deps.masv.getTeamPackage(target.teamId, apiKey, packageId);
    return found.state === 'finalized' || found.state === 'expired' || found.state === 'archived';
  } catch (error) {
    if (error instanceof MasvNotFoundError) return false;
    throw error;
  }
}

/**
 * Finalizes the package exactly once. The intent is marked first; a repeat (after a lost answer,
 * a timeout or a killed Lambda) reads MASV's state instead of guessing. MASV answering "already
 * finalized" counts as done: a state read that said otherwise may lag, and doubting a delivered
 * package could lead to deleting it.
 */
async function finalizePackageOnce(deps: RelayDeps, deliveryId: string, access: PackageAccess) {
  const { stateBucket, masv, log } = deps;
  // Read again, not taken from the start of the run: an overlapping Finalize may have marked (and
  // finalized) while this one finalized the files, and then MASV's state is read before a repeat.
  const marks = await stateBucket.marks(deliveryId);
  if (marks.has('package-finalizing') && (await packageIsFinalized(deps, access.packageId))) {
    log.info('Reconcile: the package was already finalized by an earlier attempt', {
      deliveryId,
      packageId: access.packageId,
    });
  } else {
    if (!marks.has('package-finalizing')) await stateBucket.mark(deliveryId, 'package-finalizing');
    const outcome = await masv.finalizePackage(access);
    if (outcome === 'already-finalized') {
      log.info('Reconcile: MASV says the package was already finalized', {
        deliveryId,
        packageId: access.packageId,
      });
    }
  }
  await stateBucket.mark(deliveryId, 'package-finalized');
}

/**
 * Finalize step: checks the ledger holds every part of every file, finalizes each file, then the
 * package. From the package finalize on the delivery has happened: the link (created at most once),
 * source tags, the success event and clearing the records are best effort, logged and counted,
 * never a reason to fail. Safe to run again: finished steps are remembered.
 */
export async function finalizeDelivery(deps: RelayDeps, delivery: PreparedDelivery): Promise<FinalizeResult> {
  const { masv, stateBucket, log } = deps;
  const { deliveryId } = delivery;
  const delivered = await stateBucket.delivered<FinalizeResult>(deliveryId);
  if (delivered) {
    log.info('The delivery already succeeded in an earlier attempt', {
      deliveryId,
      packageId: delivered.packageId,
    });
    return delivered;
  }
  const record = await stateBucket.requirePackage(deliveryId, delivery.package.id);
  const access = packageAccess(deps, deliveryId, record);
  const progress = await stateBucket.finalizeProgress(deliveryId);

  if (!progress.marks.has('package-finalized')) {
    const ledgers: Array<Map<number, UploadedPart>> = new Array(delivery.files.length);
    await runPool(delivery.files, 8, async (file) => {
      ledgers[file.index] = await stateBucket.listParts(deliveryId, file.index);
    });
    for (const file of delivery.files) {
      const parts = ledgers[file.index]!;
      const missing: number[] = [];
      for (let n = 1; n <= file.partCount && missing.length < 10; n++) if (!parts.has(n)) missing.push(n);
      if (missing.length > 0) {
        throw new IncompleteUploadError(
          `${file.name} is missing part(s) ${missing.join(', ')} of ${file.partCount} in the parts ledger; the package was not finalized.`,
        );
      }
    }
    for (const file of delivery.files) {
      if (progress.files.has(file.index)) continue;
      const parts = [...ledgers[file.index]!.values()].filter((p) => p.partNumber <= file.partCount);
      const outcome = await masv.finalizeFile(access, file.fileId, {
        uploadId: file.uploadId,
        size: file.size,
        partSize: file.partSize,
        parts,
      });
      if (outcome === 'already-finalized')
        log.info('Reconcile: MASV says the file was already finalized', {
          deliveryId,
          packageId: record.packageId,
          fileId: file.fileId,
        });
      await stateBucket.markFileFinalized(deliveryId, file.index);
    }
    await finalizePackageOnce(deps, deliveryId, access);
    log.info('Finalized the MASV package', { deliveryId, packageId: record.packageId });
  }
  return completeDelivery(deps, delivery, record.packageId, access);
}

/**
 * What follows a finalized package: each part is best effort, so nothing here can turn a delivery
 * that reached its recipients into a failure (and so into an Abort).
 */
export async function completeDelivery(
  deps: RelayDeps,
  delivery: Pick<PreparedDelivery, 'deliveryId' | 'files' | 'link' | 'possibleOrphans'>,
  packageId: string,
  access: PackageAccess,
): Promise<FinalizeResult> {
  const { stateBucket, log } = deps;
  const { deliveryId } = delivery;
  const followUpFailures: string[] = [];
  const bestEffort = async <T>(what: string, action: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await action();
    } catch (error) {
      followUpFailures.push(what);
      log.warn(`Delivered, but could not ${what}`, {
        deliveryId,
        packageId,
        error: redact((error as Error).message),
      });
      return undefined;
    }
  };

  let linkId: string | undefined;
  if (delivery.link) {
    // Marked first, once: a lost answer or a rerun then means no second link (and no second email).
    const first = await bestEffort('mark the link request', () =>
      stateBucket.markOnce(deliveryId, 'link-requested'),
    );
    if (first) {
      const link = await bestEffort('create the download link', () =>
        deps.masv.createLink(access, { email: delivery.link!.email }),
      );
      linkId = link?.id;
    } else if (first === false) {
      log.info('The download link was already requested by an earlier attempt; not created again', {
        deliveryId,
        packageId,
      });
    }
  }
  for (const file of delivery.files) {
    await bestEffort(`tag s3://${file.bucket}/${file.key} as delivered`, () =>
      tagSource(deps.s3, file, {
        'masv-relay:status': 'delivered',
        'masv-relay:package-id': packageId,
      }),
    );
  }
  await bestEffort('delete the packages of superseded Prepare attempts', async () => {
    for (const { record: other } of await stateBucket.packageRecords(deliveryId)) {
      if (other.packageId === packageId) continue;
      if (await packageIsFinalized(deps, other.packageId)) continue;
      await deps.masv.deletePackage(packageAccess(deps, deliveryId, other));
      log.warn('Deleted the package of a superseded Prepare attempt', {
        deliveryId,
        packageId: other.packageId,
      });
    }
  });
  const bytes = delivery.files.reduce((sum, f) => sum + f.size, 0);
  await bestEffort('publish the success event', () =>
    deps.events.publish(DELIVERY_SUCCEEDED, {
      deliveryId,
      packageId,
      files: delivery.files.map((f) => ({
        bucket: f.bucket,
        key: f.key,
        versionId: f.versionId,
        size: f.size,
        name: f.name,
        path: f.path,
      })),
      bytes,
      ...(linkId ? { linkId } : {}),
      ...(delivery.possibleOrphans?.length ? { possibleOrphans: delivery.possibleOrphans } : {}),
    }),
  );
  const result: FinalizeResult = {
    deliveryId,
    packageId,
    files: delivery.files.length,
    bytes,
    ...(linkId ? { linkId } : {}),
    followUpFailures,
  };
  // Written before the records are cleared: a rerun after the clear still knows it succeeded.
  const remembered = await bestEffort('remember the delivery', () =>
    stateBucket.markDelivered(deliveryId, result),
  );
  if (remembered !== undefined)
    await bestEffort("clear the delivery's records", () => stateBucket.clear(deliveryId));
  return result;
}
