import { cleanUpEarlierGenerations, packageAccess } from '../delivery/package-lifecycle.js';
import type { DeliveryRequest, PossibleOrphan, PreparedDelivery, Source } from '../delivery/request.js';
import type { RelayDeps } from '../deps.js';
import { DELIVERY_FAILED } from '../events.js';
import { redact } from '../redact.js';
import { tagSource } from '../source/s3-source.js';
import type { FinalizeMark, PackageGeneration, PackageRecord } from '../state/state-bucket.js';
import { completeDelivery, type FinalizeResult, packageIsFinalized } from './finalize.js';

export interface AbortInput {
  deliveryId: string;
  request?: DeliveryRequest;
  prepared?: PreparedDelivery;
  /** The error Step Functions caught: `{ Error, Cause }`. */
  error?: { Error?: string; Cause?: string };
  /**
   * Set when the execution ended without reaching Abort (history or payload limit, execution
   * timeout, stopped by hand) and the sweep rule runs it: nothing to do if Abort already ran.
   */
  sweep?: boolean;
}

const WHAT_TO_DO: Record<string, string> = {
  SourceChangedError:
    'The object changed during the delivery; its new version is delivered by its own event. Nothing to do.',
  SourceNotFoundError: 'Check that the object exists and the relay may read it, then upload it again.',
  FileTooLargeError:
    'Split the object into smaller objects; MASV limits one file to max part size × max part count.',
  DeliveryTooLargeError:
    'Split the delivery into several smaller ones (for example by prefix); the message says into how many.',
  SourceArchivedError:
    'Restore the archived object (or set source.restoreArchived so the relay restores and waits), then send the delivery again.',
  DeliveryRequestError: 'Fix the request or the object metadata as the message says and send it again.',
  MasvAuthError:
    'Check the MASV API key (or portal access code) in Secrets Manager, then re-upload the object.',
  MasvValidationError: 'MASV refused the request; fix the configuration as the message says and re-upload.',
  IncompleteUploadError: 'Some parts never arrived; re-upload the object to start a new delivery.',
  StateBucketError:
    "Check the relay functions' permissions on the state bucket and its KMS key, then re-upload the object.",
};

/**
 * The error message of a caught error's Cause. For a Lambda error Step Functions gives the whole
 * error JSON (`{"errorType", "errorMessage", "trace"}`), cut at 32,768 characters: its
 * `errorMessage`, read from the text when the cut left the JSON unparsable. Any other cause as given.
 */
