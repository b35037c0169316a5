import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { PreparedDelivery } from '../../functions/core/delivery.js';
import { StateBucket } from '../../functions/core/state-bucket.js';
import { STATE_PREFIX, type StateArea, statePattern } from '../../functions/core/state-keys.js';

/** An IAM resource pattern as a regular expression (`*` spans any characters, `/` included). */
const matcher = (pattern: string) =>
  new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );

const s3 = mockClient(S3Client);
const written: string[] = [];
const stateBucket = new StateBucket(new S3Client({ region: 'us-east-1' }), 'state');

beforeEach(() => {
  s3.reset();
  written.length = 0;
  s3.on(PutObjectCommand).callsFake((input: { Key: string }) => {
    written.push(input.Key);
    return {};
  });
});

/** What each writer must stay inside: the area the steps that call it are granted (lib/permissions). */
const writers: Array<[string, StateArea, () => Promise<unknown>]> = [
  [
    'a create intent',
    'package',
    () =>
      stateBucket.recordCreateIntent('d-1', 1, {
        startedAt: 't',
        name: 'n',
        description: 'x',
      }),
  ],
  [
    'a package record',
    'package',
    () => stateBucket.savePackage('d-1', 1, { packageId: 'P', owner: 'team', token: 't' }),
  ],
  ["Prepare's result", 'package', () => stateBucket.savePrepared('d-1', 1, {} as PreparedDelivery)],
  ['a claim', 'package', () => stateBucket.claimPackage('P', 'd-1')],
  ['a finished part', 'parts', () => stateBucket.recordPart('d-1', 0, { partNumber: 7, etag: '"e7"' }, 1)],
  ['a finalized file', 'finalized', () => stateBucket.markFileFinalized('d-1', 0)],
  ['a finalize mark', 'finalized', () => stateBucket.mark('d-1', 'package-finalizing')],
  ['the link mark', 'finalized', () => stateBucket.markOnce('d-1', 'link-requested')],
  ['the delivered marker', 'finalized', () => stateBucket.markDelivered('d-1', {})],
  ['the aborted marker', 'finalized', () => stateBucket.markAborted('d-1', {})],
];

describe('the state-bucket key layout has one home', () => {
  it.each(writers)(
    '%s is written inside the %s area its writers are granted, and nowhere else',
    async (_, area, write) => {
      await write();
      expect(written).toHaveLength(1);
      const key = written[0]!;
      expect(key.startsWith(STATE_PREFIX)).toBe(true);
      expect(key).toMatch(matcher(statePattern(area)));
      for (const other of ['package', 'parts', 'finalized'] as const) {
        if (other !== area) expect(key).not.toMatch(matcher(statePattern(other)));
      }
    },
  );

  it('keeps claims and outcome markers out of any delivery’s own records', async () => {
    await stateBucket.claimPackage('P', 'd-1');
    await stateBucket.markDelivered('d-1', {});
    expect(written).toEqual([
      'deliveries/_claims/package/P.json',
      'deliveries/_delivered/finalized/d-1.json',
    ]);
  });
});
