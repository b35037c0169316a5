/**
 * Tags the relay writes on source objects, made acceptable to S3 before they are sent.
 *
 * S3 refuses a whole PutObjectTagging (`InvalidTag`) when one tag breaks its rules: more than 10
 * tags, a key over 128 or a value over 256 UTF-16 code units, a character other than letters,
 * digits, spaces and `+ - = . _ : / @`, duplicate keys, or a key starting with `aws:`. One bad
 * character in a failure reason would otherwise cost the `masv-relay:status` tag too.
 */

export const MAX_TAGS = 10;
export const MAX_TAG_KEY_LENGTH = 128;
export const MAX_TAG_VALUE_LENGTH = 256;
/** Prefix of every tag the relay owns; the rest of an object's tags belong to its owner. */
export const RELAY_TAG_PREFIX = 'masv-relay:';
/** The one tag that is always written, whatever else has to give way. */
export const STATUS_TAG = 'masv-relay:status';

const ALLOWED = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
const DISALLOWED_RUN = /[^\p{L}\p{Z}\p{N}_.:/=+\-@]+/gu;

export interface Tag {
  Key: string;
  Value: string;
}

/** Whether S3 accepts this key and value (not counting the per-object limits). */
export function isValidTag(key: string, value: string): boolean {
  return (
    key.length >= 1 &&
    key.length <= MAX_TAG_KEY_LENGTH &&
    ALLOWED.test(key) &&
    !key.toLowerCase().startsWith('aws:') &&
    value.length <= MAX_TAG_VALUE_LENGTH &&
    ALLOWED.test(value)
  );
}

/** Cuts to at most `max` UTF-16 code units without splitting a surrogate pair. */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return text.slice(0, end);
}

/**
 * A tag value S3 accepts: each run of other characters (parentheses, quotes, commas, braces,
 * newlines…) becomes one space, spaces are collapsed, and the result is cut to 256 code units,
 * ending with `...` when something was cut. The full text belongs in logs and events, not here.
 */
export function sanitizeTagValue(text: string): string {
  const cleaned = text
    .normalize('NFC')
    .replace(DISALLOWED_RUN, ' ')
    .replace(/\p{Z}+/gu, ' ')
    .trim();
  if (cleaned.length <= MAX_TAG_VALUE_LENGTH) return cleaned;
  return `${cut(cleaned, MAX_TAG_VALUE_LENGTH - 3).trimEnd()}...`;
}

export interface MergedTags {
  /** The tag set to write (≤ 10 tags, each valid). */
  tagSet: Tag[];
  /** Keys left out, with why: the object's own tags S3 would refuse or that did not fit, relay tags that did not fit. */
  dropped: Array<{ key: string; reason: 'invalid' | 'no room' }>;
}

/**
 * The merge rule (documented in docs/architecture.md):
 * 1. Every earlier `masv-relay:*` tag is replaced by the new relay tags (they describe the latest outcome).
 * 2. `masv-relay:status` is always written.
 * 3. The object's own tags come next, in the order S3 returned them: they may drive lifecycle
 *    rules or access policies, so they outrank the relay's informational tags. Only when the
 *    object already carries 10 tags of its own does the last one give way to the status.
 * 4. The other relay tags (reason, package id) fill the room left, in the order given.
 * Relay values are sanitized; a relay key S3 would refuse is a programming error and throws.
 */
export function mergeTags(own: Tag[], relay: Record<string, string>): MergedTags {
  const dropped: MergedTags['dropped'] = [];
  const relayTags: Tag[] = Object.entries(relay).map(([Key, value]) => {
    const Value = sanitizeTagValue(value);
    if (!Key.startsWith(RELAY_TAG_PREFIX) || !isValidTag(Key, Value))
      throw new RangeError(`The relay tag key "${Key}" is not one S3 accepts under ${RELAY_TAG_PREFIX}.`);
    return { Key, Value };
  });
  const status = relayTags.find((t) => t.Key === STATUS_TAG);
  const others = relayTags.filter((t) => t.Key !== STATUS_TAG);

  const kept: Tag[] = [];
  const seen = new Set<string>();
  for (const tag of own) {
    if (tag.Key.startsWith(RELAY_TAG_PREFIX) || seen.has(tag.Key)) continue;
    seen.add(tag.Key);
    if (!isValidTag(tag.Key, tag.Value)) dropped.push({ key: tag.Key, reason: 'invalid' });
    else kept.push(tag);
  }
  const room = MAX_TAGS - (status ? 1 : 0);
  for (const tag of kept.splice(room)) dropped.push({ key: tag.Key, reason: 'no room' });
  const tagSet = [...(status ? [status] : []), ...kept];
  for (const tag of others) {
    if (tagSet.length < MAX_TAGS) tagSet.push(tag);
    else dropped.push({ key: tag.Key, reason: 'no room' });
  }
  return { tagSet, dropped };
}
