import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalRelay, SOURCE_BUCKET } from '../../local/workflow/relay.js';
import {
  batchOperationsV1,
  batchOperationsV2,
  s3Notification,
  s3Record,
  snsEnvelope,
  snsLambdaEvent,
  sqsEvent,
  TOPIC_ARN,
} from '../helpers/aws-events.js';
import { expectDelivered, KiB, putSource, testRelayOptions } from '../helpers/local-relay.js';

let relay: LocalRelay;

beforeAll(async () => {
  relay = await LocalRelay.start(testRelayOptions({ config: { triggers: { snsTopicArns: [TOPIC_ARN] } } }));
});
afterAll(() => relay.close());

const notification = (key: string, eTag: string) =>
  JSON.stringify(s3Notification(s3Record(key, { bucket: SOURCE_BUCKET, eTag })));

/** Waits for the delivery started under `name` and checks it delivered `body` byte-exact. */
const deliveredAs = async (name: string, body: Buffer) =>
  expectDelivered(relay, await relay.deliveries.get(name)!.result, body);

describe('AWS trigger paths through the real workflow', () => {
  it('S3 → SNS → Lambda delivers the object', async () => {
    const { body, etag } = await putSource(relay, 'sns/direct clip.mov', 300 * KiB);
    const summary = (await relay.trigger(
      snsLambdaEvent(snsEnvelope(notification('sns/direct+clip.mov', etag))),
    )) as {
      started: string[];
    };
    const pkg = await deliveredAs(summary.started[0]!, body);
    expect(pkg.files[0]!.name).toBe('direct clip.mov');
  });

  it('S3 → SNS → SQS (envelope kept) delivers, and a malformed envelope beside it is reported for the DLQ', async () => {
    const { body, etag } = await putSource(relay, 'sns/queued.mov', 120 * KiB);
    const before = relay.deliveries.size;
    const result = await relay.trigger(
      sqsEvent(
        JSON.stringify(snsEnvelope(notification('sns/queued.mov', etag))),
        JSON.stringify(snsEnvelope('not json')),
      ),
    );
    expect(result).toEqual({
      batchItemFailures: [{ itemIdentifier: '059f36b4-87a3-44ab-83d2-661975132831' }],
    });
    expect(relay.deliveries.size).toBe(before + 1);
    await deliveredAs([...relay.deliveries.keys()].at(-1)!, body);
  });

  it('S3 Batch Operations (1.0 and 2.0) delivers each task and answers per task', async () => {
    const a = await putSource(relay, 'backlog/a.mov', 64 * KiB);
    const b = await putSource(relay, 'backlog/b.mov', 80 * KiB);
    const v1 = (await relay.trigger(batchOperationsV1('backlog/a.mov', null, SOURCE_BUCKET))) as {
      results: Array<{ resultCode: string; resultString: string }>;
    };
    expect(v1.results[0]!.resultCode).toBe('Succeeded');
    await deliveredAs(v1.results[0]!.resultString.replace('Delivery started: ', ''), a.body);

    const v2 = (await relay.trigger(
      batchOperationsV2(
        [
          { key: 'backlog/b.mov', bucket: SOURCE_BUCKET },
          { key: 'backlog/a.mov', bucket: 'elsewhere' },
        ],
        {
          name: 'Backlog {basename}',
          recipients: 'archive@example.com',
        },
      ),
    )) as { results: Array<{ resultCode: string; resultString: string }> };
    expect(v2.results.map((r) => r.resultCode)).toEqual(['Succeeded', 'PermanentFailure']);
    expect(v2.results[1]!.resultString).toMatch(/bucket "elsewhere".*only from its source bucket "source"/);
    const pkg = await deliveredAs(v2.results[0]!.resultString.replace('Delivery started: ', ''), b.body);
    expect(pkg).toMatchObject({ name: 'Backlog b.mov', recipients: ['archive@example.com'] });
  });
});
