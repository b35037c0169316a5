import { createHash } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { MAX_BATCHES_PER_DELIVERY } from '../../functions/core/delivery/part-plan.js';
import { MAX_FILES_PER_DELIVERY } from '../../functions/core/delivery/request.js';
import { AWS_LIMITS, KiB } from '../../local/workflow/aws-limits.js';
import type { ExecutionOutcome } from '../../local/workflow/limited-execution.js';
import { type DeliveryRun, LocalRelay, SOURCE_BUCKET } from '../../local/workflow/relay.js';

/** MASV's largest part count per file. */
export const MASV_MAX_PARTS = 10_000;
/** Tiny parts (1 KiB) so ten thousand of them are quick to PUT and check. */
const PART = 1 * KiB;
/** Margin kept under each quota. */
export const MARGIN = 0.2;

export interface ScaleCase {
  name: string;
  /** Parts per file in the emulator spec (its `max_chunk_count`). */
  maxChunkCount: number;
  files: number;
  /** Parts of each file (all at 1 KiB). */
  partsPerFile: number;
  /** Length of each source key, so the workflow state carries realistic (long) names. */
  keyLength: number;
}

/**
 * (a) one file at MASV's part maximum; (b) the most files one delivery may hold, with long keys;
 * (c) the largest delivery the planner accepts: the most files, each planned into batches up to
 * the delivery's batch cap, so the Map runs the most iterations and the history is the longest.
 */
export const SCALE_CASES: ScaleCase[] = [
  {
    name: 'max parts per file',
    maxChunkCount: MASV_MAX_PARTS,
    files: 1,
    partsPerFile: MASV_MAX_PARTS,
    keyLength: 200,
  },
  {
    name: 'max files',
    maxChunkCount: MASV_MAX_PARTS,
    files: MAX_FILES_PER_DELIVERY,
    partsPerFile: 1,
    keyLength: 200,
  },
  {
    name: 'largest delivery',
    // 20 parts per batch (the default): files of 80 parts give the delivery its 1,000-batch cap.
    maxChunkCount: (MAX_BATCHES_PER_DELIVERY / MAX_FILES_PER_DELIVERY) * 20,
    files: MAX_FILES_PER_DELIVERY,
    partsPerFile: (MAX_BATCHES_PER_DELIVERY / MAX_FILES_PER_DELIVERY) * 20,
    keyLength: 200,
  },
];

export interface ScaleResult {
  name: string;
  status: string;
  error?: string;
  /** Length of the source keys the planner accepted. */
  keyLength: number;
  parts: number;
  files: number;
  batches: number;
  historyEvents: number;
  peakStateBytes: number;
  peakStateWhere: string;
  verified: boolean;
  seconds: number;
  withinLimits: boolean;
}

/** A deterministic body for file `n` (1 KiB parts, the last one short so sizes differ). */
function body(n: number, parts: number) {
  const size = parts * PART - (n % 7);
  const out = Buffer.alloc(Math.max(0, size));
  for (let i = 0; i < out.length; i += 32) createHash('sha256').update(`${n}:${i}`).digest().copy(out, i);
  return out;
}

function keyOf(n: number, length: number) {
  const stem = `scale/${String(n).padStart(4, '0')}-`;
  return `${stem}${'shoot-day-'.repeat(Math.ceil(length / 10)).slice(0, length - stem.length - 4)}.mov`;
}

/**
 * Runs one case through the real definition and handlers on the local stand-ins, with the AWS
 * quotas enforced (a broken quota fails the execution), and checks every file byte for byte.
 */
export async function runScaleCase(scaleCase: ScaleCase): Promise<ScaleResult> {
  const relay = await LocalRelay.start({
    emulator: {
      spec: { min_chunk_size: PART, max_chunk_size: PART, max_chunk_count: scaleCase.maxChunkCount },
    },
    // The deployed Retry and Wait seconds become milliseconds; attempts and history are unchanged.
    waitScale: 0.001,
    config: {
      transfer: { partSizeMiB: 5, mapConcurrency: 10, partConcurrency: 4, partsPerBatch: 20 },
    },
  });
  const started = Date.now();
  try {
    // The longest keys the planner accepts: start long and shorten while Prepare refuses the
    // plan for its workflow-state budget (its message says by how much).
    let keyLength = scaleCase.keyLength;
    let hashes: string[] = [];
    let keys: string[] = [];
    let run: DeliveryRun | undefined;
    let outcome: ExecutionOutcome | undefined;
    for (let attempt = 0; attempt < 8; attempt++) {
      hashes = [];
      keys = [];
      for (let n = 0; n < scaleCase.files; n++) {
        const data = body(n, scaleCase.partsPerFile);
        const key = keyOf(n, keyLength);
        await relay.sourceClient.send(new PutObjectCommand({ Bucket: SOURCE_BUCKET, Key: key, Body: data }));
        hashes.push(createHash('sha256').update(data).digest('hex'));
        keys.push(key);
      }
      const summary = (await relay.trigger({ bucket: SOURCE_BUCKET, keys })) as { started: string[] };
      run = relay.deliveries.get(summary.started[0]!);
      if (!run) throw new Error(`The scale request started no delivery: ${JSON.stringify(summary)}`);
      outcome = await run.result;
      const over =
        outcome.status === 'FAILED'
          ? /about (\d+) bytes of workflow state \(limit (\d+)\)/.exec(outcome.cause)
          : null;
      if (!over) break;
      // About two bytes of state per key character per file (the key and the name).
      keyLength -= Math.ceil((Number(over[1]) - Number(over[2])) / (2 * scaleCase.files)) + 1;
      if (keyLength < 20) break;
    }
    if (!run || !outcome) throw new Error('unreachable');
    let verified = false;
    let parts = 0;
    if (outcome.status === 'SUCCEEDED') {
      const pkg = relay.emulator!.inspect.package((outcome.output as { packageId: string }).packageId)!;
      verified = pkg.files.length === scaleCase.files;
      for (const file of pkg.files) {
        parts += file.partsStored;
        const index = keys.findIndex((k) => k.slice(k.lastIndexOf('/') + 1) === file.name);
        const sha = await relay.emulator!.inspect.fileSha256(file.id);
        if (index < 0 || sha !== hashes[index]) verified = false;
      }
      verified &&= parts === scaleCase.files * scaleCase.partsPerFile;
    }
    const { historyEvents, peakStateBytes, peakStateWhere } = run.usage;
    const withinLimits =
      outcome.status === 'SUCCEEDED' &&
      verified &&
      historyEvents <= AWS_LIMITS.historyEvents * (1 - MARGIN) &&
      peakStateBytes <= AWS_LIMITS.stateBytes * (1 - MARGIN);
    return {
      name: scaleCase.name,
      status: outcome.status,
      keyLength,
      ...(outcome.status === 'FAILED' ? { error: `${outcome.error}: ${outcome.cause}` } : {}),
      parts,
      files: scaleCase.files,
      batches: run.prepared?.batches.length ?? 0,
      historyEvents,
      peakStateBytes,
      peakStateWhere,
      verified,
      seconds: (Date.now() - started) / 1000,
      withinLimits,
    };
  } finally {
    await relay.close();
  }
}

export function scaleLine(result: ScaleResult) {
  return (
    `scale: ${result.name}: ${result.parts} parts, ${result.files} files, ${result.historyEvents} history events ` +
    `(limit ${AWS_LIMITS.historyEvents}), peak state ${(result.peakStateBytes / KiB).toFixed(1)} KiB ` +
    `(limit ${AWS_LIMITS.stateBytes / KiB})`
  );
}
