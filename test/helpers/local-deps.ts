import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import type { PreparedDelivery } from '../../functions/core/delivery/request.js';
import type { RelayDeps } from '../../functions/core/deps.js';
import { type TransferOptions, transferBatch } from '../../functions/core/steps/transfer.js';
import { startEmulator } from '../../local/emulator/server.js';
import { startLocalS3 } from '../../local/s3/server.js';
import { createLocalDeps, type LocalDepsOptions, STATE_BUCKET } from '../../local/workflow/local-deps.js';
import { zeroWaitClock } from './local-relay.js';

/**
 * Deps for running Prepare against the emulator and a real local state bucket, with the sources'
 * HEADs made up: `reportSize` sets the size every source has, one no test could upload.
 */
export async function startPrepareWithMadeUpSizes(config?: LocalDepsOptions['config']) {
  const masv = await startEmulator({ port: 0 });
  const local = await startLocalS3({ buckets: [STATE_BUCKET] });
  const sources = new S3Client({ region: 'us-east-1' });
  const heads = mockClient(sources);
  const deps: RelayDeps = {
    ...createLocalDeps({
      s3Endpoint: local.endpoint,
      masv: { url: masv.url, apiKey: masv.accounts.apiKey, teamId: masv.accounts.teamId },
      clock: zeroWaitClock,
      config,
    }).deps,
    s3: sources,
  };
  const reportSize = (size: number, etag = '"e"') => {
    heads.reset();
    heads.on(HeadObjectCommand).resolves({ ContentLength: size, ETag: etag, LastModified: new Date(0) });
  };
  const close = async () => {
    await masv.close();
    await local.close();
  };
  return { deps, masv, reportSize, close };
}

export type PrepareWithMadeUpSizes = Awaited<ReturnType<typeof startPrepareWithMadeUpSizes>>;

/** Runs Transfer over each of Prepare's batches in turn, as the workflow's Map would with one slot. */
export async function transferEveryBatch(
  deps: RelayDeps,
  prepared: PreparedDelivery,
  options: TransferOptions,
) {
  const results = [];
  for (const batch of prepared.batches) {
    const file = prepared.files[batch.file]!;
    const input = { deliveryId: prepared.deliveryId, packageId: prepared.package.id, file, batch };
    results.push(await transferBatch(deps, input, options));
  }
  return results;
}
