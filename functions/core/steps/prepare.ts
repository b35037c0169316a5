import { packageAccess } from '../delivery/masv-target.js';
import { cleanUpEarlierGenerations, createDeliveryPackage } from '../delivery/package-lifecycle.js';
import { resolvePackage } from '../delivery/package-settings.js';
import {
  EXECUTION_TIMEOUT_SECONDS,
  HISTORY_EVENT_BUDGET,
  MiB,
  type PartPlan,
  planDelivery,
  plannedTransferSeconds,
  TRANSFER_TIME_SHARE,
} from '../delivery/part-plan.js';
import {
  type BatchItem,
  type DeliveryFile,
  type DeliveryRequest,
  MAX_DELIVERY_STATE_BYTES,
  MAX_FILES_PER_DELIVERY,
  type PreparedDelivery,
  type Source,
} from '../delivery/request.js';
import type { RelayDeps } from '../deps.js';
import { DeliveryRequestError, DeliveryTooLargeError, PackageRecordConflictError } from '../errors.js';
import { runPool } from '../pool.js';
import { type PartCheck, partCheckFor } from '../source/part-integrity.js';
import { headSource, listPrefix, type SourceObject } from '../source/s3-source.js';
import { isMarkerKey, readMarkerOverrides } from '../triggers/folder-marker.js';
import { awaitRestores, RESTORE_EVENT_RESERVE, type RestoreWait } from './restore.js';

/** A file of the prepared delivery: built once for the state-size estimate and once for real. */
function deliveryFile(
  index: number,
  object: SourceObject,
  named: { path: string; name: string },
  plan: PartPlan,
  upload: { fileId: string; uploadId: string; partCheck: PartCheck },
): DeliveryFile {
  return {
    index,
    bucket: object.bucket,
    key: object.key,
    ...(object.versionId ? { versionId: object.versionId } : {}),
    etag: object.etag,
    name: named.name,
    path: named.path,
    size: object.size,
    partSize: plan.partSize,
    partCount: plan.partCount,
    fileId: upload.fileId,
    uploadId: upload.uploadId,
    ...(upload.partCheck === 'content-md5' ? { partCheck: 'content-md5' as const } : {}),
  };
}

const batchItems = (plans: PartPlan[]): BatchItem[] =>
  plans.flatMap((plan, file) => plan.batches.map((b) => ({ file, start: b.start, count: b.count })));

/** MASV's ids at their longest, and the part check that adds a field. */
const LONGEST_UPLOAD = {
  fileId: 'F'.repeat(26),
  uploadId: 'U'.repeat(256),
  partCheck: 'content-md5',
} as const;

/**
 * The delivery's share of the workflow state, before anything is created: the request (the
 * execution input stays in state), the prepared delivery with ids at their longest, and the
 * sources Abort's result names on a failure.
 */
function estimateStateBytes(
  request: DeliveryRequest,
  objects: SourceObject[],
  names: Array<{ path: string; name: string }>,
  plans: PartPlan[],
) {
  const files = objects.map((o, index) =>
    deliveryFile(index, o, names[index]!, plans[index]!, LONGEST_UPLOAD),
  );
  const named = objects.map((o) => ({ bucket: o.bucket, key: o.key }));
  return (
    Buffer.byteLength(JSON.stringify(request)) +
    Buffer.byteLength(JSON.stringify({ files, batches: batchItems(plans) })) +
    Buffer.byteLength(JSON.stringify(named)) +
    1024
  );
}

/** A finished earlier attempt's result, returned as it is: nothing created or deleted. */
function alreadyPrepared(deps: RelayDeps, finished: { generation: number; prepared: PreparedDelivery }) {
  // Its answer was lost, or this is a late, stale invocation.
  deps.log.info('Prepare already finished for this delivery; returning its result', {
    deliveryId: finished.prepared.deliveryId,
    packageId: finished.prepared.package.id,
    generation: finished.generation,
  });
  return finished.prepared;
}

/** Folder (`a/b/`) and name of each file inside the package. */
export function packagePaths(sources: Source[], prefix?: string): Array<{ path: string; name: string }> {
  const split = (relative: string) => {
    const slash = relative.lastIndexOf('/');
    return { path: slash === -1 ? '' : relative.slice(0, slash + 1), name: relative.slice(slash + 1) };
  };
  let base = '';
  if (prefix !== undefined) base = prefix.slice(0, prefix.lastIndexOf('/') + 1);
  else if (sources.length > 1) base = commonFolder(sources.map((s) => s.key));
  return sources.map((s) => {
    if (s.path) return split(s.path.replace(/^\/+/, ''));
    if (sources.length === 1 && prefix === undefined)
      return { path: '', name: s.key.slice(s.key.lastIndexOf('/') + 1) };
    return split(s.key.slice(base.length));
  });
}

