import { cleanUpEarlierGenerations, packageAccess } from '../delivery/package-lifecycle.js';
import type { DeliveryRequest, PreparedDelivery } from '../delivery/request.js';
import type { RelayDeps } from '../deps.js';
import { DELIVERY_FAILED } from '../events.js';
import { redact } from '../redact.js';
import { tagSource } from '../source/s3-source.js';
import type { PackageGeneration } from '../state/state-bucket.js';
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
 * Abort step. A package that MASV finalized is never deleted: the delivery happened, so Abort
 * completes it as a success instead (the workflow then succeeds). Otherwise it deletes every
 * package this delivery's Prepare attempts created (refreshing an expired Team token), deletes or
 * reports what a lost create answer may have left, tags the sources as failed with the reason,
 * publishes the failure event and clears the records, except those of a package it could not
 * delete after the client's retries (a later run or a sweep still can).
 */
export async function abortDelivery(deps: RelayDeps, input: AbortInput) {
  const { stateBucket, masv, log } = deps;
  const { deliveryId } = input;
  const errorName = input.error?.Error ?? 'UnknownError';
  const reason = redact(causeMessage(input.error?.Cause)).slice(0, 2000);
  if (input.sweep) {
    const handled = await stateBucket.aborted<Record<string, unknown>>(deliveryId);
    if (handled) return { ...handled, delivered: false as const, alreadyHandled: true as const };
  }
  const delivered = await stateBucket.delivered<FinalizeResult>(deliveryId);
  if (delivered) {
    log.warn('The delivery had already succeeded before this failure; nothing to undo', {
      deliveryId,
      packageId: delivered.packageId,
      error: errorName,
    });
    return { ...delivered, delivered: true as const };
  }
  // Not caught: an Abort that cannot read what was recorded must not decide anything (its Retry
  // runs it again; a package it never saw is at worst left for MASV to expire, never deleted blind).
  const generations = await stateBucket.packageGenerations(deliveryId);
  const marks = await stateBucket.marks(deliveryId);
  const current = generations.findLast((g) => g.record)?.record;
  const prepared = input.prepared ?? generations.findLast((g) => g.prepared)?.prepared;
  const sources = prepared?.files ?? input.request?.files ?? [];

  if (current && (marks.has('package-finalizing') || marks.has('package-finalized'))) {
    const finalized = marks.has('package-finalized')
      ? true
      : await packageIsFinalized(deps, current.packageId).catch(() => undefined);
    if (finalized === true && prepared) {
      log.warn('Reconcile: the package was finalized before the failure; the delivery succeeded', {
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
    if (finalized !== false) {
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
        files: sources.map((s) => ({ bucket: s.bucket, key: s.key })),
      };
      await deps.events
        .publish(DELIVERY_FAILED, detail)
        .catch((error: unknown) =>
          log.error('Could not publish the failure event', { error: (error as Error).message }),
        );
      log.error('Delivery failed after the package finalize was requested; the package is kept', detail);
      await stateBucket.markAborted(deliveryId, detail).catch(() => undefined);
      return { ...detail, delivered: false as const };
    }
  }

  const deleted: string[] = [];
  const notDeleted: PackageGeneration[] = [];
  for (const generation of generations) {
    if (!generation.record) continue;
    try {
      // Belt and braces: a Team package MASV reports as finalized is never deleted, whatever the marks say.
      if (await packageIsFinalized(deps, generation.record.packageId)) {
        log.error('Reconcile: a recorded package is finalized in MASV; it is not deleted', {
          deliveryId,
          packageId: generation.record.packageId,
        });
        notDeleted.push(generation);
        continue;
      }
      await masv.deletePackage(packageAccess(deps, deliveryId, generation.record));
      deleted.push(generation.record.packageId);
    } catch (error) {
      notDeleted.push(generation);
      log.error('Could not delete the failed package; its record is kept', {
        deliveryId,
        packageId: generation.record.packageId,
        error: (error as Error).message,
      });
    }
  }
  const possibleOrphans = [...(prepared?.possibleOrphans ?? [])];
  const lostCreates = generations.filter((g) => !g.record && g.intent);
  const unresolved = await cleanUpEarlierGenerations(deps, deliveryId, lostCreates).catch(
    (error: unknown) => {
      log.error('Could not look for packages a lost create may have made', {
        deliveryId,
        error: (error as Error).message,
      });
      return lostCreates.map((g) => ({ name: g.intent!.name, createdAfter: g.intent!.startedAt }));
    },
  );
  possibleOrphans.push(...unresolved);

  for (const source of sources) {
    await tagSource(deps.s3, source, {
      'masv-relay:status': 'failed',
      'masv-relay:reason': `${errorName}: ${reason}`,
    }).catch((error: unknown) =>
      log.warn('Could not tag a failed source', { key: source.key, error: (error as Error).message }),
    );
  }
  const detail = {
    deliveryId,
    error: errorName,
    reason,
    whatToDo:
      WHAT_TO_DO[errorName] ?? 'Check the relay logs for this delivery id; re-upload the object to retry.',
    ...(current ? { packageId: current.packageId, packageDeleted: notDeleted.length === 0 } : {}),
    ...(notDeleted.length > 0 ? { packagesNotDeleted: notDeleted.map((g) => g.record!.packageId) } : {}),
    ...(possibleOrphans.length > 0 ? { possibleOrphans } : {}),
    files: sources.map((s) => ({ bucket: s.bucket, key: s.key })),
  };
  await deps.events
    .publish(DELIVERY_FAILED, detail)
    .catch((error: unknown) =>
      log.error('Could not publish the failure event', { error: (error as Error).message }),
    );
  await stateBucket
    .markAborted(deliveryId, detail)
    .catch((error: unknown) =>
      log.warn('Could not remember the abort', { deliveryId, error: (error as Error).message }),
    );
  await stateBucket
    .clear(deliveryId, (key) => notDeleted.some((g) => stateBucket.isRecordOf(key, g.generation)))
    .catch(() => undefined);
  log.error('Delivery failed', detail);
  return { ...detail, delivered: false as const };
}
