import '../local/workflow/polyfills.js';
import type { PreparedDelivery } from '../functions/core/delivery/request.js';
import { transferBatch } from '../functions/core/steps/transfer.js';
import { createLocalDeps, type LocalDepsOptions } from '../local/workflow/local-deps.js';
import { peakRssMiB } from './lib.js';

/**
 * The transfer step in a process of its own, as a Lambda container runs it: every batch of a
 * prepared delivery, one after another. Prints its peak RSS (VmHWM) as measured by the OS.
 */
const input = JSON.parse(process.env.BENCH_WORKER_INPUT ?? '{}') as LocalDepsOptions & {
  prepared: PreparedDelivery;
};
const { deps } = createLocalDeps(input);
const baseline = peakRssMiB(process.pid);
for (const batch of input.prepared.batches) {
  const file = input.prepared.files[batch.file]!;
  const result = await transferBatch(
    deps,
    { deliveryId: input.prepared.deliveryId, file, batch },
    { partConcurrency: deps.config.transfer.partConcurrency, remainingMs: () => 900_000 },
  );
  if (!result.done) throw new Error('the batch stopped early');
}
console.log(JSON.stringify({ baselinePeakRssMiB: baseline, peakRssMiB: peakRssMiB(process.pid) }));