function commonFolder(keys: string[]): string {
  let common = keys[0]!.slice(0, keys[0]!.lastIndexOf('/') + 1);
  for (const key of keys)
    while (!key.startsWith(common)) common = common.slice(0, common.slice(0, -1).lastIndexOf('/') + 1);
  return common;
}

/**
 * Prepare step: reads every source, plans its parts, creates the package, adds each file and
 * starts its multipart upload. Nothing is created when a source is unreadable or too large; a
 * package created before a failure is deleted again, so a retry never leaves a second package.
 */
export async function prepareDelivery(
  deps: RelayDeps,
  request: DeliveryRequest & { deliveryId: string },
): Promise<PreparedDelivery>;
/** With `restore` (the workflow can wait), archived sources may be restored first: a RestoreWait. */
export async function prepareDelivery(
  deps: RelayDeps,
  request: DeliveryRequest & { deliveryId: string },
  restore: { round: number },
): Promise<PreparedDelivery | RestoreWait>;
export async function prepareDelivery(
  deps: RelayDeps,
  request: DeliveryRequest & { deliveryId: string },
  restore?: { round: number },
): Promise<PreparedDelivery | RestoreWait> {
  const { config, masv, log } = deps;
  // A repeat answers from the state bucket alone, before any source is read.
  const earlier = await deps.stateBucket.finishedPrepare(request.deliveryId);
  if (earlier) return alreadyPrepared(deps, earlier);
  const markerName = config.triggers.folderMarker;
  const sources =
    request.files ??
    (await listPrefix(deps.s3, request.prefix!.bucket, request.prefix!.prefix, isMarkerKey(markerName)));
  if (sources.length === 0) {
    throw new DeliveryRequestError(
      `s3://${request.prefix?.bucket}/${request.prefix?.prefix} holds no objects to deliver (folder markers are skipped).`,
    );
  }
  if (sources.length > MAX_FILES_PER_DELIVERY) {
    throw new DeliveryRequestError(
      `s3://${request.prefix?.bucket}/${request.prefix?.prefix} holds ${sources.length} objects; one package takes at most ${MAX_FILES_PER_DELIVERY}. Request narrower prefixes (one package each).`,
    );
  }
  const objects: SourceObject[] = new Array(sources.length);
  await runPool([...sources.keys()], 8, async (i) => {
    objects[i] = await headSource(deps.s3, sources[i]!);
  });

  const spec = await masv.getSpec();
  const requestedPartSize = config.transfer.partSizeMiB * MiB;
  // A delivery that waits for restores spends history on the wait: its plan gets that much less,
  // in every round, so the decision does not change once the sources are readable.
  const waits = (restore?.round ?? 0) > 0 || objects.some((o) => o.archived);
  const plans: PartPlan[] = planDelivery(
    objects.map((o) => o.size),
    spec,
    {
      requestedPartSize,
      partsPerBatch: config.transfer.partsPerBatch,
      ...(waits ? { historyBudget: HISTORY_EVENT_BUDGET - RESTORE_EVENT_RESERVE } : {}),
    },
  );
  // The workflow times out after 48 h, which no Catch sees: refuse what cannot finish well before.
  const concurrency = Math.min(config.transfer.mapConcurrency, config.transfer.transferReservedConcurrency);
  const transferSeconds = plannedTransferSeconds(plans, concurrency);
  if (transferSeconds > EXECUTION_TIMEOUT_SECONDS * TRANSFER_TIME_SHARE) {
    const hours = (s: number) => Math.round(s / 360) / 10;
    throw new DeliveryTooLargeError(
      `This delivery needs about ${hours(transferSeconds)} h of transfers with ${concurrency} transfer Lambdas at once (transfer.mapConcurrency ${config.transfer.mapConcurrency}, transfer.transferReservedConcurrency ${config.transfer.transferReservedConcurrency}); a delivery may take at most ${hours(EXECUTION_TIMEOUT_SECONDS * TRANSFER_TIME_SHARE)} h of its ${hours(EXECUTION_TIMEOUT_SECONDS)}-hour limit. Raise both settings, or split the delivery. Nothing was created.`,
    );
  }
  const names = packagePaths(sources, request.prefix?.prefix);
  const draftBytes = estimateStateBytes(request, objects, names, plans);
  if (draftBytes > MAX_DELIVERY_STATE_BYTES) {
    throw new DeliveryRequestError(
      `This delivery's plan would need about ${draftBytes} bytes of workflow state (limit ${MAX_DELIVERY_STATE_BYTES}): too many files or very long keys for one package. Split it into several requests.`,
    );
  }
  const seen = new Set<string>();
  for (const n of names) {
    if (!n.name)
      throw new DeliveryRequestError(`A file in the delivery has an empty name (path "${n.path}").`);
    if (seen.has(n.path + n.name))
      throw new DeliveryRequestError(`Two files would both be "${n.path}${n.name}" in the package.`);
    seen.add(n.path + n.name);
  }
  // Archived sources: refused, or restored first (source.restoreArchived) — before any package exists.
  const archived = objects.filter((o) => o.archived);
  if (archived.length > 0) return awaitRestores(deps, request.deliveryId, archived, restore);
  // A folder marker's body holds overrides; the request's own (if any) take precedence.
  const overrides = request.marker
    ? { ...(await readMarkerOverrides(deps.s3, request.prefix!.bucket, request.marker)), ...request.package }
    : request.package;
  const settings = resolvePackage(config, objects, overrides, deps.now?.() ?? new Date(), {
    link: request.link,
    ...(request.marker ? { folder: request.prefix!.prefix } : {}),
  });
  // Read again right before the clean-up deletes the packages it lists: an overlapping attempt may
  // have finished (and its package been finalized) while this one read the sources.
  const generations = await deps.stateBucket.packageGenerations(request.deliveryId);
  const finished = generations.findLast((g) => g.prepared);
  if (finished?.prepared && finished === generations.findLast((g) => g.record)) {
    return alreadyPrepared(deps, { generation: finished.generation, prepared: finished.prepared });
  }
  const generation = (generations.at(-1)?.generation ?? 0) + 1;
  const earlierOrphans = await cleanUpEarlierGenerations(deps, request.deliveryId, generations);
  const created = await createDeliveryPackage(
    deps,
    request.deliveryId,
    generation,
    settings,
    plans[0]!.partSize,
  );
  const { record } = created;
  const possibleOrphans = [...earlierOrphans, ...created.possibleOrphans];
  log.info('Created the MASV package', {
    deliveryId: request.deliveryId,
    packageId: record.packageId,
    generation,
    files: objects.length,
  });
  const access = packageAccess(deps, request.deliveryId, record);
  let prepared: PreparedDelivery;
  try {
    await deps.stateBucket.savePackage(request.deliveryId, generation, record);
    const files: DeliveryFile[] = [];
    for (const [index, object] of objects.entries()) {
      const plan = plans[index]!;
      const added = await masv.addFile(access, {
        kind: 'file',
        name: names[index]!.name,
        path: names[index]!.path,
        lastModified: object.lastModified,
        size: object.size,
        partSize: plan.partSize,
      });
      if (!added.createBlueprint)
        throw new DeliveryRequestError(`MASV returned no create_blueprint for ${names[index]!.name}.`);
      const uploadId = await masv.createUpload(added.createBlueprint);
      files.push(
        deliveryFile(index, object, names[index]!, plan, {
          fileId: added.fileId,
          uploadId,
          partCheck: partCheckFor(added.createBlueprint),
        }),
      );
    }
    const link = request.link ?? (settings.linkEmail ? { email: settings.linkEmail } : undefined);
    prepared = {
      deliveryId: request.deliveryId,
      package: { id: record.packageId, owner: record.owner },
      files,
      batches: batchItems(plans),
      ...(link ? { link } : {}),
      ...(possibleOrphans.length > 0 ? { possibleOrphans } : {}),
    };
    // A later attempt began while this one ran: it is the one the workflow waits for, so this
    // one gives way (and its package goes) rather than compete.
    const newest = await deps.stateBucket.newestGeneration(request.deliveryId);
    if (newest > generation) {
      throw new PackageRecordConflictError(
        `Prepare generation ${generation} of delivery ${request.deliveryId} was overtaken by generation ${newest}; its package ${record.packageId} is deleted.`,
      );
    }
  } catch (error) {
    // The package record stays: if this delete fails too, the next attempt or Abort deletes it.
    await masv.deletePackage(access).then(
      () =>
        log.warn('Deleted the package of the failed prepare', {
          deliveryId: request.deliveryId,
          packageId: record.packageId,
        }),
      (cleanupError: unknown) =>
        log.warn('Could not delete the package after a failed prepare; its record is kept', {
          deliveryId: request.deliveryId,
          packageId: record.packageId,
          error: (cleanupError as Error).message,
        }),
    );
    throw error;
  }
  // Not in the try: the package is complete and recorded, so a failed write of the result must not
  // delete it. If the write was stored after all, a retry returns this result; if not, the next
  // attempt (or Abort) deletes the package as an unfinished generation's.
  await deps.stateBucket.savePrepared(request.deliveryId, generation, prepared);
  return prepared;
}
