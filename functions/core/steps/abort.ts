import type { DeliveryRequest, PreparedDelivery } from '../delivery.js';
import type { RelayDeps } from '../deps.js';
import { MasvNotFoundError } from '../errors.js';
import { DELIVERY_FAILED } from '../events.js';
import { redact } from '../redact.js';
import { tagSource } from '../s3-source.js';

export interface AbortInput {
  deliveryId: string;
  request?: DeliveryRequest;
  prepared?: PreparedDelivery;
  /** The error Step Functions caught: `{ Error, Cause }`. */
  error?: { Error?: string; Cause?: string };
}

const WHAT_TO_DO: Record<string, string> = {
  SourceChangedError:
    'The object changed during the delivery; its new version is delivered by its own event. Nothing to do.',
  SourceNotFoundError: 'Check that the object exists and the relay may read it, then upload it again.',
  FileTooLargeError:
    'Split the object into smaller objects; MASV limits one file to max part size × max part count.',
  DeliveryRequestError: 'Fix the request or the object metadata as the message says and send it again.',
  MasvAuthError:
    'Check the MASV API key (or portal access code) in Secrets Manager, then re-upload the object.',
  MasvValidationError: 'MASV refused the request; fix the configuration as the message says and re-upload.',
  IncompleteUploadError: 'Some parts never arrived; re-upload the object to start a new delivery.',
};

/** The error message of a Lambda error cause (`{"errorMessage": …}`) or the cause as given. */
export function causeMessage(cause: string | undefined): string {
  if (!cause) return 'no details';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: string };
    if (typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // not JSON
  }
  return cause;
}

/**
 * Abort step: deletes the MASV package so no partial delivery reaches recipients, tags the
 * sources as failed with the reason, publishes the failure event and clears the records.
 * Every part is best effort: abort must not fail on the way to telling the user why.
 */
export async function abortDelivery(deps: RelayDeps, input: AbortInput) {
  const { store, masv, log } = deps;
  const errorName = input.error?.Error ?? 'UnknownError';
  const reason = redact(causeMessage(input.error?.Cause)).slice(0, 2000);
  const record = await store.loadPackage(input.deliveryId).catch(() => undefined);
  let packageDeleted = false;
  if (record) {
    try {
      await masv.deletePackage({ packageId: record.packageId, token: record.token });
      packageDeleted = true;
    } catch (error) {
      packageDeleted = error instanceof MasvNotFoundError;
      if (!packageDeleted)
        log.error('Could not delete the failed package', {
          packageId: record.packageId,
          error: (error as Error).message,
        });
    }
  }
  const sources = input.prepared?.files ?? input.request?.files ?? [];
  for (const source of sources) {
    await tagSource(deps.s3, source, {
      'masv-relay:status': 'failed',
      'masv-relay:reason': `${errorName}: ${reason}`.slice(0, 256),
    }).catch((error: unknown) =>
      log.warn('Could not tag a failed source', { key: source.key, error: (error as Error).message }),
    );
  }
  const detail = {
    deliveryId: input.deliveryId,
    error: errorName,
    reason,
    whatToDo:
      WHAT_TO_DO[errorName] ?? 'Check the relay logs for this delivery id; re-upload the object to retry.',
    ...(record ? { packageId: record.packageId, packageDeleted } : {}),
    files: sources.map((s) => ({ bucket: s.bucket, key: s.key })),
  };
  await deps.events
    .publish(DELIVERY_FAILED, detail)
    .catch((error: unknown) =>
      log.error('Could not publish the failure event', { error: (error as Error).message }),
    );
  await store.clear(input.deliveryId).catch(() => undefined);
  log.error('Delivery failed', detail);
  return detail;
}
