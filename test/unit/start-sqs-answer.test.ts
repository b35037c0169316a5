import { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it } from 'vitest';
import { startFromSqs } from '../../functions/core/steps/start.js';

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
