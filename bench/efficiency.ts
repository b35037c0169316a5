import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { MasvClient } from '../functions/core/masv/client.js';
import { partRange } from '../functions/core/part-plan.js';
import { runPool } from '../functions/core/pool.js';
import { openRange } from '../functions/core/s3-source.js';
import { uploadRandomObject } from '../local/demo-upload.js';
import { LocalRelay, SOURCE_BUCKET } from '../local/relay.js';
import { median, spawnServers, storedSha256 } from './lib.js';

export interface EfficiencyOptions {
  sizeMiB: number;
  partSizeMiB: number;
  /** Parts in flight, the same for the relay (Map batches × parts per Lambda) and the baseline. */
  inFlight: number;
  repeats: number;
}

/**
 * P1: the relay through the real workflow vs. a raw pipe over the same servers. Both use the same
 * s3rver source object, the same emulator storage, the same part size and the same number of
 * parts in flight; the raw pipe has no workflow, no ledger and no hashing of its own.
 */
export async function benchEfficiency(options: EfficiencyOptions) {
  const parts = Math.ceil(options.sizeMiB / options.partSizeMiB);
  const servers = await spawnServers();
  const relay = await LocalRelay.start({
    // The 1 s `Take Turn` pause is ~3 % of a 20-part batch on AWS but a large share of these short
    // local invocations: scale the workflow's waits (structure unchanged) to measure the relay itself.
    waitScale: 0.001,
    emulator: false,
    s3Endpoint: servers.ready.s3Endpoint,
    masv: { url: servers.ready.masvUrl, apiKey: servers.ready.apiKey, teamId: servers.ready.teamId },
    config: {
      transfer: {
        partSizeMiB: options.partSizeMiB,
        mapConcurrency: options.inFlight,
        partConcurrency: 1,
        partsPerBatch: Math.ceil(parts / options.inFlight),
      },
    },
  });
  try {
    const key = `bench/efficiency-${options.sizeMiB}MiB.bin`;
    const uploaded = await uploadRandomObject(relay.sourceClient, SOURCE_BUCKET, key, options.sizeMiB);
    const head = await relay.sourceClient.send(new HeadObjectCommand({ Bucket: SOURCE_BUCKET, Key: key }));
    const etag = (head.ETag ?? '').replace(/"/g, '');
    const size = uploaded.size;
    const masv = new MasvClient({ baseUrl: relay.masvUrl });
    const { apiKey, teamId } = servers.ready;

    const relaySeconds: number[] = [];
    const rawSeconds: number[] = [];
    const sourceSeconds: number[] = [];
    let verified = true;
    for (let run = 0; run < options.repeats; run++) {
      // Relay: trigger → Prepare → Transfer → Finalize, as a user would see it.
      const started = process.hrtime.bigint();
      const summary = (await relay.trigger(relay.objectCreatedEvent(key, etag, size, `bench${run}`))) as {
        started: string[];
      };
      const delivery = relay.deliveries.get(summary.started[0]!)!;
      const outcome = await delivery.result;
      relaySeconds.push(Number(process.hrtime.bigint() - started) / 1e9);
      if (outcome.status !== 'SUCCEEDED')
        throw new Error(`bench delivery failed: ${outcome.error}: ${outcome.cause}`);
      const stored = await storedSha256(servers.ready.masvUrl, delivery.prepared!.files[0]!.fileId);
      verified &&= stored === uploaded.sha256;

      // Raw baseline: the same ranged GETs piped straight into the same storage PUTs.
      const pkg = await masv.createTeamPackage(teamId, apiKey, {
        name: 'raw',
        description: 'raw baseline',
        recipients: ['b@example.com'],
      });
      const access = { packageId: pkg.id, token: pkg.token };
      const partSize = delivery.prepared!.files[0]!.partSize;
      const file = await masv.addFile(access, {
        kind: 'file',
        name: 'raw.bin',
        path: '',
        lastModified: new Date(),
        size,
        partSize,
      });
      const uploadId = await masv.createUpload(file.createBlueprint!);
      const blueprints = await masv.getPartBlueprints(access, file.fileId, uploadId, 0, parts);
      const pinned = { bucket: SOURCE_BUCKET, key, etag };
      const rawStarted = process.hrtime.bigint();
      await runPool([...blueprints.keys()], options.inFlight, async (i) => {
        const range = partRange(i + 1, partSize, size);
        const body = await openRange(relay.sourceClient, pinned, range.first, range.last);
        await masv.uploadPart(blueprints[i]!, { stream: body, contentLength: range.length });
      });
      rawSeconds.push(Number(process.hrtime.bigint() - rawStarted) / 1e9);
      await masv.deletePackage(access);

      // The source alone: the same ranged GETs, bytes discarded.
      const sourceStarted = process.hrtime.bigint();
      await runPool([...Array(parts).keys()], options.inFlight, async (i) => {
        const range = partRange(i + 1, partSize, size);
        for await (const _chunk of await openRange(relay.sourceClient, pinned, range.first, range.last)) {
          // discard
        }
      });
      sourceSeconds.push(Number(process.hrtime.bigint() - sourceStarted) / 1e9);
    }
    const mibps = (seconds: number[]) => seconds.map((s) => options.sizeMiB / s);
    const relayMiBps = mibps(relaySeconds);
    const rawMiBps = mibps(rawSeconds);
    return {
      sizeMiB: options.sizeMiB,
      partSizeMiB: options.partSizeMiB,
      inFlight: options.inFlight,
      relayMiBps: median(relayMiBps),
      rawMiBps: median(rawMiBps),
      ratio: median(relayMiBps) / median(rawMiBps),
      relayRuns: relayMiBps,
      rawRuns: rawMiBps,
      sourceGetMiBps: median(mibps(sourceSeconds)),
      verified,
    };
  } finally {
    await relay.close();
    servers.child.kill('SIGTERM');
  }
}
