import { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it } from 'vitest';
import { DeliveryRequestError } from '../../functions/core/errors.js';
import { startFromPayload, startFromSqs } from '../../functions/core/steps/start.js';

/**
 * When no message fails, processPartialResponse answers Powertools' module-wide default response:
 * start copies it, so successful batches of a warm container never share one mutable array.
 */
const log = new Logger({ logLevel: 'SILENT' });
const message = (id: string, key: string) => ({
  messageId: id,
  eventSource: 'aws:sqs',
  body: JSON.stringify({
    source: 'aws.s3',
    'detail-type': 'Object Created',
    detail: { bucket: { name: 'footage' }, object: { key, etag: 'e1', sequencer: '01' } },
  }),
});

describe('the answer to a successful SQS batch', () => {
  it('is an object of its own, so one batch cannot leak failures into the next', async () => {
    // Prepare
    const start = async () => true;

    // Act
    const first = await startFromSqs([message('m1', 'a.mov')], start, log);
    const second = await startFromSqs([message('m2', 'b.mov')], start, log);

    // Assess
    expect(second).toEqual({ batchItemFailures: [] });
    expect(second.batchItemFailures).not.toBe(first.batchItemFailures);
  });
});

describe('a delivery request too large for StartExecution', () => {
  it('is refused by start with what to send instead, and nothing is started', async () => {
    // Prepare: 250 keys of 1,024 characters (the most a request may name): a valid relay request, over 256 KiB as workflow input.
    const keys = Array.from({ length: 250 }, (_, i) => `${String(i).padStart(4, '0')}/${'k'.repeat(1019)}`);
    const started: string[] = [];
    const start = async (name: string) => {
      started.push(name);
      return true;
    };

    // Act
    const outcome = startFromPayload({ bucket: 'footage', keys }, start, log);

    // Assess
    await expect(outcome).rejects.toThrow(DeliveryRequestError);
    await expect(outcome).rejects.toThrow(
      /bytes as workflow input; Step Functions takes at most 262144\. Name fewer or shorter keys, or deliver them by "prefix"/,
    );
    expect(started).toEqual([]);
  });
});
