import { RestoreObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { NetworkError, SourceArchivedError, SourceNotFoundError } from '../errors.js';
import { statusOf } from '../sdk-errors.js';
import { objectParams, type S3ObjectName, s3Url } from './s3-object.js';

/**
 * Archived sources: S3 Glacier Flexible Retrieval (`GLACIER`), S3 Glacier Deep Archive
 * (`DEEP_ARCHIVE`) and the S3 Intelligent-Tiering archive access tiers answer GET with
 * `InvalidObjectState` until a restored copy exists. HEAD tells them apart before anything is
 * created: `x-amz-storage-class`, `x-amz-archive-status` and `x-amz-restore`.
 */

export type RestoreTier = 'Standard' | 'Bulk' | 'Expedited';

export interface ArchiveStatus {
  storageClass: string;
  /** Intelligent-Tiering archive tier, when the object is in one. */
  accessTier?: 'ARCHIVE_ACCESS' | 'DEEP_ARCHIVE_ACCESS';
  /** Whether a restore was asked for and is still running. */
  restoreOngoing: boolean;
}

const GLACIER_CLASSES = new Set(['GLACIER', 'DEEP_ARCHIVE']);

/**
 * The archive status of an object from its HEAD, or undefined when it can be read now (not
 * archived, or a restored copy exists). `restore` is the raw `x-amz-restore` header.
 */
export function archiveStatusOf(head: {
  StorageClass?: string;
  ArchiveStatus?: string;
  Restore?: string;
}): ArchiveStatus | undefined {
  const storageClass = head.StorageClass ?? 'STANDARD';
  const restore = head.Restore ?? '';
  const restoreOngoing = /ongoing-request\s*=\s*"true"/i.test(restore);
  const restored = /ongoing-request\s*=\s*"false"/i.test(restore);
  if (GLACIER_CLASSES.has(storageClass)) return restored ? undefined : { storageClass, restoreOngoing };
  const tier = head.ArchiveStatus;
  if (tier === 'ARCHIVE_ACCESS' || tier === 'DEEP_ARCHIVE_ACCESS')
    return restored ? undefined : { storageClass, accessTier: tier, restoreOngoing };
  return undefined;
}

/** Where the object is archived, in the words of the S3 console. */
export function describeArchive(status: ArchiveStatus): string {
  if (status.accessTier === 'ARCHIVE_ACCESS') return 'the S3 Intelligent-Tiering Archive Access tier';
  if (status.accessTier === 'DEEP_ARCHIVE_ACCESS')
    return 'the S3 Intelligent-Tiering Deep Archive Access tier';
  if (status.storageClass === 'DEEP_ARCHIVE') return 'S3 Glacier Deep Archive (storage class DEEP_ARCHIVE)';
  return 'S3 Glacier Flexible Retrieval (storage class GLACIER)';
}

/** The error for archived sources when the relay is not asked to restore them. */
export function archivedSourcesError(
  archived: Array<{ bucket: string; key: string; status: ArchiveStatus }>,
) {
  const shown = archived.slice(0, 5).map(({ bucket, key, status }) => {
    const state = status.restoreOngoing ? '; a restore is already running' : '';
    return `s3://${bucket}/${key} is archived in ${describeArchive(status)}${state}`;
  });
  const more = archived.length > 5 ? ` (and ${archived.length - 5} more)` : '';
  return new SourceArchivedError(
    `${shown.join('; ')}${more}. An archived object cannot be read until it is restored. Restore it ` +
      `(S3 console "Initiate restore", or aws s3api restore-object) and send the delivery again once the restore ` +
      `has completed, or set source.restoreArchived so the relay restores archived sources and waits. Nothing was created.`,
  );
}

export type RestoreOutcome = 'started' | 'ongoing' | 'restored';

/**
 * Asks S3 to restore an archived object. Safe to repeat: a restore that is running answers 409
 * `RestoreAlreadyInProgress` ("ongoing"), a restored copy answers 200 ("restored"), so a request
 * whose answer was lost is simply asked again. Days apply to the Glacier classes only (the
 * Intelligent-Tiering tiers refuse them); Deep Archive offers no Expedited tier, so Standard is used.
 */
export async function restoreSource(
  s3: S3Client,
  object: S3ObjectName,
  status: ArchiveStatus,
  options: { tier: RestoreTier; days: number },
): Promise<RestoreOutcome> {
  const deep = status.storageClass === 'DEEP_ARCHIVE' || status.accessTier === 'DEEP_ARCHIVE_ACCESS';
  const tier = options.tier === 'Expedited' && deep ? 'Standard' : options.tier;
  try {
    const answer = await s3.send(
      new RestoreObjectCommand({
        ...objectParams(object),
        RestoreRequest: {
          ...(status.accessTier ? {} : { Days: options.days }),
          GlacierJobParameters: { Tier: tier },
        },
      }),
    );
    return answer.$metadata.httpStatusCode === 200 ? 'restored' : 'started';
  } catch (error) {
    const name = (error as Error).name;
    const status = statusOf(error);
    if (name === 'RestoreAlreadyInProgress' || status === 409) return 'ongoing';
    // Not archived (any more): an Intelligent-Tiering object moved back, readable as it is.
    if (name === 'ObjectAlreadyInActiveTierError') return 'restored';
    const where = s3Url(object);
    if (status === 403)
      throw new SourceNotFoundError(
        `The relay may not restore ${where} (${name}). Grant it s3:RestoreObject on the source bucket (set by the stack when source.restoreArchived is on).`,
        { cause: error },
      );
    if (status === undefined || status >= 500)
      throw new NetworkError(`Asking S3 to restore ${where} failed: ${(error as Error).message}.`, {
        cause: error,
      });
    throw new SourceArchivedError(`S3 refused to restore ${where}: ${name}: ${(error as Error).message}.`, {
      cause: error,
    });
  }
}