export function causeMessage(cause: string | undefined): string {
  if (!cause) return 'no details';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    const cut = /^\{"errorType":"(?:[^"\\]|\\.)*","errorMessage":"((?:[^"\\]|\\.)*)/.exec(cause);
    if (cut) return unescapeJson(cut[1]!);
  }
  return cause;
}

/** A JSON string's content without its escapes; an escape cut at the end is dropped. */
function unescapeJson(text: string): string {
  const whole = text.replace(/\\(u[0-9a-fA-F]{0,3})?$/, '');
  try {
    return JSON.parse(`"${whole}"`) as string;
  } catch {
    return whole;
  }
}

/**
 * What a failed Abort hands back to the workflow: the failure without its file list, which the
 * event, the log and the aborted mark carry. The workflow keeps this at `$.abort` beside the whole
 * delivery and the caught error, so the sources are not counted twice in the 256 KiB.
 */
function workflowResult<T extends { files: unknown[] }>(detail: T) {
  const { files, ...rest } = detail;
  return { ...rest, fileCount: files.length, delivered: false as const };
}

/**
 * Abort step. A package that MASV finalized is never deleted: the delivery happened, so Abort
 * completes it as a success instead (the workflow then succeeds). Otherwise it deletes every
 * package this delivery's Prepare attempts created (refreshing an expired Team token), deletes or
 * reports what a lost create answer may have left, tags the sources as failed with the reason,
 * publishes the failure event and clears the records, except those of a package it could not
 * delete after the client's retries (a later run or a sweep still can).
 */
export async function abortDelivery(deps: RelayDeps, input: AbortInput) {
  const { stateBucket } = deps;
  const { deliveryId } = input;
  const errorName = input.error?.Error ?? 'UnknownError';
  const reason = redact(causeMessage(input.error?.Cause)).slice(0, 2000);
  const handled = await earlierOutcome(deps, input, errorName);
  if (handled) return handled;
  // Not caught: an Abort that cannot read what was recorded must not decide anything (its Retry
  // runs it again; a package it never saw is at worst left for MASV to expire, never deleted blind).
  const generations = await stateBucket.packageGenerations(deliveryId);
  const marks = await stateBucket.marks(deliveryId);
  const current = generations.findLast((g) => g.record)?.record;
  const prepared = input.prepared ?? generations.findLast((g) => g.prepared)?.prepared;
  const failure: Failure = {
    deliveryId,
    errorName,
    reason,
    sources: prepared?.files ?? input.request?.files ?? [],
  };
  if (current && (marks.has('package-finalizing') || marks.has('package-finalized'))) {
    const settled = await settleRequestedFinalize(deps, failure, current, marks, prepared);
    if (settled) return settled;
  }
  const notDeleted = await deleteRecordedPackages(deps, deliveryId, generations);
  const possibleOrphans = [
    ...(prepared?.possibleOrphans ?? []),
    ...(await lostCreateOrphans(deps, deliveryId, generations)),
  ];
  await tagFailedSources(deps, failure);
  const detail = {
    deliveryId,
    error: errorName,
    reason,
    whatToDo:
      WHAT_TO_DO[errorName] ?? 'Check the relay logs for this delivery id; re-upload the object to retry.',
    ...(current ? { packageId: current.packageId, packageDeleted: notDeleted.length === 0 } : {}),
    ...(notDeleted.length > 0 ? { packagesNotDeleted: notDeleted.map((g) => g.record!.packageId) } : {}),
    ...(possibleOrphans.length > 0 ? { possibleOrphans } : {}),
    files: failure.sources.map((s) => ({ bucket: s.bucket, key: s.key })),
  };
  await reportFailure(deps, detail, notDeleted);
  return workflowResult(detail);
}

/** What Abort knows of the failure it handles. */
interface Failure {
  deliveryId: string;
  errorName: string;
  reason: string;
  sources: Source[];
}

/** A sweep after Abort already ran answers its result; a delivery that succeeded stays a success. */
async function earlierOutcome(deps: RelayDeps, input: AbortInput, errorName: string) {
  const { deliveryId } = input;
  if (input.sweep) {
    const handled = await deps.stateBucket.aborted<Record<string, unknown>>(deliveryId);
    if (handled) return { ...handled, delivered: false as const, alreadyHandled: true as const };
  }
  const delivered = await deps.stateBucket.delivered<FinalizeResult>(deliveryId);
  if (!delivered) return undefined;
  deps.log.warn('The delivery had already succeeded before this failure; nothing to undo', {
    deliveryId,
    packageId: delivered.packageId,
    error: errorName,
  });
  return { ...delivered, delivered: true as const };
}

/**
 * Finalize was asked: a package MASV finalized completes the delivery as a success; one whose
 * finalize cannot be ruled out is kept and reported. Undefined when it certainly was not finalized.
 */
async function settleRequestedFinalize(
  deps: RelayDeps,
  failure: Failure,
  current: PackageRecord,
  marks: ReadonlySet<FinalizeMark>,
  prepared: PreparedDelivery | undefined,
) {
  const { deliveryId, errorName, reason } = failure;
  const finalized = marks.has('package-finalized')
    ? true
    : await packageIsFinalized(deps, current.packageId).catch(() => undefined);
  if (finalized === true && prepared) {
    deps.log.warn('Reconcile: the package was finalized before the failure; the delivery succeeded', {
      deliveryId,
      packageId: current.packageId,
      error: errorName,
    });
    const result = await completeDelivery(
      deps,
      prepared,
      current.packageId,
      packageAccess(deps, deliveryId, current),
    );
    return { ...result, delivered: true as const };
  }
  if (finalized === false) return undefined;
  // Finalize was asked and MASV cannot tell us whether it happened: never delete on doubt.
  const detail = {
    deliveryId,
    error: errorName,
    reason,
    whatToDo:
      'The package may have been finalized and delivered; check it in MASV before sending the object again.',
    packageId: current.packageId,
    packageDeleted: false,
    possiblyDelivered: true,
    files: failure.sources.map((s) => ({ bucket: s.bucket, key: s.key })),
  };
  await publishFailure(deps, detail);
  deps.log.error('Delivery failed after the package finalize was requested; the package is kept', detail);
  await deps.stateBucket.markAborted(deliveryId, detail).catch(() => undefined);
  return workflowResult(detail);
}

/**
 * Deletes every recorded package (refreshing an expired Team token) and answers the generations
 * whose package it did not delete: finalized in MASV, or the delete failed after the client's retries.
 */
async function deleteRecordedPackages(
  deps: RelayDeps,
  deliveryId: string,
  generations: PackageGeneration[],
): Promise<PackageGeneration[]> {
  const notDeleted: PackageGeneration[] = [];
  for (const generation of generations) {
    if (!generation.record) continue;
    try {
      // Belt and braces: a Team package MASV reports as finalized is never deleted, whatever the marks say.
      if (await packageIsFinalized(deps, generation.record.packageId)) {
        deps.log.error('Reconcile: a recorded package is finalized in MASV; it is not deleted', {
          deliveryId,
          packageId: generation.record.packageId,
        });
        notDeleted.push(generation);
        continue;
      }
      await deps.masv.deletePackage(packageAccess(deps, deliveryId, generation.record));
    } catch (error) {
      notDeleted.push(generation);
      deps.log.error('Could not delete the failed package; its record is kept', {
        deliveryId,
        packageId: generation.record.packageId,
        error: (error as Error).message,
      });
    }
  }
  return notDeleted;
}

/** Deletes what lost create answers made, where MASV can be asked; the rest are possible orphans. */
async function lostCreateOrphans(
  deps: RelayDeps,
  deliveryId: string,
  generations: PackageGeneration[],
): Promise<PossibleOrphan[]> {
  const lostCreates = generations.filter((g) => !g.record && g.intent);
  return cleanUpEarlierGenerations(deps, deliveryId, lostCreates).catch((error: unknown) => {
    deps.log.error('Could not look for packages a lost create may have made', {
      deliveryId,
      error: (error as Error).message,
    });
    return lostCreates.map((g) => ({ name: g.intent!.name, createdAfter: g.intent!.startedAt }));
  });
}

/** Tags each source as failed, with the reason; best effort. */
async function tagFailedSources(deps: RelayDeps, failure: Failure) {
  for (const source of failure.sources) {
    await tagSource(deps.s3, source, {
      'masv-relay:status': 'failed',
      'masv-relay:reason': `${failure.errorName}: ${failure.reason}`,
    }).catch((error: unknown) =>
      deps.log.warn('Could not tag a failed source', { key: source.key, error: (error as Error).message }),
    );
  }
}

/** Publishes the failure event; a failed publish is logged, never thrown. */
async function publishFailure(deps: RelayDeps, detail: Record<string, unknown>) {
  await deps.events
    .publish(DELIVERY_FAILED, detail)
    .catch((error: unknown) =>
      deps.log.error('Could not publish the failure event', { error: (error as Error).message }),
    );
}

/**
 * Publishes the failure, remembers the abort and clears the records, except those of a package
 * it could not delete (a later run or a sweep still can).
 */
async function reportFailure(
  deps: RelayDeps,
  detail: { deliveryId: string } & Record<string, unknown>,
  notDeleted: PackageGeneration[],
) {
  const { stateBucket, log } = deps;
  const { deliveryId } = detail;
  await publishFailure(deps, detail);
  await stateBucket
    .markAborted(deliveryId, detail)
    .catch((error: unknown) =>
      log.warn('Could not remember the abort', { deliveryId, error: (error as Error).message }),
    );
  await stateBucket
    .clear(deliveryId, (key) => notDeleted.some((g) => stateBucket.isRecordOf(key, g.generation)))
    .catch(() => undefined);
  log.error('Delivery failed', detail);
}
