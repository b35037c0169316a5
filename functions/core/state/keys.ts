/**
 * The state bucket's key layout, in one place: the records (`state-bucket.ts`), the lifecycle rule
 * and each step's IAM grants (`lib/`) all derive from it.
 *
 * The area comes first, right after the common prefix, so the IAM pattern of one area
 * (`deliveries/parts/*`) can never match a key of another, whatever a delivery id holds:
 *
 * - `deliveries/package/{delivery id}/{generation:04}.{json|creating|prepared}`: package records,
 *   create intents, Prepare's results
 * - `deliveries/claims/{package id}.json`: which delivery a package belongs to
 * - `deliveries/parts/{delivery id}/{file}/{part:05}.{etag}~{storedAt}`: the parts ledger
 * - `deliveries/finalized/{delivery id}/{file | mark}`: finalize marks
 * - `deliveries/outcomes/{delivered|aborted}/{delivery id}.json`: outcome markers
 */
export const STATE_PREFIX = 'deliveries/';

/** The kinds of record; each step is granted only the areas it reads, writes or deletes. */
export type StateArea = 'package' | 'claims' | 'parts' | 'finalized' | 'outcomes';

/** The areas that hold one delivery's own records (what the clean-up removes); claims and outcomes outlive it. */
export const DELIVERY_AREAS = ['package', 'parts', 'finalized'] as const;
export type DeliveryArea = (typeof DELIVERY_AREAS)[number];

/**
 * Delivery ids are execution names (`deliveryIdFor` builds them of `[A-Za-z0-9_-]`; Step Functions
 * refuses a `/` in any name), package ids MASV's ULIDs: one key segment, never a `/`.
 */
const SEGMENT = /^[^/]{1,80}$/;

/** A key segment that cannot reach into another key: refused unless it is a plain name. */
export function keySegment(value: string, what = 'delivery id'): string {
  if (!SEGMENT.test(value)) throw new Error(`Not a valid ${what} for a state-bucket key: "${value}".`);
  return value;
}

const areaPrefix = (area: StateArea) => `${STATE_PREFIX}${area}/`;

/** Where one delivery's records of one area live. */
export const areaOf = (deliveryId: string, area: DeliveryArea) =>
  `${areaPrefix(area)}${keySegment(deliveryId)}/`;

export const claimKey = (packageId: string) =>
  `${areaPrefix('claims')}${keySegment(packageId, 'package id')}.json`;

export const outcomeKey = (outcome: 'delivered' | 'aborted', deliveryId: string) =>
  `${areaPrefix('outcomes')}${outcome}/${keySegment(deliveryId)}.json`;

/** The IAM resource pattern (below the bucket) of one area, or of everything the relay keeps. */
export const statePattern = (area?: StateArea) => `${STATE_PREFIX}${area ? `${area}/*` : '*'}`;
