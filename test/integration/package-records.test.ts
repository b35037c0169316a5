import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryReference } from '../../functions/core/delivery/package-lifecycle.js';
import type { RelayDeps } from '../../functions/core/deps.js';
import { PackageRecordConflictError } from '../../functions/core/errors.js';
import { prepareDelivery } from '../../functions/core/steps/prepare.js';
import { transferBatch } from '../../functions/core/steps/transfer.js';
import { type RunningEmulator, startEmulator } from '../../local/emulator/server.js';
import { type LocalS3, startLocalS3 } from '../../local/s3/server.js';
import { createLocalDeps, SOURCE_BUCKET, STATE_BUCKET } from '../../local/workflow/local-deps.js';
import { KiB, TINY_SPEC, zeroWaitClock } from '../helpers/local-relay.js';

/**
 * The package record is written once (`If-None-Match: *` on the real local S3), so overlapping
 * invocations of a step cannot create two packages or upload into a superseded one.
 */
let s3: LocalS3;
let masv: RunningEmulator;
let deps: RelayDeps;

beforeAll(async () => {
  s3 = await startLocalS3({ buckets: [SOURCE_BUCKET, STATE_BUCKET] });
  masv = await startEmulator({ port: 0, spec: TINY_SPEC });
  deps = createLocalDeps({
    s3Endpoint: s3.endpoint,
    masv: { url: masv.url, apiKey: masv.accounts.apiKey, teamId: masv.accounts.teamId },
    config: { transfer: { partSizeMiB: 5, mapConcurrency: 2, partConcurrency: 2, partsPerBatch: 4 } },
    clock: zeroWaitClock,
  }).deps;
  await deps.s3.send(
    new PutObjectCommand({
      Bucket: SOURCE_BUCKET,
      Key: 'records/clip.bin',
      Body: Buffer.alloc(300 * KiB, 7),
    }),
  );
});
afterAll(async () => {
  await masv.close();
  await s3.close();
});

const request = (deliveryId: string) => ({
  deliveryId,
  files: [{ bucket: SOURCE_BUCKET, key: 'records/clip.bin' }],
});

describe('package records in the state bucket', () => {
  it('lets only one of two overlapping Prepares create a package', async () => {
    const results = await Promise.allSettled([
      prepareDelivery(deps, request('overlap')),
      prepareDelivery(deps, request('overlap')),
    ]);
    const fulfilled = results.filter((r) => r.status === 'fulfilled');
    const rejected = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    expect(fulfilled).toHaveLength(1);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.reason).toBeInstanceOf(PackageRecordConflictError);
    const named = masv.inspect.packages().filter((p) => p.name === 'clip.bin' && p.state !== 'deleted');
    expect(named).toHaveLength(1);
    const record = await deps.stateBucket.loadPackage('overlap');
    expect(record?.packageId).toBe(named[0]!.id);
  });

  it('a repeated Prepare returns the finished one unchanged, creating and deleting nothing', async () => {
    const first = await prepareDelivery(deps, request('again'));
    const before = masv.inspect.packages().length;
    const second = await prepareDelivery(deps, request('again'));
    expect(second).toEqual(first);
    expect(masv.inspect.packages().length).toBe(before);
    expect(masv.inspect.package(first.package.id)?.state).toBe('new');
  });

  it('a Prepare after an unfinished one deletes its package and records a new generation', async () => {
    const first = await prepareDelivery(deps, request('rerun'));
    // The first attempt's Lambda died before it could keep its result.
    await deps.s3.send(
      new DeleteObjectCommand({ Bucket: STATE_BUCKET, Key: 'deliveries/package/rerun/0001.prepared' }),
    );
    const second = await prepareDelivery(deps, request('rerun'));
    expect(second.package.id).not.toBe(first.package.id);
    expect(masv.inspect.package(first.package.id)?.state).toBe('deleted');
    expect(masv.inspect.package(second.package.id)?.state).toBe('new');
    const generations = await deps.stateBucket.packageGenerations('rerun');
    expect(generations.map((g) => [g.generation, g.record?.packageId])).toEqual([
      [1, first.package.id],
      [2, second.package.id],
    ]);
    // A batch of the superseded Prepare must not upload into any package.
    await expect(
      transferBatch(
        deps,
        { deliveryId: 'rerun', packageId: first.package.id, file: first.files[0]!, batch: first.batches[0]! },
        { partConcurrency: 1, remainingMs: () => 600_000 },
      ),
    ).rejects.toBeInstanceOf(PackageRecordConflictError);
    expect(masv.inspect.counters().partUploads).toBe(0);
  });

  it('gives Team packages a description reference unique to the delivery and attempt', async () => {
    const prepared = await prepareDelivery(deps, request('referenced'));
    const description = masv.inspect.package(prepared.package.id)!.description;
    expect(description).toBe(
      `Delivered by masv-relay from s3://${SOURCE_BUCKET}/records/clip.bin\n\n${deliveryReference('referenced', 1)}`,
    );
    expect(deliveryReference('referenced', 1)).not.toBe(deliveryReference('referenced', 2));
    expect(deliveryReference('referenced', 1)).not.toBe(deliveryReference('overlap', 1));
  });

  it('refuses to record the same generation twice', async () => {
    const record = { packageId: 'P1', owner: 'team' as const, token: 't' };
    await deps.stateBucket.savePackage('twice', 1, record);
    await expect(
      deps.stateBucket.savePackage('twice', 1, { ...record, packageId: 'P2' }),
    ).rejects.toBeInstanceOf(PackageRecordConflictError);
    expect((await deps.stateBucket.loadPackage('twice'))?.packageId).toBe('P1');
  });

  it('claims a package for one delivery only', async () => {
    expect(await deps.stateBucket.claimPackage('PKG', 'delivery-a')).toBe(true);
    expect(await deps.stateBucket.claimPackage('PKG', 'delivery-a')).toBe(true);
    expect(await deps.stateBucket.claimPackage('PKG', 'delivery-b')).toBe(false);
  });

  it('local S3 answers If-None-Match as S3 does: 412 when the key exists, 501 for a value other than *', async () => {
    const put = (value: string) =>
      deps.s3.send(
        new PutObjectCommand({
          Bucket: STATE_BUCKET,
          Key: 'conditional/once',
          Body: 'x',
          IfNoneMatch: value,
        }),
      );
    await put('*');
    await expect(put('*')).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
    await expect(put('"abc"')).rejects.toMatchObject({ $metadata: { httpStatusCode: 501 } });
  });
});
