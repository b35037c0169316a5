import { randomBytes } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { expect } from 'vitest';
import type { RelayDeps } from '../../functions/core/deps.js';
import type { FaultRule } from '../../local/emulator/faults.js';
import type { ExecutionOutcome } from '../../local/workflow/limited-execution.js';
import { type LocalRelay, type LocalRelayOptions, SOURCE_BUCKET } from '../../local/workflow/relay.js';
import { KiB, sha256 } from './bytes.js';

export { KiB };

/** Small MASV limits so tests exercise many parts quickly. */
export const TINY_SPEC = { min_chunk_size: 64 * KiB, max_chunk_size: 256 * KiB, max_chunk_count: 200 };

export const zeroWaitClock = { sleep: async () => undefined, random: () => 0 };

export function testRelayOptions(overrides: LocalRelayOptions = {}): LocalRelayOptions {
  return {
    fastRetries: true,
    clock: zeroWaitClock,
    ...overrides,
    emulator: overrides.emulator === false ? false : { spec: TINY_SPEC, ...overrides.emulator },
    config: {
      transfer: { partSizeMiB: 5, mapConcurrency: 4, partConcurrency: 3, partsPerBatch: 4 },
      ...overrides.config,
    },
  };
}

/** The relay's injected dependencies, for a test to make one of them fail the way AWS can. */
export const depsOf = (relay: LocalRelay) => (relay as unknown as { deps: RelayDeps }).deps;

/** MASV refuses one file finalize (400): the delivery fails after its bytes are sent, so Abort runs. */
export const FILE_FINALIZE_REFUSED_ONCE: FaultRule = {
  target: 'route:POST /v1/packages/{package_id}/files/{file_id}/finalize',
  kind: 'status',
  status: 400,
  times: 1,
};

/** Puts an object into the local source bucket and returns its bytes and ETag. */
export async function putSource(
  relay: LocalRelay,
  key: string,
  size: number,
  metadata?: Record<string, string>,
) {
  const body = randomBytes(size);
  const put = await relay.sourceClient.send(
    new PutObjectCommand({ Bucket: SOURCE_BUCKET, Key: key, Body: body, Metadata: metadata }),
  );
  return { body, etag: put.ETag!.replace(/"/g, '') };
}

/**
 * Drops an object and sends its EventBridge "Object Created" event through the real start handler;
 * returns the source's bytes and ETag and the one delivery it started (still running).
 */
export async function dropObject(
  relay: LocalRelay,
  key: string,
  size: number,
  options: { metadata?: Record<string, string>; sequencer?: string } = {},
) {
  const { body, etag } = await putSource(relay, key, size, options.metadata);
  const event = relay.objectCreatedEvent(key, etag, size, options.sequencer);
  const summary = (await relay.trigger(event)) as { started: string[] };
  expect(summary.started).toHaveLength(1);
  return { body, etag, run: relay.deliveries.get(summary.started[0]!)! };
}

/** Drops an object and relays it through the EventBridge "Object Created" path; waits for the end. */
export async function relayObject(
  relay: LocalRelay,
  key: string,
  size: number,
  metadata?: Record<string, string>,
) {
  const { body, run } = await dropObject(relay, key, size, { metadata });
  return { body, run, outcome: await run.result };
}

/** The emulator's package and file for a finished delivery. */
export function deliveredPackage(relay: LocalRelay, packageId: string) {
  const pkg = relay.emulator!.inspect.package(packageId);
  if (!pkg) throw new Error(`package ${packageId} not found in the emulator`);
  return pkg;
}

/**
 * Asserts a delivery succeeded into one finalized package whose single file holds exactly `body`
 * (SHA-256 of the stored bytes); returns the package.
 */
export async function expectDelivered(relay: LocalRelay, outcome: ExecutionOutcome, body: Buffer) {
  if (outcome.status !== 'SUCCEEDED') throw new Error(`delivery failed: ${outcome.error}: ${outcome.cause}`);
  const output = outcome.output as { packageId: string; bytes: number };
  const pkg = deliveredPackage(relay, output.packageId);
  expect({ state: pkg.state, files: pkg.files.length, bytes: output.bytes }).toEqual({
    state: 'finalized',
    files: 1,
    bytes: body.length,
  });
  await expect(relay.emulator!.inspect.fileSha256(pkg.files[0]!.id)).resolves.toBe(sha256(body));
  return pkg;
}

/** Sends a relay request through the real start handler and waits for its delivery to end. */
export async function relayRequest(relay: LocalRelay, request: unknown) {
  const summary = (await relay.trigger(request)) as { started: string[] };
  const run = relay.deliveries.get(summary.started[0]!)!;
  return { run, outcome: await run.result };
}
