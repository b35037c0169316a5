import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import type { BatchItem, DeliveryFile } from '../../functions/core/delivery/request.js';
import {
  PackageRecordConflictError,
  PartIntegrityError,
  PartUrlExpiredError,
} from '../../functions/core/errors.js';
import type { MasvClient } from '../../functions/core/masv/client.js';
import type { Blueprint, UploadedPart } from '../../functions/core/masv/types.js';
import { StateBucket } from '../../functions/core/state/state-bucket.js';
import { transferBatch } from '../../functions/core/steps/transfer.js';
import { md5 } from '../helpers/bytes.js';
import { stepDeps } from '../helpers/step-deps.js';

/**
 * The transfer step with injected dependencies: an in-memory parts ledger and MASV, the source's
 * ranged GETs mocked over a 10-byte object sent in parts of 4 bytes (parts 1–3: 4, 4 and 2 bytes).
 */
const NOW = new Date('2025-03-04T05:06:07.000Z');
const BYTES = Buffer.from('0123456789');
const partBytes = (n: number) => BYTES.subarray((n - 1) * 4, Math.min(n * 4, BYTES.length));

const file: DeliveryFile = {
  index: 0,
  bucket: 'src',
  key: 'in/a.mov',
  etag: 'ea',
  name: 'a.mov',
  path: '',
  size: BYTES.length,
  partSize: 4,
  partCount: 3,
  fileId: 'F1',
  uploadId: 'U1',
};
const wholeFile: BatchItem = { file: 0, start: 0, count: 3 };

/** A SigV4 URL signs only `host`, so Content-MD5 may be added; a SigV2 URL signs Content-MD5 itself. */
const sigV4 = (part: number, round = 1) =>
  `https://storage.example/a?partNumber=${part}&round=${round}&X-Amz-SignedHeaders=host`;
const sigV2 = (part: number) => `https://storage.example/a?partNumber=${part}&AWSAccessKeyId=K&Signature=S`;

interface Fakes {
  /** Part numbers already in the ledger. */
  finished?: number[];
  /** What storage answers for a PUT (default: the quoted MD5 of the bytes received). */
  storage?: (bytes: Buffer, blueprint: Blueprint, put: number) => string;
  url?: (part: number, round: number) => string;
}

function arrange(fakes: Fakes = {}) {
  const recorded: Array<{ deliveryId: string; file: number; part: UploadedPart; storedAt: number }> = [];
  const windows: number[][] = [];
  const stateBucket = {
    requirePackage: async (deliveryId: string, packageId?: string) => {
      expect([deliveryId, packageId]).toEqual(['d1', 'P1']);
      return { packageId: 'P1', owner: 'team', token: 't' };
    },
    listPartsInWindow: async (_id: string, fileIndex: number, first: number, last: number) => {
      windows.push([fileIndex, first, last]);
      return new Map((fakes.finished ?? []).map((n) => [n, { partNumber: n, etag: `"done-${n}"` }]));
    },
    recordPart: async (deliveryId: string, fileIndex: number, part: UploadedPart, storedAt: number) => {
      recorded.push({ deliveryId, file: fileIndex, part, storedAt });
    },
  } as unknown as StateBucket;

  const blueprintCalls: Array<[string, string, number, number]> = [];
  const puts: Array<{ url: string; headers: Record<string, string>; length: number; bytes: string }> = [];
  let round = 0;
  const masv = {
    getPartBlueprints: async (
      access: { packageId: string },
      fileId: string,
      uploadId: string,
      start: number,
      count: number,
    ) => {
      expect(access.packageId).toBe('P1');
      blueprintCalls.push([fileId, uploadId, start, count]);
      round++;
      return Array.from({ length: count }, (_, i) => ({
        url: (fakes.url ?? sigV4)(start + i + 1, round),
        method: 'PUT',
        headers: {},
        body: '',
      }));
    },
    uploadPart: async (blueprint: Blueprint, body: { stream: Readable; contentLength: number }) => {
      const chunks: Buffer[] = [];
      for await (const chunk of body.stream) chunks.push(chunk as Buffer);
      const bytes = Buffer.concat(chunks);
      puts.push({
        url: blueprint.url,
        headers: blueprint.headers,
        length: body.contentLength,
        bytes: `${bytes}`,
      });
      return (fakes.storage ?? ((received) => `"${md5(received)}"`))(bytes, blueprint, puts.length);
    },
  } as unknown as MasvClient;

  const s3 = new S3Client({ region: 'us-east-1' });
  const source = mockClient(s3);
  source.on(GetObjectCommand).callsFake((input: { Range: string }) => {
    const [, first, last] = /^bytes=(\d+)-(\d+)$/.exec(input.Range)!.map(Number);
    const bytes = BYTES.subarray(first, last! + 1);
    return { ContentLength: bytes.length, Body: Readable.from([bytes]) };
  });

  const sleeps: number[] = [];
  const deps = stepDeps({
    masv,
    stateBucket,
    s3,
    clock: {
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      random: () => 0,
    },
    now: () => NOW,
  });
  const ranges = () => source.commandCalls(GetObjectCommand).map((c) => c.args[0].input.Range);
  return { deps, recorded, windows, blueprintCalls, puts, ranges, sleeps };
}

