import { Logger } from '@aws-lambda-powertools/logger';
import { GetObjectTaggingCommand, PutObjectTaggingCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import {
  abortInputOf,
  createAbortHandler,
  withExecutionDetails,
} from '../../functions/abort/abort-handler.js';
import { sfnExecutions } from '../../functions/abort/sfn-executions.js';
import type { PreparedDelivery } from '../../functions/core/delivery/request.js';
import { MasvServerError } from '../../functions/core/errors.js';
import type { MasvClient } from '../../functions/core/masv/client.js';
import type {
  FinalizeMark,
  PackageGeneration,
  StateBucket,
} from '../../functions/core/state/state-bucket.js';
import { abortDelivery, causeMessage } from '../../functions/core/steps/abort.js';
import {
  handlerError,
  MAX_CAUSE_CHARS,
  runtimeExited,
  taskErrorCause,
} from '../../local/workflow/aws-limits.js';
import { lambdaContext } from '../../local/workflow/lambda-context.js';
import { stepDeps } from '../helpers/step-deps.js';

/**
 * Abort's decisions with injected dependencies: an in-memory state bucket and MASV, so each row of
 * the decision table is one test (Prepare / Act / Assess).
 */
interface Fakes {
  generations?: PackageGeneration[];
  marks?: FinalizeMark[];
  delivered?: unknown;
  masvState?: Record<string, string>;
  deleteFails?: boolean;
  storeDown?: boolean;
  target?: 'team' | 'portal';
}

function arrange(fakes: Fakes) {
  const deleted: string[] = [];
  const cleared: Array<{ deliveryId: string; kept: string[] }> = [];
  const keys = (fakes.generations ?? []).map(
    (g) => `deliveries/package/d1/${String(g.generation).padStart(4, '0')}.json`,
  );
  const down = async () => {
    if (fakes.storeDown) throw new Error("The relay's state bucket failed transiently: SlowDown.");
  };
  const stateBucket = {
    delivered: async () => fakes.delivered,
    packageGenerations: async () => {
      await down();
      return fakes.generations ?? [];
    },
    packageRecords: async () => {
      await down();
      return (fakes.generations ?? []).flatMap((g) =>
        g.record ? [{ generation: g.generation, record: g.record }] : [],
      );
    },
    marks: async () => {
      await down();
      return new Set(fakes.marks ?? []);
    },
    markDelivered: async () => true,
    markAborted: async () => true,
    aborted: async () => undefined,
    markOnce: async () => true,
    isRecordOf: (key: string, generation: number) =>
      key.endsWith(`/${String(generation).padStart(4, '0')}.json`),
    clear: async (deliveryId: string, keep: (key: string) => boolean = () => false) => {
      cleared.push({ deliveryId, kept: keys.filter(keep) });
    },
  } as unknown as StateBucket;
  const masv = {
    getTeamPackage: async (_team: string, _key: string, id: string) => ({
      id,
      state: fakes.masvState?.[id] ?? 'new',
      token: 'fresh',
    }),
    deletePackage: async (access: { packageId: string }) => {
      if (fakes.deleteFails) throw new MasvServerError('MASV DELETE answered 500.');
      deleted.push(access.packageId);
    },
    createLink: async () => ({ id: 'L' }),
  } as unknown as MasvClient;
  const deps = stepDeps({ masv, stateBucket, target: fakes.target });
  return { deps, deleted, cleared, events: deps.events };
}

const record = (generation: number, packageId: string): PackageGeneration => ({
  generation,
  record: { packageId, owner: 'team', token: 't' },
});

const prepared: PreparedDelivery = {
  deliveryId: 'd1',
  package: { id: 'P2', owner: 'team' },
  files: [],
  batches: [],
};

const failure = { Error: 'MasvServerError', Cause: '{"errorMessage":"MASV answered 503"}' };

describe('abort step', () => {
  it('deletes every package a Prepare attempt recorded, then clears the records', async () => {
    const { deps, deleted, cleared, events } = arrange({ generations: [record(1, 'P1'), record(2, 'P2')] });

    const result = await abortDelivery(deps, { deliveryId: 'd1', prepared, error: failure });

    expect(deleted).toEqual(['P1', 'P2']);
    expect(result).toMatchObject({ delivered: false, packageId: 'P2', packageDeleted: true });
    expect(cleared).toEqual([{ deliveryId: 'd1', kept: [] }]);
    expect(events.events.map((e) => e.detailType)).toEqual(['MASV Relay Delivery Failed']);
  });

  it('never deletes a package marked finalized: it completes the delivery instead', async () => {
    const { deps, deleted, events } = arrange({
      generations: [record(1, 'P2')],
      marks: ['package-finalizing', 'package-finalized'],
    });

    const result = await abortDelivery(deps, { deliveryId: 'd1', prepared, error: failure });

    expect(deleted).toEqual([]);
    expect(result).toMatchObject({ delivered: true, packageId: 'P2' });
    expect(events.events.map((e) => e.detailType)).toEqual(['MASV Relay Delivery Succeeded']);
  });

  it('reads MASV when finalize was asked but not confirmed: finalized there means delivered', async () => {
    const { deps, deleted } = arrange({
      generations: [record(1, 'P2')],
      marks: ['package-finalizing'],
      masvState: { P2: 'finalized' },
    });

    const result = await abortDelivery(deps, { deliveryId: 'd1', prepared, error: failure });

    expect(deleted).toEqual([]);
    expect(result.delivered).toBe(true);
  });

  it('deletes nothing on doubt when MASV cannot be asked (Portal) after finalize was requested', async () => {
    const { deps, deleted, cleared } = arrange({
      generations: [record(1, 'P2')],
      marks: ['package-finalizing'],
      target: 'portal',
    });

    const result = await abortDelivery(deps, { deliveryId: 'd1', prepared, error: failure });

    expect(deleted).toEqual([]);
    expect(result).toMatchObject({ delivered: false, possiblyDelivered: true, packageDeleted: false });
    expect(cleared).toEqual([]);
  });

  it('never deletes a recorded Team package that MASV reports finalized, whatever the marks say', async () => {
    const { deps, deleted } = arrange({ generations: [record(1, 'P2')], masvState: { P2: 'finalized' } });

    const result = await abortDelivery(deps, { deliveryId: 'd1', prepared, error: failure });

    expect(deleted).toEqual([]);
    expect(result).toMatchObject({ packagesNotDeleted: ['P2'] });
  });

  it('keeps the record of a package whose delete failed, and names it in the failure event', async () => {
    const { deps, cleared, events } = arrange({ generations: [record(1, 'P2')], deleteFails: true });

    await abortDelivery(deps, { deliveryId: 'd1', prepared, error: failure });

    expect(cleared).toEqual([{ deliveryId: 'd1', kept: ['deliveries/package/d1/0001.json'] }]);
    expect(events.events[0]!.detail).toMatchObject({ packageDeleted: false, packagesNotDeleted: ['P2'] });
  });

  it('decides nothing when it cannot read the records: it fails, so its Retry runs it again', async () => {
    const { deps, deleted, events } = arrange({ generations: [record(1, 'P2')], storeDown: true });

    await expect(abortDelivery(deps, { deliveryId: 'd1', prepared, error: failure })).rejects.toThrow(
      /SlowDown/,
    );

    expect(deleted).toEqual([]);
    expect(events.events).toEqual([]);
  });

  it('reports an earlier success unchanged when the delivery had already been remembered', async () => {
    const remembered = { deliveryId: 'd1', packageId: 'P2', files: 1, bytes: 10, followUpFailures: [] };
    const { deps, deleted, events } = arrange({ delivered: remembered, generations: [record(1, 'P2')] });

    const result = await abortDelivery(deps, { deliveryId: 'd1', prepared, error: failure });

    expect(result).toEqual({ ...remembered, delivered: true });
    expect(deleted).toEqual([]);
    expect(events.events).toEqual([]);
  });
});

describe('the failed tag on a source', () => {
  it('carries the reason cut once, by the tag rules, with the ellipsis they promise', async () => {
    // Prepare: a long reason, and a source bucket that keeps what is put on it.
    const s3 = new S3Client({ region: 'us-east-1' });
    const tagging = mockClient(s3);
    tagging.on(GetObjectTaggingCommand).resolves({ TagSet: [] });
    tagging.on(PutObjectTaggingCommand).resolves({});
    const { deps } = arrange({});
    const cause = JSON.stringify({ errorMessage: `Source unreadable: ${'x'.repeat(400)}` });

    // Act
    await abortDelivery(
      { ...deps, s3 },
      {
        deliveryId: 'd1',
        request: { files: [{ bucket: 'src', key: 'a.mov' }] },
        error: { Error: 'SourceNotFoundError', Cause: cause },
      },
    );

    // Assess
    const put = tagging.commandCalls(PutObjectTaggingCommand)[0]!.args[0].input;
    const reason = put.Tagging?.TagSet?.find((t) => t.Key === 'masv-relay:reason')?.Value ?? '';
    expect(reason).toHaveLength(256);
    expect(reason.startsWith('SourceNotFoundError: Source unreadable: xxx')).toBe(true);
    expect(reason.endsWith('...')).toBe(true);
  });
});

describe('the sweep: Abort from an execution status change', () => {
  it('turns the status change into an Abort input, with the request from the execution input', () => {
    const input = abortInputOf({
      'detail-type': 'Step Functions Execution Status Change',
      detail: {
        name: 'clip-mov-abc',
        status: 'TIMED_OUT',
        input: JSON.stringify({ files: [{ bucket: 'src', key: 'clip.mov' }] }),
      },
    });
    expect(input).toMatchObject({
      deliveryId: 'clip-mov-abc',
      sweep: true,
      request: { files: [{ bucket: 'src', key: 'clip.mov' }] },
      error: { Error: 'States.Timeout' },
    });
  });

  it('reads the input, error and cause the event left out (customer managed key) with DescribeExecution', async () => {
    const sfn = mockClient(SFNClient);
    const executionArn = 'arn:aws:states:us-east-1:123456789012:execution:masv-relay:clip-mov-abc';
    sfn.on(DescribeExecutionCommand, { executionArn }).resolves({
      status: 'FAILED',
      input: JSON.stringify({ files: [{ bucket: 'src', key: 'clip.mov' }] }),
      error: 'States.DataLimitExceeded',
      cause: 'The input of state "Prepare" is 300000 bytes, over the 262144-byte (256 KiB) quota.',
    });
    const { deps } = arrange({});
    const event = {
      'detail-type': 'Step Functions Execution Status Change' as const,
      detail: { executionArn, name: 'clip-mov-abc', status: 'FAILED', input: null, error: null, cause: null },
    };
    try {
      const complete = await withExecutionDetails({ ...deps, executions: sfnExecutions() }, event);
      expect(abortInputOf(complete)).toMatchObject({
        deliveryId: 'clip-mov-abc',
        sweep: true,
        request: { files: [{ bucket: 'src', key: 'clip.mov' }] },
        error: { Error: 'States.DataLimitExceeded', Cause: expect.stringMatching(/^The input of state/) },
      });
      // An event that carries the input is taken as it is.
      const plain = { ...event, detail: { ...event.detail, input: complete.detail.input } };
      expect(await withExecutionDetails({ ...deps, executions: sfnExecutions() }, plain)).toBe(plain);
      expect(sfn.commandCalls(DescribeExecutionCommand)).toHaveLength(1);
      // Without a way to read the execution, Abort fails (and is retried) rather than guess.
      await expect(withExecutionDetails(deps, event)).rejects.toThrow(/DescribeExecution/);
    } finally {
      sfn.restore();
    }
  });

  it('reads no execution when an outcome mark already settles the delivery (the routine failure)', async () => {
    const executionArn = 'arn:aws:states:us-east-1:123456789012:execution:masv-relay:d1';
    const event = {
      'detail-type': 'Step Functions Execution Status Change' as const,
      detail: { executionArn, name: 'd1', status: 'FAILED', input: null, error: null, cause: null },
    };
    const sweep = async (marks: { aborted?: unknown; delivered?: unknown }) => {
      const { deps, deleted } = arrange({ generations: [record(1, 'P2')], delivered: marks.delivered });
      (deps.stateBucket as unknown as { aborted: () => Promise<unknown> }).aborted = async () =>
        marks.aborted;
      const described: string[] = [];
      const executions = {
        describe: async (arn: string) => {
          described.push(arn);
          return { status: 'FAILED', error: 'States.DataLimitExceeded', cause: 'over the quota' };
        },
      };
      const handler = createAbortHandler(async () => ({ ...deps, executions }), {
        logger: new Logger({ logLevel: 'SILENT' }),
      });
      const result = await handler(event, lambdaContext('abort', 10_000));
      return { result, described, deleted };
    };

    const aborted = await sweep({ aborted: { deliveryId: 'd1' } });
    expect(aborted.described).toEqual([]);
    expect(aborted.result).toMatchObject({ alreadyHandled: true });
    expect(aborted.deleted).toEqual([]);

    const delivered = await sweep({ delivered: { packageId: 'P2', followUpFailures: [] } });
    expect(delivered.described).toEqual([]);
    expect(delivered.result).toMatchObject({ delivered: true, packageId: 'P2' });
    expect(delivered.deleted).toEqual([]);

    // Neither mark: the execution is read, then Abort runs on what it tells.
    const unsettled = await sweep({});
    expect(unsettled.described).toEqual([executionArn]);
    expect(unsettled.result).toMatchObject({ delivered: false, error: 'States.DataLimitExceeded' });
  });

  it('does nothing when the workflow’s own Abort already handled the delivery', async () => {
    const { deps, deleted, events } = arrange({ generations: [record(1, 'P2')] });
    (deps.stateBucket as unknown as { aborted: () => Promise<unknown> }).aborted = async () => ({
      deliveryId: 'd1',
    });

    const result = await abortDelivery(deps, { deliveryId: 'd1', sweep: true, error: failure });

    expect(result).toMatchObject({ alreadyHandled: true });
    expect(deleted).toEqual([]);
    expect(events.events).toEqual([]);
  });
});

describe("Abort's reason from the Cause Step Functions gives", () => {
  const causeOf = (error: Error) => taskErrorCause(handlerError(error));

  it('is the errorMessage of a Lambda error JSON, without its type or stack trace', () => {
    const error = Object.assign(new Error('MASV answered 500 on "add file"'), { name: 'MasvServerError' });
    expect(causeMessage(causeOf(error))).toBe('MASV answered 500 on "add file"');
    const exited = taskErrorCause(runtimeExited('r-1', 'signal: killed'));
    expect(causeMessage(exited)).toBe('RequestId: r-1 Error: Runtime exited with error: signal: killed');
  });

  it('is still the message when the Cause was cut at 32,768 characters inside it', () => {
    const long = `Source "clip.mov" unreadable: ${'\\"x\\" '.repeat(9_000)}`;
    const cause = causeOf(Object.assign(new Error(long), { name: 'SourceNotFoundError' }));
    expect(cause).toHaveLength(MAX_CAUSE_CHARS);
    expect(() => JSON.parse(cause)).toThrow();
    const message = causeMessage(cause);
    expect(message.startsWith('Source "clip.mov" unreadable: \\"x\\" ')).toBe(true);
    expect(long.startsWith(message)).toBe(true);
  });

  it('is the cause itself when it is not a Lambda error, and says so when there is none', () => {
    expect(causeMessage('The execution ended TIMED_OUT before its Abort step could run.')).toBe(
      'The execution ended TIMED_OUT before its Abort step could run.',
    );
    expect(causeMessage(undefined)).toBe('no details');
  });
});
