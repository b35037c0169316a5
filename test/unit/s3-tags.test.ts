import { describe, expect, it } from 'vitest';
import {
  isValidTag,
  MAX_TAGS,
  mergeTags,
  STATUS_TAG,
  sanitizeTagValue,
  type Tag,
} from '../../functions/core/source/tags.js';
import { tagSetProblem } from '../../local/s3/tagging.js';

/** A small seeded generator, so a failing case can be replayed. */
function random(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const NASTY = [
  '(',
  ')',
  '"',
  "'",
  '{',
  '}',
  ',',
  ';',
  '\n',
  '\t',
  '<',
  '>',
  '&',
  '#',
  '%',
  '😀',
  'é',
  '\u0000',
  '*',
  '?',
];

describe('sanitizeTagValue', () => {
  it('turns a failure reason with parentheses, quotes, braces and commas into an accepted value', () => {
    const reason =
      'MasvValidationError: MASV refused (422) {"code":"invalid","message":"bad, really"}; see logs\nline 2';
    const value = sanitizeTagValue(reason);
    expect(value).toBe(
      'MasvValidationError: MASV refused 422 code : invalid message : bad really see logs line 2',
    );
    expect(tagSetProblem([{ key: 'masv-relay:reason', value }])).toBeUndefined();
  });

  it('cuts to 256 UTF-16 code units without splitting a surrogate pair, marking the cut', () => {
    const value = sanitizeTagValue(`${'a'.repeat(252)}𝔸𝔸𝔸𝔸`);
    expect(value.length).toBeLessThanOrEqual(256);
    expect(value.endsWith('...')).toBe(true);
    expect(value).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
  });

  it('always yields a value the strict local S3 accepts, for random text', () => {
    const next = random(11);
    for (let i = 0; i < 2000; i++) {
      const length = Math.floor(next() * 600);
      let text = '';
      for (let c = 0; c < length; c++)
        text +=
          next() < 0.3
            ? NASTY[Math.floor(next() * NASTY.length)]
            : String.fromCharCode(32 + Math.floor(next() * 95));
      const value = sanitizeTagValue(text);
      expect(tagSetProblem([{ key: 'k', value }]), JSON.stringify(text)).toBeUndefined();
      expect(isValidTag('k', value)).toBe(true);
    }
  });
});

describe('mergeTags', () => {
  const own = (n: number): Tag[] =>
    Array.from({ length: n }, (_, i) => ({ Key: `team${i}`, Value: `v${i}` }));

  it('keeps the object’s own tags and adds the relay tags', () => {
    const merged = mergeTags(own(2), { [STATUS_TAG]: 'failed', 'masv-relay:reason': 'Oops (x)' });
    expect(merged.tagSet).toEqual([
      { Key: STATUS_TAG, Value: 'failed' },
      { Key: 'team0', Value: 'v0' },
      { Key: 'team1', Value: 'v1' },
      { Key: 'masv-relay:reason', Value: 'Oops x' },
    ]);
    expect(merged.dropped).toEqual([]);
  });

  it('replaces earlier relay tags instead of keeping a stale reason next to a new status', () => {
    const merged = mergeTags(
      [
        { Key: STATUS_TAG, Value: 'failed' },
        { Key: 'masv-relay:reason', Value: 'old' },
      ],
      { [STATUS_TAG]: 'delivered', 'masv-relay:package-id': 'P1' },
    );
    expect(merged.tagSet).toEqual([
      { Key: STATUS_TAG, Value: 'delivered' },
      { Key: 'masv-relay:package-id', Value: 'P1' },
    ]);
  });

  it('lets informational relay tags give way before the object’s own tags', () => {
    const merged = mergeTags(own(8), {
      [STATUS_TAG]: 'failed',
      'masv-relay:reason': 'r',
      'masv-relay:x': 'y',
    });
    expect(merged.tagSet).toHaveLength(MAX_TAGS);
    expect(merged.tagSet.map((t) => t.Key)).toContain('masv-relay:reason');
    expect(merged.dropped).toEqual([{ key: 'masv-relay:x', reason: 'no room' }]);
  });

  it('always writes the status: with 10 own tags the last one gives way', () => {
    const merged = mergeTags(own(10), { [STATUS_TAG]: 'delivered', 'masv-relay:package-id': 'P' });
    expect(merged.tagSet).toHaveLength(10);
    expect(merged.tagSet[0]).toEqual({ Key: STATUS_TAG, Value: 'delivered' });
    expect(merged.dropped).toEqual([
      { key: 'team9', reason: 'no room' },
      { key: 'masv-relay:package-id', reason: 'no room' },
    ]);
    expect(tagSetProblem(merged.tagSet.map((t) => ({ key: t.Key, value: t.Value })))).toBeUndefined();
  });

  it('leaves out own tags S3 would refuse, so they cannot make the whole request fail', () => {
    const merged = mergeTags(
      [
        { Key: 'aws:cloudformation:stack-name', Value: 's' },
        { Key: 'ok', Value: 'fine' },
      ],
      { [STATUS_TAG]: 'failed' },
    );
    expect(merged.tagSet.map((t) => t.Key)).toEqual([STATUS_TAG, 'ok']);
    expect(merged.dropped).toEqual([{ key: 'aws:cloudformation:stack-name', reason: 'invalid' }]);
  });

  it('refuses a relay key outside its prefix or one S3 would refuse', () => {
    expect(() => mergeTags([], { status: 'x' })).toThrow(RangeError);
    expect(() => mergeTags([], { 'masv-relay:bad key!': 'x' })).toThrow(/not one S3 accepts/);
  });
});
