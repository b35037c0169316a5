import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { finalizeDelivery } from '../functions/core/steps/finalize.js';
import { prepareDelivery } from '../functions/core/steps/prepare.js';
import { uploadRandomObject } from '../local/cli/demo-upload.js';
import { startEmulator } from '../local/emulator/server.js';
import { startLocalS3 } from '../local/s3/server.js';
import { createLocalDeps, SOURCE_BUCKET, STATE_BUCKET } from '../local/workflow/local-deps.js';

/**
 * P2: peak RSS of the transfer worker (its own process) relaying the same object with small and
 * with huge parts. Streaming means the part size must not show in memory.
 */
export async function benchMemory(options: {
  sizeMiB: number;
  smallPartMiB: number;
  largePartMiB: number;
  partConcurrency: number;
}) {
  const s3 = await startLocalS3({ buckets: [SOURCE_BUCKET, STATE_BUCKET] });
  const emulator = await startEmulator({ port: 0 });
  const masv = { url: emulator.url, apiKey: emulator.accounts.apiKey, teamId: emulator.accounts.teamId };
  try {
    const setup = createLocalDeps({ s3Endpoint: s3.endpoint, masv }).deps;
    const key = `bench/memory-${options.sizeMiB}MiB.bin`;
    const uploaded = await uploadRandomObject(setup.s3, SOURCE_BUCKET, key, options.sizeMiB);
    const measure = async (partSizeMiB: number) => {
      const config = {
        transfer: {
          partSizeMiB,
          partConcurrency: options.partConcurrency,
          partsPerBatch: 1000,
          mapConcurrency: 1,
        },
      };
      const { deps } = createLocalDeps({ s3Endpoint: s3.endpoint, masv, config });
      const deliveryId = `memory-${partSizeMiB}-${Date.now()}`;
      const prepared = await prepareDelivery(deps, { deliveryId, files: [{ bucket: SOURCE_BUCKET, key }] });
      const worker = spawn(process.execPath, ['--import', 'tsx', 'bench/transfer-worker.ts'], {
        env: {
          ...process.env,
          BENCH_WORKER_INPUT: JSON.stringify({ s3Endpoint: s3.endpoint, masv, config, prepared }),
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      worker.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      const [code] = await once(worker, 'exit');
      if (code !== 0) throw new Error(`transfer worker exited with ${code}`);
      await finalizeDelivery(deps, prepared);
      const stored = await emulator.inspect.fileSha256(prepared.files[0]!.fileId);
      if (stored !== uploaded.sha256)
        throw new Error(`memory bench: stored bytes differ for ${partSizeMiB} MiB parts`);
      const { peakRssMiB, baselinePeakRssMiB } = JSON.parse(out.trim().split('\n').pop()!) as Record<
        string,
        number
      >;
      return {
        partSizeMiB,
        parts: prepared.files[0]!.partCount,
        peakRssMiB: peakRssMiB!,
        baselinePeakRssMiB: baselinePeakRssMiB!,
      };
    };
    const small = await measure(options.smallPartMiB);
    const large = await measure(options.largePartMiB);
    return { small, large, deltaMiB: large.peakRssMiB - small.peakRssMiB };
  } finally {
    await emulator.close();
    await s3.close();
  }
}
