import { HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { deliveryReference } from '../../functions/core/delivery/package-lifecycle.js';
import type { DeliveryRequest, PreparedDelivery } from '../../functions/core/delivery/request.js';
import {
  DeliveryRequestError,
  MasvOutcomeUnknownError,
  MasvServerError,
  MasvValidationError,
  NetworkError,
  PackageRecordConflictError,
} from '../../functions/core/errors.js';
import type { MasvClient } from '../../functions/core/masv/client.js';
import type { Blueprint } from '../../functions/core/masv/types.js';
import type { PackageGeneration, StateBucket } from '../../functions/core/state/state-bucket.js';
import { prepareDelivery } from '../../functions/core/steps/prepare.js';
import { stepDeps } from '../helpers/step-deps.js';

/**
 * Prepare with injected dependencies: an in-memory state bucket and MASV, the source bucket's
 * HEAD and LIST mocked. Each test arranges the fakes, runs Prepare once and checks what it called,
 * in which order, and what it returned.
 */
const MiB = 1024 * 1024;
const NOW = new Date('2025-03-04T05:06:07.000Z');
const spec = { maxPartCount: 10_000, maxPartSize: 5 * 1024 * MiB, minPartSize: 5 * MiB };

interface Fakes {
  /** Source objects by key (bucket `src`): their size and ETag. */
  objects?: Record<string, { size: number; etag: string }>;
  /** Keys the LIST of the source bucket returns. */
  listed?: string[];
  generations?: PackageGeneration[];
  target?: 'team' | 'portal';
  /** Config `transfer.partsPerBatch`. */
  partsPerBatch?: number;
  addFileFails?: Error;
  deleteFails?: boolean;
  createBlueprintHeaders?: Record<string, string>;
  /** A generation that appears in the state bucket while this Prepare runs (an overlapping attempt). */
  overtakenBy?: number;
  /** Keeping the result is stored, then answered with this error (the answer lost). */
  savePreparedFails?: Error;
}

function arrange(fakes: Fakes = {}) {
  const calls: string[] = [];
  const generations = new Map<number, PackageGeneration>(
    (fakes.generations ?? []).map((g) => [g.generation, structuredClone(g)]),
  );
  const generation = (n: number) => {
    const entry = generations.get(n) ?? { generation: n };
    generations.set(n, entry);
    return entry;
  };
  const sorted = () => [...generations.values()].sort((a, b) => a.generation - b.generation);
  const stateBucket = {
    packageGenerations: async () => sorted().map((g) => ({ ...g })),
    finishedPrepare: async () => {
      const finished = sorted().findLast((g) => g.prepared);
      return finished?.prepared && finished === sorted().findLast((g) => g.record)
        ? { generation: finished.generation, prepared: structuredClone(finished.prepared) }
        : undefined;
    },
    newestGeneration: async () => Math.max(0, ...generations.keys()),
    recordCreateIntent: async (_id: string, n: number, intent: PackageGeneration['intent']) => {
      calls.push(`intent ${n}`);
      generation(n).intent = intent;
    },
    claimPackage: async (packageId: string) => {
      calls.push(`claim ${packageId}`);
      return true;
    },
    savePackage: async (_id: string, n: number, record: PackageGeneration['record']) => {
      calls.push(`save record ${n}`);
      generation(n).record = record;
      if (fakes.overtakenBy !== undefined) generation(fakes.overtakenBy);
    },
    savePrepared: async (_id: string, n: number, prepared: PreparedDelivery) => {
      calls.push(`save prepared ${n}`);
      generation(n).prepared = structuredClone(prepared);
      if (fakes.savePreparedFails) throw fakes.savePreparedFails;
    },
  } as unknown as StateBucket;

  const requests: Array<Record<string, unknown>> = [];
  const addedFiles: Array<Record<string, unknown>> = [];
  let created = 0;
  let uploads = 0;
  const createBlueprint: Blueprint = {
    url: 'https://storage.example/upload?uploads&X-Amz-SignedHeaders=host',
    method: 'POST',
    headers: fakes.createBlueprintHeaders ?? {},
    body: '',
  };
  const masv = {
    getSpec: async () => spec,
    createTeamPackage: async (teamId: string, apiKey: string, request: Record<string, unknown>) => {
      calls.push(`create team package ${teamId} ${apiKey}`);
      requests.push(request);
      return { id: `P${++created}`, token: `token-${created}` };
    },
    createPortalPackage: async (portalId: string, request: Record<string, unknown>) => {
      calls.push(`create portal package ${portalId}`);
      requests.push(request);
      return { id: `P${++created}`, token: `token-${created}` };
    },
    addFile: async (access: { packageId: string }, request: { name: string; partSize: number }) => {
      calls.push(`add file ${request.name} to ${access.packageId}`);
      if (fakes.addFileFails) throw fakes.addFileFails;
      addedFiles.push(request);
      return { fileId: `F-${request.name}`, createBlueprint };
    },
    createUpload: async () => {
      calls.push('create upload');
      return `U${++uploads}`;
    },
    deletePackage: async (access: { packageId: string }) => {
      calls.push(`delete ${access.packageId}`);
      if (fakes.deleteFails) throw new MasvServerError('MASV DELETE answered 500.');
    },
  } as unknown as MasvClient;

  const s3 = new S3Client({ region: 'us-east-1' });
  const source = mockClient(s3);
  const objects = fakes.objects ?? { 'in/a.mov': { size: 10, etag: 'ea' } };
  source.on(HeadObjectCommand).callsFake((input: { Key: string }) => {
    const object = objects[input.Key];
    if (!object)
      throw Object.assign(new Error('NotFound'), { name: 'NotFound', $metadata: { httpStatusCode: 404 } });
    return { ContentLength: object.size, ETag: `"${object.etag}"`, LastModified: NOW };
  });
  source.on(ListObjectsV2Command).resolves({ Contents: (fakes.listed ?? []).map((Key) => ({ Key })) });

  const deps = stepDeps({
    masv,
    stateBucket,
    s3,
    target: fakes.target,
    config: fakes.partsPerBatch ? { transfer: { partsPerBatch: fakes.partsPerBatch } } : {},
    now: () => NOW,
  });
  return { deps, calls, requests, addedFiles, source, generations };
}

const filesRequest = (...keys: string[]): DeliveryRequest & { deliveryId: string } => ({
  deliveryId: 'd1',
  files: keys.map((key) => ({ bucket: 'src', key })),
});

const packageCalls = (calls: string[]) => calls.filter((c) => /^(create|add|delete|intent)/.test(c));

describe('prepare step', () => {
  it('records the create intent before creating the package, then records, adds each file and keeps the result', async () => {
    const { deps, calls } = arrange();

    await prepareDelivery(deps, filesRequest('in/a.mov'));

    expect(calls).toEqual([
      'intent 1',
      'create team package T secret-of-key',
      'claim P1',
      'save record 1',
      'add file a.mov to P1',
      'create upload',
      'save prepared 1',
    ]);
  });

  it('returns every file with its upload, and the package, with the reference of generation 1 in its description', async () => {
    const { deps, requests } = arrange();

    const prepared = await prepareDelivery(deps, filesRequest('in/a.mov'));

    expect(prepared).toEqual({
      deliveryId: 'd1',
      package: { id: 'P1', owner: 'team' },
      files: [
        {
          index: 0,
          bucket: 'src',
          key: 'in/a.mov',
          etag: 'ea',
          name: 'a.mov',
          path: '',
          size: 10,
          partSize: 100 * MiB,
          partCount: 1,
          fileId: 'F-a.mov',
          uploadId: 'U1',
        },
      ],
      batches: [{ file: 0, start: 0, count: 1 }],
    });
    expect(requests).toEqual([
      {
        name: 'a.mov',
        description: `Delivered by masv-relay from s3://src/in/a.mov\n\n${deliveryReference('d1', 1)}`,
        recipients: ['a@example.com'],
        password: undefined,
        accessLimit: undefined,
        unlimitedStorage: undefined,
        partSize: 100 * MiB,
      },
    ]);
  });

  it("lists the plan's batches in the output, file by file", async () => {
    const { deps, addedFiles } = arrange({
      objects: { 'in/big.mov': { size: 250 * MiB, etag: 'eb' }, 'in/small.txt': { size: 3, etag: 'es' } },
      partsPerBatch: 2,
    });

    const prepared = await prepareDelivery(deps, filesRequest('in/big.mov', 'in/small.txt'));

    // 250 MiB in 100 MiB parts is 3 parts: a batch of 2, then 1; the small file is one part.
    expect(prepared.batches).toEqual([
      { file: 0, start: 0, count: 2 },
      { file: 0, start: 2, count: 1 },
      { file: 1, start: 0, count: 1 },
    ]);
    expect(prepared.files.map((f) => [f.name, f.partSize, f.partCount, f.uploadId])).toEqual([
      ['big.mov', 100 * MiB, 3, 'U1'],
      ['small.txt', 100 * MiB, 1, 'U2'],
    ]);
    expect(addedFiles.map((f) => [f.name, f.size, f.partSize])).toEqual([
      ['big.mov', 250 * MiB, 100 * MiB],
      ['small.txt', 3, 100 * MiB],
    ]);
  });

  it('verifies parts with Content-MD5 when the create blueprint names SSE-KMS', async () => {
    const { deps } = arrange({ createBlueprintHeaders: { 'x-amz-server-side-encryption': 'aws:kms' } });

    const prepared = await prepareDelivery(deps, filesRequest('in/a.mov'));

    expect(prepared.files[0]!.partCheck).toBe('content-md5');
  });

  it("returns a finished generation's result unchanged on a repeat, creating no second package", async () => {
    const { deps, calls } = arrange();
    const first = await prepareDelivery(deps, filesRequest('in/a.mov'));
    calls.length = 0;

    const again = await prepareDelivery(deps, filesRequest('in/a.mov'));

    expect(again).toEqual(first);
    expect(calls).toEqual([]);
  });

  it('deletes the packages of earlier, unfinished generations and creates the next generation', async () => {
    const earlier = (generation: number): PackageGeneration => ({
      generation,
      intent: { startedAt: NOW.toISOString(), name: 'a.mov', description: 'd' },
      record: { packageId: `P-old${generation}`, owner: 'team', token: 'old' },
    });
    const { deps, calls, requests } = arrange({ generations: [earlier(1), earlier(2)] });

    const prepared = await prepareDelivery(deps, filesRequest('in/a.mov'));

    expect(calls).toEqual([
      'delete P-old1',
      'delete P-old2',
      'intent 3',
      'create team package T secret-of-key',
      'claim P1',
      'save record 3',
      'add file a.mov to P1',
      'create upload',
      'save prepared 3',
    ]);
    expect(prepared.package).toEqual({ id: 'P1', owner: 'team' });
    expect(requests[0]!.description).toBe(
      `Delivered by masv-relay from s3://src/in/a.mov\n\n${deliveryReference('d1', 3)}`,
    );
  });

  it('deletes the package and rethrows when adding a file is refused', async () => {
    const refused = new MasvValidationError('MASV refused the file (422).');
    const { deps, calls, generations } = arrange({ addFileFails: refused });

    await expect(prepareDelivery(deps, filesRequest('in/a.mov'))).rejects.toBe(refused);

    expect(packageCalls(calls)).toEqual([
      'intent 1',
      'create team package T secret-of-key',
      'add file a.mov to P1',
      'delete P1',
    ]);
    expect(generations.get(1)!.prepared).toBeUndefined();
  });

  it('deletes the package too when the answer to add-file was lost: the whole package goes, not one file', async () => {
    const lost = new MasvOutcomeUnknownError('The answer to add file was lost.');
    const { deps, calls } = arrange({ addFileFails: lost });

    await expect(prepareDelivery(deps, filesRequest('in/a.mov'))).rejects.toBe(lost);

    expect(calls.at(-1)).toBe('delete P1');
  });

  it("rethrows add-file's error, not the delete's, when the package cannot be deleted either", async () => {
    const refused = new MasvValidationError('MASV refused the file (422).');
    const { deps, calls, generations } = arrange({ addFileFails: refused, deleteFails: true });

    await expect(prepareDelivery(deps, filesRequest('in/a.mov'))).rejects.toBe(refused);

    expect(calls.at(-1)).toBe('delete P1');
    // The record stays, so the next attempt (or Abort) deletes the package.
    expect(generations.get(1)!.record).toEqual({ packageId: 'P1', owner: 'team', token: 'token-1' });
  });

  it('gives way to a later generation that began meanwhile: its own package is deleted, nothing kept', async () => {
    const { deps, calls } = arrange({ overtakenBy: 2 });

    await expect(prepareDelivery(deps, filesRequest('in/a.mov'))).rejects.toBeInstanceOf(
      PackageRecordConflictError,
    );

    expect(calls.slice(-2)).toEqual(['create upload', 'delete P1']);
    expect(calls).not.toContain('save prepared 1');
  });

  it('keeps the package when keeping the result fails: a retry returns that result with its package', async () => {
    const lost = new NetworkError("The relay's state bucket relay-state failed transiently: InternalError.");
    const { deps, calls, generations } = arrange({ savePreparedFails: lost });

    await expect(prepareDelivery(deps, filesRequest('in/a.mov'))).rejects.toBe(lost);
    const again = await prepareDelivery(deps, filesRequest('in/a.mov'));

    expect(packageCalls(calls)).toEqual([
      'intent 1',
      'create team package T secret-of-key',
      'add file a.mov to P1',
      'create upload',
    ]);
    expect(generations.get(1)!.record).toEqual({ packageId: 'P1', owner: 'team', token: 'token-1' });
    expect(again.package).toEqual({ id: 'P1', owner: 'team' });
  });

  it('refuses a prefix holding only folder markers with DeliveryRequestError, creating nothing', async () => {
    const { deps, calls, source } = arrange({ listed: ['in/', 'in/_MASV_READY'] });

    await expect(
      prepareDelivery(deps, { deliveryId: 'd1', prefix: { bucket: 'src', prefix: 'in/' } }),
    ).rejects.toThrow(
      new DeliveryRequestError('s3://src/in/ holds no objects to deliver (folder markers are skipped).'),
    );

    expect(calls).toEqual([]);
    expect(source.commandCalls(HeadObjectCommand)).toEqual([]);
  });

  it('refuses a prefix of 251 objects with DeliveryRequestError, creating nothing', async () => {
    const listed = Array.from({ length: 251 }, (_, i) => `in/${String(i).padStart(3, '0')}.mov`);
    const { deps, calls } = arrange({ listed });

    const refused = prepareDelivery(deps, { deliveryId: 'd1', prefix: { bucket: 'src', prefix: 'in/' } });

    await expect(refused).rejects.toBeInstanceOf(DeliveryRequestError);
    await expect(refused).rejects.toThrow(/holds 251 objects; one package takes at most 250/);
    expect(calls).toEqual([]);
  });

  it('creates a Portal package with the configured sender and no reference in its description', async () => {
    const { deps, calls, requests } = arrange({ target: 'portal' });

    const prepared = await prepareDelivery(deps, filesRequest('in/a.mov'));

    expect(packageCalls(calls)).toEqual([
      'intent 1',
      'create portal package portal-1',
      'add file a.mov to P1',
      'create upload',
    ]);
    expect(requests).toEqual([
      {
        name: 'a.mov',
        description: 'Delivered by masv-relay from s3://src/in/a.mov',
        sender: 'relay@example.com',
        formDataId: undefined,
        partSize: 100 * MiB,
        accessCode: undefined,
      },
    ]);
    expect(prepared.package).toEqual({ id: 'P1', owner: 'portal' });
  });
});
