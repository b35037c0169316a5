import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { PreparedDelivery } from '../../functions/core/delivery/request.js';
import { areaOf, STATE_PREFIX, type StateArea, statePattern } from '../../functions/core/state/keys.js';
import { StateBucket } from '../../functions/core/state/state-bucket.js';

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

const AREAS = ['package', 'claims', 'parts', 'finalized', 'outcomes'] as const;

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
  ['a claim', 'claims', () => stateBucket.claimPackage('P', 'd-1')],
  ['a finished part', 'parts', () => stateBucket.recordPart('d-1', 0, { partNumber: 7, etag: '"e7"' }, 1)],
  ['a finalized file', 'finalized', () => stateBucket.markFileFinalized('d-1', 0)],
  ['a finalize mark', 'finalized', () => stateBucket.mark('d-1', 'package-finalizing')],
  ['the link mark', 'finalized', () => stateBucket.markOnce('d-1', 'link-requested')],
  ['the delivered marker', 'outcomes', () => stateBucket.markDelivered('d-1', {})],
  ['the aborted marker', 'outcomes', () => stateBucket.markAborted('d-1', {})],
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
      for (const other of AREAS) {
        if (other !== area) expect(key).not.toMatch(matcher(statePattern(other)));
      }
    },
  );

  it('keeps claims and outcome markers out of any delivery’s own records', async () => {
    await stateBucket.claimPackage('P', 'd-1');
    await stateBucket.markDelivered('d-1', {});
    expect(written).toEqual(['deliveries/claims/P.json', 'deliveries/outcomes/delivered/d-1.json']);
  });

  it('puts the area first, so no area’s IAM pattern matches another area’s keys, whatever the id', () => {
    // Under the old `deliveries/{id}/{area}/` layout, `deliveries/*/parts/*` matched this key too.
    const nested = `${areaOf('d-1', 'package')}0099.json`;
    expect(nested).toBe('deliveries/package/d-1/0099.json');
    expect(AREAS.filter((area) => matcher(statePattern(area)).test(nested))).toEqual(['package']);
    const oldParts = matcher('deliveries/*/parts/*');
    expect('deliveries/d-1/package/parts/x/package/0099.json').toMatch(oldParts);
    // Whatever follows the area, only that area's pattern matches.
    for (const area of AREAS) {
      const key = `${STATE_PREFIX}${area}/d-1/parts/x/finalized/y`;
      expect(AREAS.filter((other) => matcher(statePattern(other)).test(key))).toEqual([area]);
    }
  });

  it('refuses a delivery or package id that would reach into another key', async () => {
    expect(() => areaOf('d-1/package/parts', 'parts')).toThrow(/Not a valid delivery id/);
    await expect(stateBucket.claimPackage('P/../x', 'd-1')).rejects.toThrow(/Not a valid package id/);
  });

  it('reads as package generations only the files directly under the delivery, nothing nested', async () => {
    s3.on(ListObjectsV2Command).resolves({
      Contents: [
        { Key: 'deliveries/package/d-1/0001.json' },
        // A key nested below the delivery (not one the relay writes) is no generation of it.
        { Key: 'deliveries/package/d-1/parts/x/package/0099.json' },
        { Key: 'deliveries/package/d-1/x/0098.json' },
      ],
    });
    s3.on(GetObjectCommand).resolves({
      Body: { transformToString: async () => '{"packageId":"P1","owner":"team","token":"t"}' },
    } as never);
    expect(await stateBucket.newestGeneration('d-1')).toBe(1);
    expect((await stateBucket.packageRecords('d-1')).map((r) => r.generation)).toEqual([1]);
  });
});