const input = (batch: BatchItem = wholeFile) => ({ deliveryId: 'd1', packageId: 'P1', file, batch });
const options = { partConcurrency: 1, remainingMs: () => 900_000, partAttempts: 3 };

describe('transfer step', () => {
  it('uploads every part of the batch, records each and reports the bytes', async () => {
    const { deps, recorded, windows, blueprintCalls, puts } = arrange();

    const result = await transferBatch(deps, input(), options);

    expect(result).toEqual({ done: true, partsUploaded: 3, partsSkipped: 0, partRetries: 0, bytes: 10 });
    expect(windows).toEqual([[0, 1, 3]]);
    expect(blueprintCalls).toEqual([['F1', 'U1', 0, 3]]);
    expect(puts.map((p) => [p.url, p.length, p.bytes])).toEqual([
      [sigV4(1), 4, '0123'],
      [sigV4(2), 4, '4567'],
      [sigV4(3), 2, '89'],
    ]);
    expect(recorded.map((r) => [r.deliveryId, r.file, r.part.partNumber, r.storedAt])).toEqual([
      ['d1', 0, 1, NOW.getTime()],
      ['d1', 0, 2, NOW.getTime()],
      ['d1', 0, 3, NOW.getTime()],
    ]);
  });

  it('skips the parts already in the ledger: no blueprint, no read and no PUT for them', async () => {
    const { deps, recorded, blueprintCalls, puts, ranges } = arrange({ finished: [1, 3] });

    const result = await transferBatch(deps, input(), options);

    expect(result).toEqual({ done: true, partsUploaded: 1, partsSkipped: 2, partRetries: 0, bytes: 4 });
    expect(blueprintCalls).toEqual([['F1', 'U1', 1, 1]]);
    expect(ranges()).toEqual(['bytes=4-7']);
    expect(puts.map((p) => p.url)).toEqual([sigV4(2)]);
    expect(recorded.map((r) => r.part.partNumber)).toEqual([2]);
  });

  it('asks for one window of blueprints from the first to the last pending part', async () => {
    const { deps, blueprintCalls, puts } = arrange({ finished: [2] });

    await transferBatch(deps, input(), options);

    expect(blueprintCalls).toEqual([['F1', 'U1', 0, 3]]);
    expect(puts.map((p) => p.url)).toEqual([sigV4(1), sigV4(3)]);
  });

  it('calls nothing when every part of the batch is in the ledger', async () => {
    const { deps, recorded, blueprintCalls, ranges } = arrange({ finished: [1, 2, 3] });

    const result = await transferBatch(deps, input(), options);

    expect(result).toEqual({ done: true, partsUploaded: 0, partsSkipped: 3, partRetries: 0, bytes: 0 });
    expect(blueprintCalls).toEqual([]);
    expect(ranges()).toEqual([]);
    expect(recorded).toEqual([]);
  });

  it('records each part with the ETag exactly as storage answered it', async () => {
    // Storage's ETag is the MD5, but spelled its own way: quoted and upper-case.
    const { deps, recorded } = arrange({ storage: (bytes) => `"${md5(bytes).toUpperCase()}"` });

    await transferBatch(deps, input(), options);

    expect(recorded.map((r) => r.part)).toEqual([
      { partNumber: 1, etag: `"${md5(partBytes(1)).toUpperCase()}"` },
      { partNumber: 2, etag: `"${md5(partBytes(2)).toUpperCase()}"` },
      { partNumber: 3, etag: `"${md5(partBytes(3)).toUpperCase()}"` },
    ]);
  });

  it('fails with PartIntegrityError, recording nothing, when the ETag is not the MD5 of the bytes sent', async () => {
    const { deps, recorded, puts } = arrange({
      url: sigV2,
      storage: () => '"0badc0de0badc0de0badc0de0badc0de"',
    });

    await expect(transferBatch(deps, input({ file: 0, start: 0, count: 1 }), options)).rejects.toThrow(
      new PartIntegrityError(
        `Part 1 of a.mov: storage's ETag 0badc0de0badc0de0badc0de0badc0de differs from the MD5 ${md5(partBytes(1))} of the bytes sent.`,
      ),
    );

    // Retryable: each of the 3 attempts re-read and re-sent the part.
    expect(puts.map((p) => p.bytes)).toEqual(['0123', '0123', '0123']);
    expect(recorded).toEqual([]);
  });

  it('sends the part again with Content-MD5 when the ETag is not an MD5 and the URL allows the header', async () => {
    const { deps, recorded, puts } = arrange({
      storage: (_bytes, blueprint) => (blueprint.headers['content-md5'] ? '"kms-etag"' : '"opaque-etag"'),
    });

    const result = await transferBatch(deps, input({ file: 0, start: 0, count: 1 }), options);

    const expected = createHash('md5').update(partBytes(1)).digest('base64');
    expect(puts.map((p) => p.headers)).toEqual([{}, { 'content-md5': expected }]);
    expect(recorded.map((r) => r.part)).toEqual([{ partNumber: 1, etag: '"kms-etag"' }]);
    expect(result.partRetries).toBe(0);
  });

  it('asks for a fresh blueprint when storage refuses the part URL as expired (403)', async () => {
    const { deps, recorded, blueprintCalls, puts, sleeps } = arrange({
      storage: (bytes, _blueprint, put) => {
        if (put === 1) throw new PartUrlExpiredError('Storage answered 403 for the part URL.');
        return `"${md5(bytes)}"`;
      },
    });

    const result = await transferBatch(deps, input({ file: 0, start: 0, count: 1 }), options);

    expect(blueprintCalls).toEqual([
      ['F1', 'U1', 0, 1],
      ['F1', 'U1', 0, 1],
    ]);
    expect(puts.map((p) => p.url)).toEqual([sigV4(1, 1), sigV4(1, 2)]);
    expect(recorded.map((r) => r.part.partNumber)).toEqual([1]);
    expect(result).toEqual({ done: true, partsUploaded: 1, partsSkipped: 0, partRetries: 1, bytes: 4 });
    expect(sleeps).toEqual([0]);
  });

  it('stops after the first part when the next one would not fit in the time left, and says it is not done', async () => {
    const { deps, recorded } = arrange();

    const result = await transferBatch(deps, input(), { ...options, remainingMs: () => 0 });

    expect(result).toEqual({ done: false, partsUploaded: 1, partsSkipped: 0, partRetries: 0, bytes: 4 });
    expect(recorded.map((r) => r.part.partNumber)).toEqual([1]);
  });

  it("stops with PackageRecordConflictError when the state bucket's record names another package", async () => {
    const { deps, blueprintCalls, ranges } = arrange();
    // The real state bucket over a mocked S3: generation 2 of the delivery recorded package P2.
    const state = new S3Client({ region: 'us-east-1' });
    const stateS3 = mockClient(state);
    const records = ['deliveries/package/d1/0001.json', 'deliveries/package/d1/0002.json'];
    stateS3.on(ListObjectsV2Command).resolves({ Contents: records.map((Key) => ({ Key })) });
    stateS3.on(GetObjectCommand).callsFake((request: { Key: string }) => {
      const packageId = request.Key.endsWith('0002.json') ? 'P2' : 'P1';
      return {
        Body: { transformToString: async () => JSON.stringify({ packageId, owner: 'team', token: 't' }) },
      };
    });
    deps.stateBucket = new StateBucket(state, 'relay-state');

    await expect(transferBatch(deps, input(), options)).rejects.toThrow(
      new PackageRecordConflictError(
        'Delivery d1 now records package P2, not P1: this invocation belongs to an earlier Prepare and stops.',
      ),
    );

    expect(blueprintCalls).toEqual([]);
    expect(ranges()).toEqual([]);
    expect(stateS3.commandCalls(GetObjectCommand).map((c) => c.args[0].input.Key)).toEqual([
      'deliveries/package/d1/0002.json',
    ]);
  });
});
