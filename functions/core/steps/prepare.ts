import { type DeliveryPackage, finishedPrepare, preparePackage } from '../delivery/package-lifecycle.js';
import { type ResolvedPackage, resolvePackage } from '../delivery/package-settings.js';
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
import { DeliveryRequestError, DeliveryTooLargeError } from '../errors.js';
import { runPool } from '../pool.js';
import { type PartCheck, partCheckFor } from '../source/part-integrity.js';
import { headSource, listPrefix, type SourceObject } from '../source/s3-source.js';
import { isMarkerKey, readMarkerOverrides } from '../triggers/folder-marker.js';
import { awaitRestores, RESTORE_EVENT_RESERVE, type RestoreWait } from './restore.js';

/** Folder and name of one file inside the package. */
type PackagePath = { path: string; name: string };

/** What Prepare learnt before anything exists: the sources as read, their part plans and names. */
interface DeliveryDraft {
  objects: SourceObject[];
  plans: PartPlan[];
  names: PackagePath[];
}

type PrepareRequest = DeliveryRequest & { deliveryId: string };

/**
 * Prepare step: reads every source, plans its parts, creates the package, adds each file and
 * starts its multipart upload. Nothing is created when a source is unreadable or too large; a
 * package created before a failure is deleted again, so a retry never leaves a second package.
 */
export async function prepareDelivery(deps: RelayDeps, request: PrepareRequest): Promise<PreparedDelivery>;
/** With `restore` (the workflow can wait), archived sources may be restored first: a RestoreWait. */
export async function prepareDelivery(
  deps: RelayDeps,
  request: PrepareRequest,
  restore: { round: number },
): Promise<PreparedDelivery | RestoreWait>;
export async function prepareDelivery(
  deps: RelayDeps,
  request: PrepareRequest,
  restore?: { round: number },
): Promise<PreparedDelivery | RestoreWait> {
  // A repeat answers from the state bucket alone, before any source is read.
  const earlier = await finishedPrepare(deps, request.deliveryId);
  if (earlier) return earlier;
  const { sources, objects } = await readSources(deps, request);
  const plans = await planParts(deps, objects, restore);
  const names = nameFiles(request, sources, objects, plans);
  // Archived sources: refused, or restored first (source.restoreArchived) — before any package exists.
  const archived = objects.filter((o) => o.archived);
  if (archived.length > 0) return awaitRestores(deps, request.deliveryId, archived, restore);
  const settings = await packageSettings(deps, request, objects);
  const draft: DeliveryDraft = { objects, plans, names };
  return preparePackage(
    deps,
    request.deliveryId,
    { settings, partSize: plans[0]!.partSize, files: objects.length },
    (pkg) => fillPackage(deps, request, draft, settings, pkg),
  );
}

/** The request's sources (its files, or its prefix listed without folder markers), each HEAD read. */
async function readSources(deps: RelayDeps, request: PrepareRequest) {
  const sources =
    request.files ??
    (await listPrefix(
      deps.s3,
      request.prefix!.bucket,
      request.prefix!.prefix,
      isMarkerKey(deps.config.triggers.folderMarker),
    ));
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
  return { sources, objects };
}

/** Each file's part plan from MASV's spec, refused when the transfers could not finish in time. */
async function planParts(
  deps: RelayDeps,
  objects: SourceObject[],
  restore: { round: number } | undefined,
): Promise<PartPlan[]> {
  const { transfer } = deps.config;
  const spec = await deps.masv.getSpec();
  // A delivery that waits for restores spends history on the wait: its plan gets that much less,
  // in every round, so the decision does not change once the sources are readable.
  const waits = (restore?.round ?? 0) > 0 || objects.some((o) => o.archived);
  const plans = planDelivery(
    objects.map((o) => o.size),
    spec,
    {
      requestedPartSize: transfer.partSizeMiB * MiB,
      partsPerBatch: transfer.partsPerBatch,
      ...(waits ? { historyBudget: HISTORY_EVENT_BUDGET - RESTORE_EVENT_RESERVE } : {}),
    },
  );
  checkTransferTime(deps, plans);
  return plans;
}

