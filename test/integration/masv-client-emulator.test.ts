import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  MasvAuthError,
  MasvOutcomeUnknownError,
  MasvServerError,
  MasvThrottledError,
  NetworkError,
  PartUrlExpiredError,
} from '../../functions/core/errors.js';
import { MasvClient } from '../../functions/core/masv/client.js';
import type { RetryClock } from '../../functions/core/retry.js';
import { type RunningEmulator, startEmulator } from '../../local/emulator/server.js';
import { KiB, sha256 } from '../helpers/bytes.js';
import { beginFileUpload, newTeamPackage } from '../helpers/emulator-uploads.js';

let masv: RunningEmulator;
const sleeps: number[] = [];
const clock: RetryClock = { sleep: async (ms) => void sleeps.push(ms), random: () => 0.5 };
let client: MasvClient;

beforeAll(async () => {
  masv = await startEmulator({ port: 0, spec: { min_chunk_size: 4 * KiB, max_chunk_size: 1024 * KiB } });
  client = new MasvClient({
    baseUrl: masv.url,
    retry: { clock, policy: { maxAttempts: 4, baseDelayMs: 10, maxDelayMs: 5000 } },
  });
});
afterAll(() => masv.close());
afterEach(() => {
  masv.faults.clear();
  sleeps.length = 0;
});

const bodyOf = (data: Buffer) => ({ stream: Readable.from([data]), contentLength: data.length });

