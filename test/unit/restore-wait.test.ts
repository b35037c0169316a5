import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/core/config.js';
import type { RelayDeps } from '../../functions/core/deps.js';
import type { SourceObject } from '../../functions/core/s3-source.js';
import { awaitRestores, MAX_RESTORE_ROUNDS, restoreWaitSeconds } from '../../functions/core/steps/restore.js';

/**
 * From the review of issue 11: the restore wait was capped in checks (300), not in time, so with a
 * 60 s interval the relay gave up after 5 hours, before a Deep Archive Standard restore (up to 12 h)
 * could end. The interval now grows after the first checks, so the checks span the workflow's 48 h.
 */
describe('the restore wait is bounded by time, not by a count of checks', () => {
  it('is still waiting after 6 hours for a Deep Archive Standard restore when polling every 60 s', async () => {
    const config = parseConfig({
      masv: { apiUrl: 'https://api.example', target: { kind: 'team', teamId: 't', apiKeySecretName: 's' } },
      package: { recipients: ['r@example.com'] },
      source: { restoreArchived: true, restoreTier: 'Standard', restorePollSeconds: 60 },
    });
    expect(config.source.restorePollSeconds).toBe(60);
    const deps = {
      config,
      log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    } as unknown as RelayDeps;
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
