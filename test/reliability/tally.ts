import { expect } from 'vitest';
import { deliveryReference } from '../../functions/core/delivery/package-lifecycle.js';
import type { RunningEmulator } from '../../local/emulator/server.js';
import type { DeliveryRun, LocalRelay } from '../../local/workflow/relay.js';
import { sha256 } from '../helpers/bytes.js';

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
 * Audits every package an emulator (a relay's own, or one it was pointed at) ever held once the
 * deliveries have ended: those still `new` (orphans) and those deleted after they were finalized
 * (deliveries taken back).
 */
export function auditPackages(on: LocalRelay | RunningEmulator) {
  const inspect = 'inspect' in on ? on.inspect : on.emulator!.inspect;
  const packages = inspect.packages();
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

/** Adds an emulator's audit to the tally (call once per emulator, after its last delivery). */
export function tallyAudit(on: LocalRelay | RunningEmulator, tally: Tally) {
  const audit = auditPackages(on);
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
    // By name: the emulator gives every added file a new id, so a second package of the same
    // source holds another id. Without a Prepare output there is no source name to look for.
    if (run.prepared) {
      const name = run.prepared.files[0]!.name;
      const holding = packages.filter((p) => p.state === 'finalized' && p.files.some((f) => f.name === name));
      if (holding.length !== 1) tally.duplicate++;
    }
    if (sourceBytes) {
      const stored = await inspect.fileSha256(pkg.files[0]!.id);
      const source = sha256(sourceBytes);
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
  // Every attempt's package, not only the one Prepare answered with (a lost create, an overtaken
  // attempt): each Team package carries the delivery's reference line.
  const reference = deliveryReference(run.deliveryId, 0).replace(/0\]$/, '');
  const leftovers = packages.filter((p) => p.description.includes(reference) && p.state !== 'deleted');
  expect(leftovers.map((p) => `${p.id} ${p.state}`)).toEqual([]);
  tally.cleanlyFailed++;
  return outcome;
}

/**
 * Patterns that must never appear in logs: package tokens (JWTs), the API key, presigned signatures,
 * and any other secret the suite used (by what it is → its value), as written or URI-encoded as a
 * header carries it.
 */
export function findSecrets(text: string, apiKey: string, others: Record<string, string> = {}): string[] {
  const found: string[] = [];
  if (/eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}/.test(text)) found.push('package token');
  if (text.includes(apiKey)) found.push('API key');
  if (/X-Amz-Signature=/.test(text)) found.push('presigned URL signature');
  for (const [what, value] of Object.entries(others))
    if (text.includes(value) || text.includes(encodeURIComponent(value))) found.push(what);
  return found;
}
