import { GetObjectTaggingCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonBytes } from '../../local/workflow/aws-limits.js';
import { LocalRelay, SOURCE_BUCKET } from '../../local/workflow/relay.js';
import { KiB, putSource, testRelayOptions } from '../helpers/local-relay.js';

/**
 * The sweep on a state machine with a customer managed key (the deployed one always has one): its
 * status-change event carries no input, output, error or cause, so Abort reads them with
 * DescribeExecution. An execution that ends before Prepare recorded anything is known to Abort
 * only through that read.
 */
const key = 'sweep/never-prepared.mov';
const name = 'sweep-never-prepared';
let relay: LocalRelay;
let request: { files: Array<{ bucket: string; key: string; etag: string }> };
const swept: Array<{ detail: Record<string, unknown> }> = [];

beforeAll(async () => {
  const probe = { files: [{ bucket: SOURCE_BUCKET, key, etag: 'e'.repeat(32) }] };
  // A payload quota just above the execution input: Prepare's own input (the request inside
  // {deliveryId, request}) breaks it, so the execution fails before Prepare runs, past every Catch.
  relay = await LocalRelay.start(testRelayOptions({ limits: { stateBytes: jsonBytes(probe) + 8 } }));
  const { etag } = await putSource(relay, key, 10 * KiB);
  request = { files: [{ bucket: SOURCE_BUCKET, key, etag }] };
  const abort = relay.lambdas.abort;
  const invoke = abort.invoke.bind(abort);
  abort.invoke = async (event) => {
    if ((event as { 'detail-type'?: string })['detail-type']) swept.push(event as never);
    return invoke(event);
  };
});
afterAll(() => relay.close());

describe('the sweep with a customer managed key', () => {
  it('publishes the failure with its files and reason, and tags the source, from DescribeExecution', async () => {
    expect(await relay.startExecution(name, request as never)).toBe(true);
    const outcome = await relay.deliveries.get(name)!.result;
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'States.DataLimitExceeded' });
    expect(relay.deliveries.get(name)!.events.some((e) => e.state?.name === 'Prepare')).toBe(true);
    expect(relay.deliveries.get(name)!.prepared).toBeUndefined();

    // The event Step Functions sends: no input, output, error or cause.
    expect(swept).toHaveLength(1);
    expect(swept[0]!.detail).toMatchObject({
      name,
      status: 'FAILED',
      executionArn: expect.stringMatching(/:execution:masv-relay:sweep-never-prepared$/),
      input: null,
      inputDetails: { included: false },
      output: null,
      error: null,
      cause: null,
    });

    const failure = relay.events.events.find(
      (e) => e.detailType === 'MASV Relay Delivery Failed' && e.detail.deliveryId === name,
    );
    expect(failure?.detail).toMatchObject({
      error: 'States.DataLimitExceeded',
      reason: expect.stringMatching(/The input of state "Prepare" is \d+ bytes, over the \d+-byte/),
      files: [{ bucket: SOURCE_BUCKET, key }],
    });
    const tags = await relay.sourceClient.send(
      new GetObjectTaggingCommand({ Bucket: SOURCE_BUCKET, Key: key }),
    );
    const byKey = Object.fromEntries((tags.TagSet ?? []).map((t) => [t.Key, t.Value]));
    expect(byKey['masv-relay:status']).toBe('failed');
    expect(byKey['masv-relay:reason']).toMatch(/^States\.DataLimitExceeded: /);
  });
});
