/**
 * The state bucket's key layout, in one place: the records (`state-bucket.ts`), the lifecycle rule
 * and each step's IAM grants (`lib/`) all derive from it.
 *
 * - `deliveries/{delivery id}/package/{generation:04}.{json|creating|prepared}`: package records,
 *   create intents, Prepare's results
 * - `deliveries/_claims/package/{package id}.json`: which delivery a package belongs to
 * - `deliveries/{delivery id}/parts/{file}/{part:05}.{etag}~{storedAt}`: the parts ledger
 * - `deliveries/{delivery id}/finalized/{file | mark}`: finalize marks
 * - `deliveries/_{delivered|aborted}/finalized/{delivery id}.json`: outcome markers
 */
export const STATE_PREFIX = 'deliveries/';

/** The kinds of record; each step is granted only the areas it writes. */
export type StateArea = 'package' | 'parts' | 'finalized';

/** Everything the relay keeps for one delivery (what the clean-up removes). */
export const deliveryRoot = (deliveryId: string) => `${STATE_PREFIX}${deliveryId}/`;

export const areaOf = (deliveryId: string, area: StateArea) => `${deliveryRoot(deliveryId)}${area}/`;

// Claims and outcome markers sit under a `_name` in place of a delivery id, so they fall in the
// same area (and IAM grant) as the records they complete, and outside any delivery's clean-up.
export const claimKey = (packageId: string) => `${areaOf('_claims', 'package')}${packageId}.json`;

export const outcomeKey = (outcome: 'delivered' | 'aborted', deliveryId: string) =>
  `${areaOf(`_${outcome}`, 'finalized')}${deliveryId}.json`;

/** The IAM resource pattern (below the bucket) of one area of every delivery, or of everything. */
export const statePattern = (area?: StateArea) => `${STATE_PREFIX}${area ? `*/${area}/*` : '*'}`;
