import type { PreparedDelivery } from '../delivery.js';
import type { RelayDeps } from '../deps.js';
import { IncompleteUploadError } from '../errors.js';
import { DELIVERY_SUCCEEDED } from '../events.js';
import type { UploadedPart } from '../masv/types.js';
import { packageAccess } from '../masv-target.js';
import { runPool } from '../pool.js';
import { tagSource } from '../s3-source.js';

export interface FinalizeResult {
  deliveryId: string;
  packageId: string;
  files: number;
  bytes: number;
  linkId?: string;
}

/**
 * Finalize step: checks the ledger holds every part of every file, finalizes each file, then the
 * package; creates the download link when asked, tags the sources, publishes the success event
 * and clears the delivery's records. Safe to run again: finished steps are remembered.
 */
export async function finalizeDelivery(deps: RelayDeps, delivery: PreparedDelivery): Promise<FinalizeResult> {
  const { masv, store, log } = deps;
  const { deliveryId } = delivery;
  const record = await store.requirePackage(deliveryId);
  const access = packageAccess(deps, deliveryId, record);
  const done = await store.finalizedFiles(deliveryId);

  const ledgers: Array<Map<number, UploadedPart>> = new Array(delivery.files.length);
  await runPool(delivery.files, 8, async (file) => {
    ledgers[file.index] = await store.listParts(deliveryId, file.index);
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
    if (done.has(file.index)) continue;
    const parts = [...ledgers[file.index]!.values()].filter((p) => p.partNumber <= file.partCount);
    await masv.finalizeFile(access, file.fileId, {
      uploadId: file.uploadId,
      size: file.size,
      partSize: file.partSize,
      parts,
    });
    await store.markFileFinalized(deliveryId, file.index);
  }
  if (!done.has(-1)) {
    await masv.finalizePackage(access);
    await store.markFileFinalized(deliveryId, -1);
  }
  log.info('Finalized the MASV package', { deliveryId, packageId: record.packageId });

  let linkId: string | undefined;
  if (delivery.link) linkId = (await masv.createLink(access, { email: delivery.link.email })).id;

  for (const file of delivery.files) {
    await tagSource(deps.s3, file, {
      'masv-relay:status': 'delivered',
      'masv-relay:package-id': record.packageId,
    }).catch((error: unknown) =>
      log.warn('Could not tag a delivered source', { key: file.key, error: (error as Error).message }),
    );
  }
  const bytes = delivery.files.reduce((sum, f) => sum + f.size, 0);
  await deps.events.publish(DELIVERY_SUCCEEDED, {
    deliveryId,
    packageId: record.packageId,
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
  });
  await store.clear(deliveryId);
  return {
    deliveryId,
    packageId: record.packageId,
    files: delivery.files.length,
    bytes,
    ...(linkId ? { linkId } : {}),
  };
}
