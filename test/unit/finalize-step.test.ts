import { describe, expect, it } from 'vitest';
import type { PreparedDelivery } from '../../functions/core/delivery/request.js';
import type { FinalizeOutcome, MasvClient } from '../../functions/core/masv/client.js';
import type { FinalizeMark, StateBucket } from '../../functions/core/state/state-bucket.js';
import { finalizeDelivery } from '../../functions/core/steps/finalize.js';
import { stepDeps } from '../helpers/step-deps.js';

/** Finalize with injected dependencies: what it calls, in which order, and what it never repeats. */
const prepared: PreparedDelivery = {
  deliveryId: 'd1',
  package: { id: 'P1', owner: 'team' },
  files: [
    {
      index: 0,
      bucket: 'src',
      key: 'a.mov',
      etag: 'e',
      name: 'a.mov',
      path: '',
      size: 10,
      partSize: 10,
      partCount: 1,
      fileId: 'F1',
      uploadId: 'U1',
    },
  ],
  batches: [{ file: 0, start: 0, count: 1 }],
  link: { email: 'reviewer@example.com' },
};

function arrange(
  options: { marks?: FinalizeMark[]; packageAnswer?: FinalizeOutcome; masvState?: string } = {},
) {
  const calls: string[] = [];
  const marks = new Set<FinalizeMark>(options.marks ?? []);
  const markedOnce = new Set<string>();
  let remembered: unknown;
  const stateBucket = {
    delivered: async () => remembered,
    requirePackage: async () => ({ packageId: 'P1', owner: 'team', token: 't' }),
    marks: async () => new Set(marks),
    mark: async (_id: string, mark: FinalizeMark) => {
      calls.push(`mark ${mark}`);
      marks.add(mark);
    },
    markOnce: async (_id: string, mark: string) => {
      if (markedOnce.has(mark)) return false;
      markedOnce.add(mark);
      return true;
    },
    finalizeProgress: async () => ({ files: new Set<number>(), marks: new Set(marks) }),
    listParts: async () => new Map([[1, { partNumber: 1, etag: '"x"' }]]),
    markFileFinalized: async () => undefined,
    packageRecords: async () => [],
    markDelivered: async (_id: string, result: unknown) => {
      remembered = result;
      return true;
    },
    clear: async () => {
      calls.push('clear');
    },
  } as unknown as StateBucket;
  const masv = {
    finalizeFile: async () => {
      calls.push('finalize file');
      return 'finalized';
    },
    finalizePackage: async () => {
      calls.push('finalize package');
      return options.packageAnswer ?? 'finalized';
    },
    getTeamPackage: async () => {
      calls.push('get package');
      return { id: 'P1', state: options.masvState ?? 'new', token: 't' };
    },
    createLink: async () => {
      calls.push('create link');
      return { id: 'L1' };
    },
  } as unknown as MasvClient;
  const deps = stepDeps({ masv, stateBucket });
  return { deps, calls, events: deps.events };
}

describe('finalize step', () => {
  it('marks the intent, finalizes the file then the package, and only then does the follow-ups', async () => {
    const { deps, calls } = arrange();

    const result = await finalizeDelivery(deps, prepared);

    expect(calls).toEqual([
      'finalize file',
      'mark package-finalizing',
      'finalize package',
      'mark package-finalized',
      'create link',
      'clear',
    ]);
    expect(result).toMatchObject({ packageId: 'P1', linkId: 'L1' });
    // The source tag failed (no S3 here): counted, not fatal.
    expect(result.followUpFailures).toEqual(['tag s3://src/a.mov as delivered']);
  });

  it('a rerun after finalize was asked reads MASV first and does not finalize again', async () => {
    const { deps, calls } = arrange({ marks: ['package-finalizing'], masvState: 'finalized' });

    await finalizeDelivery(deps, prepared);

    expect(calls.filter((c) => c.startsWith('finalize package'))).toEqual([]);
    expect(calls).toContain('get package');
  });

  it('takes MASV answering "already finalized" as done', async () => {
    const { deps, calls } = arrange({ packageAnswer: 'already-finalized' });

    await expect(finalizeDelivery(deps, prepared)).resolves.toMatchObject({ packageId: 'P1' });
    expect(calls).toContain('mark package-finalized');
  });

  it('creates the link at most once and, once remembered, answers a rerun without any call', async () => {
    const { deps, calls } = arrange();
    const first = await finalizeDelivery(deps, prepared);
    calls.length = 0;

    const again = await finalizeDelivery(deps, prepared);

    expect(again).toEqual(first);
    expect(calls).toEqual([]);
  });
});