describe('MasvClient against the emulator', () => {
  it('delivers a multi-part file byte-exact through the whole upload API', async () => {
    const access = await newTeamPackage(client, masv);
    const data = Buffer.from(Array.from({ length: 9 * KiB + 5 }, (_, i) => (i * 31) % 256));
    const { fileId, uploadId } = await beginFileUpload(client, access, data.length);
    const blueprints = await client.getPartBlueprints(access, fileId, uploadId, 0, 3);
    const parts = [];
    for (const [i, bp] of blueprints.entries()) {
      const etag = await client.uploadPart(bp, bodyOf(data.subarray(i * 4 * KiB, (i + 1) * 4 * KiB)));
      parts.push({ partNumber: i + 1, etag });
    }
    await client.finalizeFile(access, fileId, { uploadId, size: data.length, partSize: 4 * KiB, parts });
    await client.finalizePackage(access);
    expect(masv.inspect.package(access.packageId)?.state).toBe('finalized');
    await expect(masv.inspect.fileSha256(fileId)).resolves.toBe(sha256(data));
  });

  it('rides out a burst of API 5xx with retries on a repeatable route', async () => {
    const access = await newTeamPackage(client, masv);
    const { fileId, uploadId } = await beginFileUpload(client, access, 8 * KiB);
    masv.faults.add({
      target: 'route:POST /v1/packages/{package_id}/files/{file_id}',
      kind: 'status',
      status: 503,
      times: 2,
    });
    await expect(client.getPartBlueprints(access, fileId, uploadId, 0, 2)).resolves.toHaveLength(2);
    expect(sleeps).toHaveLength(2);
  });

  it('never repeats add file after a 5xx that may hide a commit: MasvOutcomeUnknownError instead', async () => {
    const access = await newTeamPackage(client, masv);
    const addFileCalls = () => masv.inspect.counters().apiCalls['POST /v1/packages/{package_id}/files'] ?? 0;
    const before = addFileCalls();
    masv.faults.add({
      target: 'route:POST /v1/packages/{package_id}/files',
      kind: 'status',
      status: 503,
      times: 1,
    });
    const error = await beginFileUpload(client, access, 4 * KiB).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MasvOutcomeUnknownError);
    expect((error as Error).message).toMatch(/may have been carried out.*reconciles/);
    expect(sleeps).toEqual([]);
    expect(addFileCalls()).toBe(before + 1);
  });

  it('repeats add file after a 429: MASV refused it before doing anything', async () => {
    const access = await newTeamPackage(client, masv);
    masv.faults.add({
      target: 'route:POST /v1/packages/{package_id}/files',
      kind: 'status',
      status: 429,
      times: 1,
    });
    await expect(beginFileUpload(client, access, 4 * KiB)).resolves.toMatchObject({
      fileId: expect.any(String),
    });
    expect(sleeps).toHaveLength(1);
    expect(masv.inspect.package(access.packageId)?.files).toHaveLength(1);
  });

  it('fails with MasvServerError once the 5xx burst outlasts the attempt cap', async () => {
    const access = await newTeamPackage(client, masv);
    masv.faults.add({ target: 'api', kind: 'status', status: 500, times: 10 });
    await expect(client.listFiles(access)).rejects.toBeInstanceOf(MasvServerError);
  });

  it('honours Retry-After on 429', async () => {
    masv.faults.add({ target: 'api', kind: 'status', status: 429, retryAfter: '3', times: 1 });
    const access = await newTeamPackage(client, masv);
    expect(masv.inspect.package(access.packageId)?.state).toBe('new');
    expect(sleeps).toEqual([3000]);
  });

  it('retries an API connection reset', async () => {
    const access = await newTeamPackage(client, masv);
    masv.faults.add({ target: 'api', kind: 'reset', times: 1 });
    await expect(client.listFiles(access)).resolves.toEqual([]);
  });

  it('surfaces a storage reset mid-body as a retryable NetworkError; the part can be sent again', async () => {
    const access = await newTeamPackage(client, masv);
    const { fileId, uploadId } = await beginFileUpload(client, access, 64 * KiB, 64 * KiB);
    const [bp] = await client.getPartBlueprints(access, fileId, uploadId, 0, 1);
    masv.faults.add({ target: 'storage-part', kind: 'reset', afterBytes: 16 * KiB, times: 1 });
    const data = Buffer.alloc(64 * KiB, 5);
    await expect(client.uploadPart(bp!, bodyOf(data))).rejects.toBeInstanceOf(NetworkError);
    const etag = await client.uploadPart(bp!, bodyOf(data));
    await client.finalizeFile(access, fileId, {
      uploadId,
      size: data.length,
      partSize: 64 * KiB,
      parts: [{ partNumber: 1, etag }],
    });
    await expect(masv.inspect.fileSha256(fileId)).resolves.toBe(sha256(data));
  });

  it('reports 503 SlowDown from storage as MasvThrottledError', async () => {
    const access = await newTeamPackage(client, masv);
    const { fileId, uploadId } = await beginFileUpload(client, access, 4 * KiB);
    const [bp] = await client.getPartBlueprints(access, fileId, uploadId, 0, 1);
    masv.faults.add({ target: 'storage-part', kind: 'status', status: 503, times: 1 });
    await expect(client.uploadPart(bp!, bodyOf(Buffer.alloc(4 * KiB)))).rejects.toThrow(MasvThrottledError);
  });

  it('reports an expired part URL as PartUrlExpiredError; a fresh blueprint works', async () => {
    const access = await newTeamPackage(client, masv);
    const { fileId, uploadId } = await beginFileUpload(client, access, 4 * KiB);
    const [bp] = await client.getPartBlueprints(access, fileId, uploadId, 0, 1);
    masv.faults.add({ target: 'storage-part', kind: 'expire-url', times: 1 });
    await expect(client.uploadPart(bp!, bodyOf(Buffer.alloc(4 * KiB)))).rejects.toThrow(PartUrlExpiredError);
    const [fresh] = await client.getPartBlueprints(access, fileId, uploadId, 0, 1);
    await expect(client.uploadPart(fresh!, bodyOf(Buffer.alloc(4 * KiB)))).resolves.toMatch(
      /^"[0-9a-f]{32}"$/,
    );
  });

  it('refreshes an expired package token through the team route', async () => {
    const access = await newTeamPackage(client, masv);
    const before = access.token;
    masv.faults.add({ target: 'api', kind: 'expire-token', times: 1 });
    await expect(client.listFiles(access)).resolves.toEqual([]);
    expect(access.token).not.toBe(before);
  });

  it('fails with MasvAuthError on an expired token when it cannot refresh', async () => {
    const access = await newTeamPackage(client, masv);
    masv.faults.add({ target: 'api', kind: 'expire-token', times: 1 });
    await expect(client.listFiles({ packageId: access.packageId, token: access.token })).rejects.toThrow(
      MasvAuthError,
    );
  });

  it('waits out added latency', async () => {
    const access = await newTeamPackage(client, masv);
    masv.faults.add({ target: 'api', kind: 'latency', latencyMs: 150, times: 1 });
    const started = Date.now();
    await client.listFiles(access);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('applies probabilistic faults deterministically for a seed', async () => {
    const outcomes = async () => {
      masv.faults.clear();
      masv.faults.seed(42);
      masv.faults.add({
        target: 'route:GET /v1/system/packages/spec',
        kind: 'status',
        status: 500,
        probability: 0.5,
      });
      const seen: number[] = [];
      for (let i = 0; i < 12; i++) {
        const res = await fetch(`${masv.url}/v1/system/packages/spec`);
        seen.push(res.status);
      }
      return seen;
    };
    const first = await outcomes();
    expect(first).toContain(500);
    expect(first).toContain(200);
    expect(await outcomes()).toEqual(first);
  });

  it('creates a portal package with an access code', async () => {
    const pkg = await client.createPortalPackage(masv.accounts.protectedPortalId, {
      name: 'n',
      description: 'd',
      sender: 's@example.com',
      accessCode: masv.accounts.accessCode,
    });
    expect(masv.inspect.package(pkg.id)?.owner).toEqual({
      kind: 'portal',
      portalId: masv.accounts.protectedPortalId,
    });
  });

  it('counts API calls, parts, retries and peak concurrency', async () => {
    masv.inspect.resetCounters();
    const access = await newTeamPackage(client, masv);
    const { fileId, uploadId } = await beginFileUpload(client, access, 16 * KiB);
    const bps = await client.getPartBlueprints(access, fileId, uploadId, 0, 4);
    await Promise.all(bps.map((bp) => client.uploadPart(bp, bodyOf(Buffer.alloc(4 * KiB)))));
    await client.uploadPart(bps[0]!, bodyOf(Buffer.alloc(4 * KiB)));
    const c = masv.inspect.counters();
    expect(c.partsStored).toBe(4);
    expect(c.partRetries).toBe(1);
    expect(c.peakConcurrentPartUploads).toBeGreaterThanOrEqual(2);
    expect(c.apiCalls['POST /v1/packages/{package_id}/files']).toBe(1);
  });
});