/** The workflow times out after 48 h, which no Catch sees: refuse what cannot finish well before. */
function checkTransferTime(deps: RelayDeps, plans: PartPlan[]) {
  const { transfer } = deps.config;
  const concurrency = Math.min(transfer.mapConcurrency, transfer.transferReservedConcurrency);
  const transferSeconds = plannedTransferSeconds(plans, concurrency);
  if (transferSeconds <= EXECUTION_TIMEOUT_SECONDS * TRANSFER_TIME_SHARE) return;
  const hours = (s: number) => Math.round(s / 360) / 10;
  throw new DeliveryTooLargeError(
    `This delivery needs about ${hours(transferSeconds)} h of transfers with ${concurrency} transfer Lambdas at once (transfer.mapConcurrency ${transfer.mapConcurrency}, transfer.transferReservedConcurrency ${transfer.transferReservedConcurrency}); a delivery may take at most ${hours(EXECUTION_TIMEOUT_SECONDS * TRANSFER_TIME_SHARE)} h of its ${hours(EXECUTION_TIMEOUT_SECONDS)}-hour limit. Raise both settings, or split the delivery. Nothing was created.`,
  );
}

/** The files' names in the package, refused when the plan outgrows the workflow state or names clash. */
function nameFiles(
  request: PrepareRequest,
  sources: Source[],
  objects: SourceObject[],
  plans: PartPlan[],
): PackagePath[] {
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
  return names;
}

/** The package's settings; a folder marker's body holds overrides, the request's own take precedence. */
async function packageSettings(deps: RelayDeps, request: PrepareRequest, objects: SourceObject[]) {
  const overrides = request.marker
    ? { ...(await readMarkerOverrides(deps.s3, request.prefix!.bucket, request.marker)), ...request.package }
    : request.package;
  return resolvePackage(deps.config, objects, overrides, deps.now?.() ?? new Date(), {
    link: request.link,
    ...(request.marker ? { folder: request.prefix!.prefix } : {}),
  });
}

/** Adds each file to the created package and starts its upload: the prepared delivery. */
async function fillPackage(
  deps: RelayDeps,
  request: PrepareRequest,
  draft: DeliveryDraft,
  settings: ResolvedPackage,
  pkg: DeliveryPackage,
): Promise<PreparedDelivery> {
  const files: DeliveryFile[] = [];
  for (const index of draft.objects.keys()) files.push(await addFile(deps, pkg, draft, index));
  const link = request.link ?? (settings.linkEmail ? { email: settings.linkEmail } : undefined);
  return {
    deliveryId: request.deliveryId,
    package: { id: pkg.record.packageId, owner: pkg.record.owner },
    files,
    batches: batchItems(draft.plans),
    ...(link ? { link } : {}),
    ...(pkg.possibleOrphans.length > 0 ? { possibleOrphans: pkg.possibleOrphans } : {}),
  };
}

/** One file: added to the package, its multipart upload created from MASV's blueprint. */
async function addFile(
  deps: RelayDeps,
  pkg: DeliveryPackage,
  draft: DeliveryDraft,
  index: number,
): Promise<DeliveryFile> {
  const object = draft.objects[index]!;
  const plan = draft.plans[index]!;
  const named = draft.names[index]!;
  const added = await deps.masv.addFile(pkg.access, {
    kind: 'file',
    name: named.name,
    path: named.path,
    lastModified: object.lastModified,
    size: object.size,
    partSize: plan.partSize,
  });
  if (!added.createBlueprint)
    throw new DeliveryRequestError(`MASV returned no create_blueprint for ${named.name}.`);
  const uploadId = await deps.masv.createUpload(added.createBlueprint);
  return deliveryFile(index, object, named, plan, {
    fileId: added.fileId,
    uploadId,
    partCheck: partCheckFor(added.createBlueprint),
  });
}

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
 * execution input stays in state) and the prepared delivery with ids at their longest (Abort's
 * result leaves the sources out, so a failure adds only the caught error and that result).
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
  return (
    Buffer.byteLength(JSON.stringify(request)) +
    Buffer.byteLength(JSON.stringify({ files, batches: batchItems(plans) })) +
    1024
  );
}

/** Folder (`a/b/`) and name of each file inside the package. */
export function packagePaths(sources: Source[], prefix?: string): PackagePath[] {
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
