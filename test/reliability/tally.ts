import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import type { DeliveryRun, LocalRelay } from '../../local/relay.js';

export interface Tally {
  deliveries: number;
  byteExact: number;
  cleanlyFailed: number;
  corrupt: number;
  duplicate: number;
}

export const newTally = (): Tally => ({
  deliveries: 0,
  byteExact: 0,
  cleanlyFailed: 0,
  corrupt: 0,
  duplicate: 0,
});

export function summaryLine(t: Tally) {
  return `reliability: ${t.deliveries} deliveries, ${t.byteExact} byte-exact, ${t.cleanlyFailed} cleanly failed, ${t.corrupt} corrupt, ${t.duplicate} duplicate`;
}

/**
 * Classifies a finished delivery and asserts the invariants: a success is byte-exact in exactly one
 * finalized package; a failure has a named error and leaves no package behind.
 */
export async function settleDelivery(
  relay: LocalRelay,
  run: DeliveryRun,
  sourceBytes: Buffer | undefined,
  tally: Tally,
) {
  const outcome = await run.result;
  tally.deliveries++;
  const inspect = relay.emulator!.inspect;
  const packages = inspect.packages();
  if (outcome.status === 'SUCCEEDED') {
    const output = outcome.output as { packageId: string };
    const pkg = packages.find((p) => p.id === output.packageId)!;
    expect(pkg.state).toBe('finalized');
    const sameFile = packages.filter(
      (p) =>
        p.state === 'finalized' &&
        run.prepared &&
        p.files.some((f) => f.id === run.prepared!.files[0]!.fileId),
    );
    if (sameFile.length !== 1) tally.duplicate++;
    if (sourceBytes) {
      const stored = await inspect.fileSha256(pkg.files[0]!.id);
      const source = createHash('sha256').update(sourceBytes).digest('hex');
      if (stored === source) tally.byteExact++;
      else tally.corrupt++;
      expect(stored).toBe(source);
    } else {
      tally.byteExact++;
    }
    return outcome;
  }
  expect(outcome.error).toMatch(/^[A-Z]\w+Error$/);
  if (run.prepared) expect(inspect.package(run.prepared.package.id)?.state).toBe('deleted');
  const leftovers = packages.filter(
    (p) => p.state !== 'deleted' && run.prepared && p.id === run.prepared.package.id,
  );
  expect(leftovers).toEqual([]);
  tally.cleanlyFailed++;
  return outcome;
}

/** Patterns that must never appear in logs: package tokens (JWTs), the API key, presigned signatures. */
export function findSecrets(text: string, apiKey: string): string[] {
  const found: string[] = [];
  if (/eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}/.test(text)) found.push('package token');
  if (text.includes(apiKey)) found.push('API key');
  if (/X-Amz-Signature=/.test(text)) found.push('presigned URL signature');
  return found;
}
