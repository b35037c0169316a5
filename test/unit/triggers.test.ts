import { describe, expect, it } from 'vitest';
import { parseWorkflowRequest } from '../../functions/core/delivery/request.js';
import { DeliveryRequestError } from '../../functions/core/errors.js';
import {
  decodeS3NotificationKey,
  deliveryIdFor,
  outcomesFromPayload,
} from '../../functions/core/triggers/triggers.js';

const s3Notification = (key: string, extra: Record<string, unknown> = {}) => ({
  Records: [
    {
      eventSource: 'aws:s3',
      eventName: 'ObjectCreated:Put',
      s3: {
        bucket: { name: 'footage' },
        object: { key, eTag: 'abc', sequencer: '0055AED6DCD90281E5', size: 5, ...extra },
      },
    },
  ],
});

const eventBridge = (key: string) => ({
  version: '0',
  source: 'aws.s3',
  'detail-type': 'Object Created',
  detail: {
    bucket: { name: 'footage' },
    object: { key, etag: 'abc', sequencer: '0055AED6DCD90281E5', size: 5 },
  },
});

describe('trigger normalisation', () => {
  it('decodes S3 notification keys: + is a space, %XX is a byte', () => {
    expect(decodeS3NotificationKey('day+1/a%2Bb%25c+%C3%BC.mov')).toBe('day 1/a+b%c ü.mov');
  });

  it('takes EventBridge keys raw, so the same object gets the same files from both triggers', () => {
    const [fromS3] = outcomesFromPayload(s3Notification('day+1/a%2Bb.mov'));
    const [fromEb] = outcomesFromPayload(eventBridge('day 1/a+b.mov'));
    expect(fromS3).toMatchObject({
      kind: 'start',
      request: { files: [{ bucket: 'footage', key: 'day 1/a+b.mov', etag: 'abc' }] },
    });
    expect(fromEb).toEqual(fromS3);
  });

  it('names the execution deterministically within the Step Functions limits', () => {
    const [a] = outcomesFromPayload(eventBridge(`${'x'.repeat(900)}/ünï code [1].mov`));
    const [b] = outcomesFromPayload(eventBridge(`${'x'.repeat(900)}/ünï code [1].mov`));
    if (a?.kind !== 'start' || b?.kind !== 'start') throw new Error('expected starts');
    expect(a.deliveryId).toBe(b.deliveryId);
    expect(a.deliveryId.length).toBeLessThanOrEqual(80);
    expect(a.deliveryId).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it('gives a new version of the same key a new execution name', () => {
    const [v1] = outcomesFromPayload(s3Notification('a.mov', { versionId: 'v1' }));
    const [v2] = outcomesFromPayload(s3Notification('a.mov', { versionId: 'v2' }));
    expect((v1 as { deliveryId: string }).deliveryId).not.toBe((v2 as { deliveryId: string }).deliveryId);
  });

  it('skips folder markers with a reason', () => {
    expect(outcomesFromPayload(s3Notification('footage/day1/'))).toEqual([
      { kind: 'skip', reason: 's3://footage/footage/day1/ is a folder marker, not a file' },
    ]);
  });

  it('skips the S3 test event and non-creation events', () => {
    expect(outcomesFromPayload({ Event: 's3:TestEvent' })[0]?.kind).toBe('skip');
    const removed = s3Notification('a.mov');
    removed.Records[0]!.eventName = 'ObjectRemoved:Delete';
    expect(outcomesFromPayload(removed)[0]?.kind).toBe('skip');
  });

  it('accepts the "MASV Relay Request" detail-type and the direct request JSON', () => {
    const [fromEb] = outcomesFromPayload({
      'detail-type': 'MASV Relay Request',
      source: 'my.app',
      detail: { bucket: 'bkt', keys: ['x/1.mov', 'x/2.mov'] },
    });
    const [direct] = outcomesFromPayload({ bucket: 'bkt', keys: ['x/1.mov', 'x/2.mov'] });
    expect(fromEb).toEqual(direct);
    expect((direct as { request: { files: unknown[] } }).request.files).toHaveLength(2);
  });

  it('uses requestId as the idempotency key when given', () => {
    const [a] = outcomesFromPayload({ bucket: 'bkt', key: 'k', requestId: 'job-42' });
    const [b] = outcomesFromPayload({
      bucket: 'bkt',
      key: 'k',
      requestId: 'job-42',
      package: { name: 'other' },
    });
    expect((a as { deliveryId: string }).deliveryId).toBe((b as { deliveryId: string }).deliveryId);
  });

  it.each([
    [null, /must be a JSON object/],
    [[1, 2], /must be a JSON object/],
    [{ 'detail-type': 'Something Else', detail: {} }, /not deliveries/],
    [{ bucket: 'bkt' }, /exactly one of key, keys, prefix or files; it has 0/],
    [{ bucket: 'bkt', key: 'k', prefix: 'p/' }, /it has 2/],
    [{ key: 'k' }, /needs "bucket"/],
    [{ bucket: 'bkt', key: 'k', package: { recipients: ['nope'] } }, /package\.recipients\.0/],
    [{ bucket: 'bkt', key: 'k', colour: 'red' }, /unknown field\(s\) colour/],
    [{ bucket: 'bkt', keys: ['a', 'a'] }, /names s3:\/\/bkt\/a twice/],
    [{ bucket: 'bkt', key: 'folder/' }, /folder marker/],
    [{ Records: [{ eventSource: 'aws:sqs' }] }, /not an S3 event/],
  ])('refuses %j with a specific DeliveryRequestError', (payload, message) => {
    expect(() => outcomesFromPayload(payload)).toThrow(DeliveryRequestError);
    expect(() => outcomesFromPayload(payload)).toThrow(message);
  });

  it('falls back to a generic slug for names without safe characters', () => {
    expect(deliveryIdFor('日本/', 'x')).toMatch(/^delivery-[0-9a-f]{40}$/);
  });
});

describe('parseWorkflowRequest', () => {
  it('accepts the normalized form start produces, including a prefix object', () => {
    expect(parseWorkflowRequest({ prefix: { bucket: 'bkt', prefix: 'p/' }, deliveryId: 'd' })).toEqual({
      deliveryId: 'd',
      prefix: { bucket: 'bkt', prefix: 'p/' },
    });
    expect(parseWorkflowRequest({ files: [{ bucket: 'bkt', key: 'k', etag: 'e' }] })).toEqual({
      files: [{ bucket: 'bkt', key: 'k', etag: 'e' }],
    });
  });

  it('accepts a relay request given to StartExecution directly', () => {
    expect(parseWorkflowRequest({ bucket: 'bkt', key: 'k' })).toEqual({
      files: [{ bucket: 'bkt', key: 'k' }],
    });
  });

  it('refuses anything else with a DeliveryRequestError', () => {
    expect(() => parseWorkflowRequest({ prefix: { bucket: 1 } })).toThrow(DeliveryRequestError);
    expect(() => parseWorkflowRequest('nope')).toThrow(DeliveryRequestError);
  });
});
