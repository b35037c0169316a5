import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { planParts } from '../../functions/core/delivery/part-plan.js';
import type { MasvClient } from '../../functions/core/masv/client.js';
import type { StateBucket } from '../../functions/core/state/state-bucket.js';
import { transferBatch } from '../../functions/core/steps/transfer.js';
import { stepDeps } from '../helpers/step-deps.js';

/**
 * Regression test from the review (issue 11: "the largest delivery proven"). The transfer step used
 * to start another part while `remainingMs() > partSize / 20 MB/s + 30 s`, as if each part had
 * 20 MB/s to itself, though `partConcurrency` parts share one Lambda's bandwidth. At the planner's
 * rate (40 MB/s per Lambda, PLANNING_BYTES_PER_SECOND) and partConcurrency 4, a part of a 48 TiB
 * file (~5 GiB, 10,000 parts) took ~530 s while the rule let one start with only ~296 s left: the
 * invocation ran past Lambda's 900 s and was killed (Sandbox.Timedout), its in-flight parts lost,
 * and every retry did the same until the Map failed → Abort. Now a part starts only if the bytes in
 * flight plus its own can move before the deadline; this test holds the step to that.
 *
 * Time is scaled: 1 simulated second = 1 real millisecond. Storage is modelled as one pipe of
 * 40 MB/s shared by the parts in flight (what one Lambda's network gives); bytes are not really sent.
 */
const SCALE_MS_PER_S = 1;
const LAMBDA_SECONDS = 900;
const LAMBDA_BYTES_PER_SECOND = 40_000_000;
const GiB = 1024 ** 3;
const TiB = 1024 * GiB;
const spec = { maxPartCount: 10_000, maxPartSize: 5 * GiB, minPartSize: 5 * 1024 * 1024 };

describe('a transfer invocation of a 48 TiB file stays inside the Lambda deadline', () => {
  it('starts no part it cannot finish before the 900 s deadline (at the planner’s 40 MB/s)', async () => {
    const size = 48 * TiB;
    const plan = planParts(size, spec);
    const partSize = plan.partSize;
    expect(partSize).toBeGreaterThan(4 * GiB);

    const s3 = new S3Client({ region: 'us-east-1' });
    const mock = mockClient(s3);
    mock.on(GetObjectCommand).callsFake((input: { Range: string }) => {
      const [, a, b] = /bytes=(\d+)-(\d+)/.exec(input.Range)!;
      return { ContentLength: Number(b) - Number(a) + 1, Body: Readable.from([Buffer.from('x')]) };
    });

    const started = Date.now();
    const simulatedSeconds = () => (Date.now() - started) / SCALE_MS_PER_S;
    let inFlight = 0;
    const finishedAt: number[] = [];
    const masv = {
      getPartBlueprints: async (_a: unknown, _f: string, _u: string, first: number, count: number) =>
        Array.from({ length: count }, (_, i) => ({
          url: `https://storage.example/p?partNumber=${first + i + 1}&X-Amz-SignedHeaders=host`,
          method: 'PUT',
          headers: {},
        })),
      uploadPart: async (_bp: unknown, body: { stream: Readable; contentLength: number }) => {
        const hash = createHash('md5');
        for await (const chunk of body.stream) hash.update(chunk as Buffer);
        inFlight++;
        // Move contentLength bytes through a pipe shared with the other parts in flight.
        let left = body.contentLength;
        while (left > 0) {
          await sleep(5);
          left -= (LAMBDA_BYTES_PER_SECOND / inFlight) * (5 / 1000) * (1000 / SCALE_MS_PER_S);
        }
        inFlight--;
        finishedAt.push(simulatedSeconds());
        return `"${hash.digest('hex')}"`;
      },
    };
    const deps = stepDeps({
      masv: masv as unknown as MasvClient,
      s3,
      stateBucket: {
        requirePackage: async () => ({ packageId: 'p', token: 't', owner: 'team' }),
        listPartsInWindow: async () => new Set<number>(),
        recordPart: async () => undefined,
      } as unknown as StateBucket,
      clock: { sleep: async () => undefined, random: () => 0 },
    });
    const partConcurrency = deps.config.transfer.partConcurrency;
    expect(partConcurrency).toBe(4);

    await transferBatch(
      deps,
      {
        deliveryId: 'd',
        packageId: 'p',
        file: {
          index: 0,
          bucket: 'b',
          key: 'k',
          etag: 'e',
          name: 'k',
          path: '',
          size,
          partSize,
          partCount: plan.partCount,
          fileId: 'f',
          uploadId: 'u',
        },
        batch: { file: 0, start: 0, count: 40 },
      } as never,
      {
        partConcurrency,
        remainingMs: () => (LAMBDA_SECONDS - simulatedSeconds()) * 1000,
      },
    );
    // The first partConcurrency parts fit at the start (4 × ~132 s + 30 s < 900 s); how many more
    // start later depends on the rate measured by then.
    expect(finishedAt.length).toBeGreaterThanOrEqual(partConcurrency);
    const last = Math.max(...finishedAt);
    expect(
      last,
      `parts finished at ${finishedAt.map((t) => t.toFixed(0)).join(', ')} s; Lambda ends the invocation at ${LAMBDA_SECONDS} s`,
    ).toBeLessThanOrEqual(LAMBDA_SECONDS);
  }, 30_000);
});
