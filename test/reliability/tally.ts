import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import type { DeliveryRun, LocalRelay } from '../../local/relay.js';

export interface Tally {
  deliveries: number;
  byteExact: number;
  cleanlyFailed: number;
  corrupt: number;
  duplicate: number;
  /** Packages left in state `new` once every delivery ended (nothing may be left to expire). */
  orphaned: number;
  /** Packages that went from `finalized` to `deleted`: a delivery taken back from its recipients. */
  deletedAfterDelivery: number;
}

export const newTally = (): Tally => ({
  deliveries: 0,
  byteExact: 0,
  cleanlyFailed: 0,
  corrupt: 0,
  duplicate: 0,
  orphaned: 0,
  deletedAfterDelivery: 0,
});

export function summaryLine(t: Tally) {
  return `reliability: ${t.deliveries} deliveries, ${t.byteExact} byte-exact, ${t.cleanlyFailed} cleanly failed, ${t.corrupt} corrupt, ${t.duplicate} duplicate, ${t.orphaned} orphaned, ${t.deletedAfterDelivery} deleted after delivery`;
}

/**
 * Audits every package the emulator ever held once the deliveries have ended: those still `new`
 * (orphans) and those deleted after they were finalized (deliveries taken back).
 */
export function auditPackages(relay: LocalRelay) {
  const packages = relay.emulator!.inspect.packages();
  const orphaned = packages.filter((p) => p.state === 'new').map((p) => p.id);
  const deletedAfterDelivery = packages
    .filter((p) =>
      p.stateChanges.some(
        (change, i) => change.to === 'deleted' && p.stateChanges[i - 1]?.to === 'finalized',
      ),
    )
    .map((p) => p.id);
  return { orphaned, deletedAfterDelivery };
}

/** Adds a relay's audit to the tally (call once per relay, after its last delivery). */
export function tallyAudit(relay: LocalRelay, tally: Tally) {
  const audit = auditPackages(relay);
  tally.orphaned += audit.orphaned.length;
  tally.deletedAfterDelivery += audit.deletedAfterDelivery.length;
  return audit;
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
