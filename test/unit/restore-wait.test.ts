import { describe, expect, it } from 'vitest';
import type { SourceObject } from '../../functions/core/source/s3-source.js';
import { awaitRestores, MAX_RESTORE_ROUNDS, restoreWaitSeconds } from '../../functions/core/steps/restore.js';
import { stepDeps } from '../helpers/step-deps.js';

/**
 * From the review of issue 11: the restore wait was capped in checks (300), not in time, so with a
 * 60 s interval the relay gave up after 5 hours, before a Deep Archive Standard restore (up to 12 h)
 * could end. The interval now grows after the first checks, so the checks span the workflow's 48 h.
 */
describe('the restore wait is bounded by time, not by a count of checks', () => {
  it('is still waiting after 6 hours for a Deep Archive Standard restore when polling every 60 s', async () => {
    const deps = stepDeps({
      masv: {} as never,
      stateBucket: {} as never,
      config: { source: { restoreArchived: true, restoreTier: 'Standard', restorePollSeconds: 60 } },
    });
    expect(deps.config.source.restorePollSeconds).toBe(60);
    const archived: SourceObject[] = [
      {
        bucket: 'b',
        key: 'shoot/a.mov',
        etag: 'e',
        size: 1,
        lastModified: new Date(0),
        metadata: {},
        storageClass: 'DEEP_ARCHIVE',
        archived: { storageClass: 'DEEP_ARCHIVE', restoreOngoing: true },
      },
    ];
    // Follow the checks as the workflow would, until 48 hours have passed.
    let round = 0;
    let waitedSeconds = 0;
    while (waitedSeconds < 48 * 3600) {
      const wait = await awaitRestores(deps, 'd', archived, { round });
      waitedSeconds += wait.restoring.waitSeconds;
      round = wait.restoring.round;
    }
    expect(round).toBeLessThanOrEqual(MAX_RESTORE_ROUNDS);
    expect(restoreWaitSeconds(60, 1)).toBe(60);
    expect(restoreWaitSeconds(60, 200)).toBe(3600);
  });
});
