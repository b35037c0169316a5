import { randomBytes } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { LocalRelay, type LocalRelayOptions, SOURCE_BUCKET } from '../../local/workflow/relay.js';
import { KiB, sha256 } from '../helpers/bytes.js';

const MiB = 1024 * KiB;

/** Sizes dropped in turn: empty, tiny, one part, a few parts, many parts. */
export const BURST_SIZES = [0, 1 * KiB, 700 * KiB, 3 * MiB + 5, 9 * MiB, 17 * MiB + 333, 31 * MiB];

export interface BurstOptions {
  /** Objects dropped at once, one delivery each. */
  deliveries: number;
  /** Reserved concurrency of the transfer function. */
  reservedConcurrency: number;
  /** Batches in flight per delivery (the Map's MaxConcurrency). */
  mapConcurrency?: number;
  /** Retry/Wait durations scale (0.01: the deployed seconds become centiseconds). */
  waitScale?: number;
  /** Object sizes, used in turn. */
  sizes?: number[];
  /** A relay already started (the bench reuses one for its single-delivery baseline). */
  relay?: LocalRelay;
  log?: (line: string) => void;
}

export interface BurstReport {
  deliveries: number;
  delivered: number;
  failed: number;
  duplicate: number;
  orphaned: number;
  /** Deliveries whose package bytes differ from the source (counted as failed too). */
  corrupt: number;
  peakTransferConcurrency: number;
  limit: number;
  throttles: number;
  bytes: number;
  seconds: number;
  /** Longest time from a delivery's start to its first recorded part (deliveries with bytes). */
  longestFirstPartWaitSeconds: number;
  failures: string[];
}

/** Emulator spec with 1 MiB parts, so a few MiB make multi-part files and batches. */
export const BURST_SPEC = { min_chunk_size: 64 * KiB, max_chunk_size: 1 * MiB, max_chunk_count: 10_000 };

export function burstRelayOptions(options: BurstOptions): LocalRelayOptions {
  return {
    emulator: { spec: BURST_SPEC },
    waitScale: options.waitScale ?? 0.01,
    config: {
      transfer: {
        partSizeMiB: 5,
        mapConcurrency: options.mapConcurrency ?? 10,
        partConcurrency: 2,
        partsPerBatch: 4,
        transferReservedConcurrency: options.reservedConcurrency,
      },
    },
  };
}

export function summaryLine(report: BurstReport) {
  return (
    `load: ${report.deliveries} deliveries at once, ${report.delivered} delivered, ${report.failed} failed, ` +
    `${report.duplicate} duplicate, ${report.orphaned} orphaned, ` +
    `peak transfer concurrency ${report.peakTransferConcurrency} (limit ${report.limit})`
  );
}

/**
 * Drops `deliveries` objects into the local source bucket, triggers them all at once through the
 * real start handler, waits for every execution to end and checks every package byte for byte
 * in the emulator, plus duplicates (a source delivered into two packages) and orphans (a package
 * neither finalized nor deleted).
 */
export async function runBurst(options: BurstOptions): Promise<BurstReport> {
  const log = options.log ?? (() => undefined);
  const relay = options.relay ?? (await LocalRelay.start(burstRelayOptions(options)));
  const sizes = options.sizes ?? BURST_SIZES;
  const packagesBefore = new Set(relay.emulator!.inspect.packages().map((p) => p.id));
  try {
    const tag = Date.now().toString(36);
    const sources: { key: string; size: number; sha256: string; etag: string }[] = [];
    for (let n = 0; n < options.deliveries; n++) {
      const size = sizes[n % sizes.length]!;
      const body = randomBytes(size);
      const key = `burst-${tag}/${String(n).padStart(3, '0')}-${size}.bin`;
      const put = await relay.sourceClient.send(
        new PutObjectCommand({ Bucket: SOURCE_BUCKET, Key: key, Body: body }),
      );
      sources.push({
        key,
        size,
        etag: put.ETag!.replace(/"/g, ''),
        sha256: sha256(body),
      });
    }
    const bytes = sources.reduce((sum, s) => sum + s.size, 0);
    log(
      `load: ${sources.length} objects (${(bytes / MiB).toFixed(1)} MiB) in the source bucket; dropping them at once…`,
    );

    const transfer = relay.lambdas.transfer;
    const peakBefore = transfer.peakConcurrency;
    transfer.peakConcurrency = 0;
    const throttlesBefore = transfer.throttles;
    const started = Date.now();
    const summaries = (await Promise.all(
      sources.map((s, n) => relay.trigger(relay.objectCreatedEvent(s.key, s.etag, s.size, `${tag}${n}`))),
    )) as { started: string[] }[];
    const runs = summaries.map((s, n) => {
      const name = s.started[0];
      const run = name ? relay.deliveries.get(name) : undefined;
      if (!run) throw new Error(`The drop of ${sources[n]!.key} started no delivery: ${JSON.stringify(s)}`);
      return run;
    });
    const outcomes = await Promise.all(runs.map((r) => r.result));
    const seconds = (Date.now() - started) / 1000;

    const failures: string[] = [];
    let delivered = 0;
    let corrupt = 0;
    let longestWait = 0;
    for (const [n, outcome] of outcomes.entries()) {
      const source = sources[n]!;
      const run = runs[n]!;
      if (outcome.status !== 'SUCCEEDED') {
        failures.push(`${source.key}: ${outcome.error}: ${outcome.cause}`);
        continue;
      }
      const packageId = (outcome.output as { packageId: string }).packageId;
      const pkg = relay.emulator!.inspect.package(packageId);
      const file = pkg?.files[0];
      const sha =
        file && pkg.state === 'finalized' ? await relay.emulator!.inspect.fileSha256(file.id) : undefined;
      if (sha !== source.sha256) {
        corrupt++;
        failures.push(`${source.key}: package ${packageId} does not hold the source bytes`);
        continue;
      }
      delivered++;
      if (source.size > 0 && run.firstPartAt !== undefined)
        longestWait = Math.max(longestWait, (run.firstPartAt - run.startedAt) / 1000);
    }

    const packages = relay.emulator!.inspect.packages().filter((p) => !packagesBefore.has(p.id));
    const orphaned = packages.filter((p) => p.state !== 'finalized' && p.state !== 'deleted').length;
    const perSource = new Map<string, number>();
    for (const pkg of packages.filter((p) => p.state === 'finalized'))
      for (const file of pkg.files) perSource.set(file.name, (perSource.get(file.name) ?? 0) + 1);
    const duplicate = [...perSource.values()].filter((count) => count > 1).length;

    const report: BurstReport = {
      deliveries: sources.length,
      delivered,
      failed: sources.length - delivered,
      duplicate,
      orphaned,
      corrupt,
      peakTransferConcurrency: transfer.peakConcurrency,
      limit: relay.config.transfer.transferReservedConcurrency,
      throttles: transfer.throttles - throttlesBefore,
      bytes,
      seconds,
      longestFirstPartWaitSeconds: longestWait,
      failures,
    };
    transfer.peakConcurrency = Math.max(peakBefore, transfer.peakConcurrency);
    return report;
  } finally {
    if (!options.relay) await relay.close();
  }
}
