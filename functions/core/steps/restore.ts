import type { RelayDeps } from '../deps.js';
import { SourceArchivedError } from '../errors.js';
import { runPool } from '../pool.js';
import { archivedSourcesError, describeArchive, restoreSource } from '../source/archive.js';
import type { SourceObject } from '../source/s3-source.js';

/**
 * Checks of a running restore one delivery may make: each round costs 9 history events (Prepare's
 * 5, the Choice's 2, the Wait's 2), so 300 rounds stay inside the 5,000 events the planner keeps
 * in reserve. The interval grows after the first checks (`restoreWaitSeconds`), so they span more
 * than the workflow's 48-hour limit whatever `source.restorePollSeconds` is.
 */
export const MAX_RESTORE_ROUNDS = 300;
/** History events one restore check costs: Prepare (5), `Sources Readable?` (2), `Wait For Restore` (2). */
export const EVENTS_PER_RESTORE_ROUND = 9;
/** Events a delivery that waits for restores keeps aside for them: its plan gets that much less. */
export const RESTORE_EVENT_RESERVE = MAX_RESTORE_ROUNDS * EVENTS_PER_RESTORE_ROUND;

/** Checks made at `source.restorePollSeconds` before the interval starts to grow. */
const STEADY_ROUNDS = 10;
/** The longest interval between two checks. */
const MAX_WAIT_SECONDS = 3600;

/**
 * Seconds to wait after check `round`: the configured interval for the first checks, then half as
 * long again each time (capped at an hour), so the 300 checks cover the workflow's whole 48 hours
 * whatever the interval (a Deep Archive restore can take 12 h Standard, 48 h Bulk).
 */
export function restoreWaitSeconds(pollSeconds: number, round: number): number {
  const grown = pollSeconds * 1.5 ** Math.max(0, round - STEADY_ROUNDS);
  return Math.max(pollSeconds, Math.min(MAX_WAIT_SECONDS, Math.round(grown)));
}

/** Prepare's answer while archived sources are being restored: the workflow waits, then asks again. */
export interface RestoreWait {
  deliveryId: string;
  restoring: {
    /** Sources still archived. */
    files: number;
    /** This check's number, 1 for the first. */
    round: number;
    /** Seconds the workflow's Wait state waits before the next check. */
    waitSeconds: number;
  };
}

/**
 * Archived sources found by Prepare's HEADs, before any package exists. Refused with a specific
 * error unless `source.restoreArchived` is on and the caller can wait; otherwise restores are
 * started (or found running) and the workflow is told to wait and ask again. RestoreObject is
 * safe to repeat (409 while running, 200 once restored), so a lost answer is simply asked again
 * in the next round.
 */
export async function awaitRestores(
  deps: RelayDeps,
  deliveryId: string,
  archived: SourceObject[],
  wait: { round: number } | undefined,
): Promise<RestoreWait> {
  const { config, log } = deps;
  const list = archived.map((o) => ({ bucket: o.bucket, key: o.key, status: o.archived! }));
  if (!config.source.restoreArchived || !wait) throw archivedSourcesError(list);
  const round = wait.round + 1;
  if (round > MAX_RESTORE_ROUNDS) {
    const first = list[0]!;
    throw new SourceArchivedError(
      `The restore of s3://${first.bucket}/${first.key} (${describeArchive(first.status)})${list.length > 1 ? ` and ${list.length - 1} more` : ''} ` +
        `did not complete within ${MAX_RESTORE_ROUNDS} checks (the last an hour apart). ` +
        'Check the restore in the S3 console; once it has completed, send the delivery again. Nothing was created.',
    );
  }
  const outcomes: string[] = new Array(archived.length);
  await runPool([...archived.keys()], 8, async (i) => {
    const object = archived[i]!;
    outcomes[i] = object.archived!.restoreOngoing
      ? 'ongoing'
      : await restoreSource(deps.s3, object, object.archived!, {
          tier: config.source.restoreTier,
          days: config.source.restoreDays,
        });
  });
  log.info('Waiting for archived sources to be restored before creating the package', {
    deliveryId,
    round,
    files: archived.map((o, i) => ({
      key: o.key,
      storageClass: o.archived!.storageClass,
      restore: outcomes[i],
    })),
  });
  return {
    deliveryId,
    restoring: {
      files: archived.length,
      round,
      waitSeconds: restoreWaitSeconds(config.source.restorePollSeconds, round),
    },
  };
}
