import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { partRange } from '../functions/core/delivery/part-plan.js';
import { MasvClient } from '../functions/core/masv/client.js';
import { runPool } from '../functions/core/pool.js';
import { openRange } from '../functions/core/source/s3-source.js';
import { uploadRandomObject } from '../local/cli/demo-upload.js';
import { LocalRelay, SOURCE_BUCKET } from '../local/workflow/relay.js';
import { median, spawnServers, storedSha256 } from './lib.js';

export interface EfficiencyOptions {
  sizeMiB: number;
  partSizeMiB: number;
  /** Parts in flight, the same for the relay (Map batches × parts per Lambda) and the baseline. */
  inFlight: number;
  repeats: number;
}

type Servers = Awaited<ReturnType<typeof spawnServers>>['ready'];

/** The source object every run delivers, pinned to its ETag as the relay pins it. */
interface BenchObject {
  key: string;
  etag: string;
  size: number;
  sha256: string;
  parts: number;
}

/**
 * P1: the relay through the real workflow vs. a raw pipe over the same servers. Both use the same
 * s3rver source object, the same emulator storage, the same part size and the same number of
 * parts in flight; the raw pipe has no workflow, no ledger and no hashing of its own.
 */
export async function benchEfficiency(options: EfficiencyOptions) {
  const parts = Math.ceil(options.sizeMiB / options.partSizeMiB);
  const servers = await spawnServers();
  const relay = await startBenchRelay(options, servers.ready, parts);
  try {
    const key = `bench/efficiency-${options.sizeMiB}MiB.bin`;
    const uploaded = await uploadRandomObject(relay.sourceClient, SOURCE_BUCKET, key, options.sizeMiB);
    const head = await relay.sourceClient.send(new HeadObjectCommand({ Bucket: SOURCE_BUCKET, Key: key }));
    const etag = (head.ETag ?? '').replace(/"/g, '');
    const object: BenchObject = { key, etag, size: uploaded.size, sha256: uploaded.sha256, parts };
    const masv = new MasvClient({ baseUrl: relay.masvUrl });

    const relaySeconds: number[] = [];
    const rawSeconds: number[] = [];
    const sourceSeconds: number[] = [];
    let verified = true;
    for (let run = 0; run < options.repeats; run++) {
      const delivered = await timeRelayDelivery(relay, servers.ready, object, run);
      relaySeconds.push(delivered.seconds);
      verified &&= delivered.verified;
      rawSeconds.push(await timeRawPipe(relay, masv, servers.ready, object, delivered.partSize, options));
      sourceSeconds.push(await timeSourceReads(relay, object, delivered.partSize, options));
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

/** The relay on the bench's servers, with `inFlight` parts in flight (Map batches × one part each). */
function startBenchRelay(options: EfficiencyOptions, servers: Servers, parts: number) {
  return LocalRelay.start({
    // The 1 s `Take Turn` pause is ~3 % of a 20-part batch on AWS but a large share of these short
    // local invocations: scale the workflow's waits (structure unchanged) to measure the relay itself.
    waitScale: 0.001,
    emulator: false,
    s3Endpoint: servers.s3Endpoint,
    masv: { url: servers.masvUrl, apiKey: servers.apiKey, teamId: servers.teamId },
    config: {
      transfer: {
        partSizeMiB: options.partSizeMiB,
        mapConcurrency: options.inFlight,
        partConcurrency: 1,
        partsPerBatch: Math.ceil(parts / options.inFlight),
      },
    },
  });
}

/** Relay: trigger → Prepare → Transfer → Finalize, as a user would see it; the stored bytes checked. */
async function timeRelayDelivery(relay: LocalRelay, servers: Servers, object: BenchObject, run: number) {
  const started = process.hrtime.bigint();
  const summary = (await relay.trigger(
    relay.objectCreatedEvent(object.key, object.etag, object.size, `bench${run}`),
  )) as { started: string[] };
  const delivery = relay.deliveries.get(summary.started[0]!)!;
  const outcome = await delivery.result;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (outcome.status !== 'SUCCEEDED')
    throw new Error(`bench delivery failed: ${outcome.error}: ${outcome.cause}`);
  const file = delivery.prepared!.files[0]!;
  const stored = await storedSha256(servers.masvUrl, file.fileId);
  return { seconds, verified: stored === object.sha256, partSize: file.partSize };
}

/** Raw baseline: the same ranged GETs piped straight into the same storage PUTs. */
async function timeRawPipe(
  relay: LocalRelay,
  masv: MasvClient,
  servers: Servers,
  object: BenchObject,
  partSize: number,
  options: EfficiencyOptions,
) {
  const pkg = await masv.createTeamPackage(servers.teamId, servers.apiKey, {
    name: 'raw',
    description: 'raw baseline',
    recipients: ['b@example.com'],
  });
  const access = { packageId: pkg.id, token: pkg.token };
  const file = await masv.addFile(access, {
    kind: 'file',
    name: 'raw.bin',
    path: '',
    lastModified: new Date(),
    size: object.size,
    partSize,
  });
  const uploadId = await masv.createUpload(file.createBlueprint!);
  const blueprints = await masv.getPartBlueprints(access, file.fileId, uploadId, 0, object.parts);
  const started = process.hrtime.bigint();
  await runPool([...blueprints.keys()], options.inFlight, async (i) => {
    const range = partRange(i + 1, partSize, object.size);
    const body = await openRange(relay.sourceClient, pinned(object), range.first, range.last);
    await masv.uploadPart(blueprints[i]!, { stream: body, contentLength: range.length });
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await masv.deletePackage(access);
  return seconds;
}

/** The source alone: the same ranged GETs, bytes discarded. */
async function timeSourceReads(
  relay: LocalRelay,
  object: BenchObject,
  partSize: number,
  options: EfficiencyOptions,
) {
  const started = process.hrtime.bigint();
  await runPool([...Array(object.parts).keys()], options.inFlight, async (i) => {
    const range = partRange(i + 1, partSize, object.size);
    for await (const _chunk of await openRange(relay.sourceClient, pinned(object), range.first, range.last)) {
      // discard
    }
  });
  return Number(process.hrtime.bigint() - started) / 1e9;
}

function pinned(object: BenchObject) {
  return { bucket: SOURCE_BUCKET, key: object.key, etag: object.etag };
}
