import { describe, expect, it } from 'vitest';
import { abortInputOf } from '../../functions/abort/abort-handler.js';
import { normalizeRelayRequest, parseWorkflowRequest } from '../../functions/core/delivery/request.js';
import { DeliveryRequestError } from '../../functions/core/errors.js';

const file = { bucket: 'bkt', key: 'a.mov' };

describe('the workflow input, parsed once where it enters a step', () => {
  it('takes the delivery request start produced as it is, without turning it back into a relay request', () => {
    const request = {
      deliveryId: 'a-mov-1',
      prefix: { bucket: 'bkt', prefix: 'show/' },
      marker: { key: 'show/.masv-relay.json', etag: 'e1' },
      package: { name: 'Show' },
    };
    expect(parseWorkflowRequest(request)).toEqual(request);
  });

  it('gives the same delivery request for a relay request sent to StartExecution and its normalized form', () => {
    const relay = { bucket: 'bkt', keys: ['a.mov', 'b.mov'], link: { email: 'x@example.com' } };
    const normalized = normalizeRelayRequest(relay);
    expect(normalized).toEqual({
      files: [file, { bucket: 'bkt', key: 'b.mov' }],
      link: { email: 'x@example.com' },
    });
    expect(parseWorkflowRequest(relay)).toEqual(normalized);
    expect(parseWorkflowRequest(normalized)).toEqual(normalized);
  });

  it('reads a relay request given to StartExecution as start would, even with a top-level versionId beside files', () => {
    // Prepare: a relay request start accepts (relayRequestSchema has versionId; with files it is ignored).
    const relay = { files: [{ bucket: 'bkt', key: 'a.mov' }], versionId: 'v1' };
    const viaStart = normalizeRelayRequest(relay);

    // Act: the same request as the workflow's own input (Prepare's and Abort's parse).
    const viaWorkflow = () => parseWorkflowRequest(relay);

    // Assess
    expect(viaStart).toEqual({ files: [{ bucket: 'bkt', key: 'a.mov' }] });
    expect(viaWorkflow).not.toThrow();
  });

  it('refuses fields the delivery request does not have, by name', () => {
    expect(() => parseWorkflowRequest({ files: [file], prepared: {} })).toThrow(
      /unknown field\(s\) prepared/,
    );
  });

  it('refuses a delivery request with both files and prefix, or neither', () => {
    expect(() => parseWorkflowRequest({ files: [file], prefix: { bucket: 'bkt', prefix: 'p/' } })).toThrow(
      /exactly one of files or prefix; it has both/,
    );
    expect(() => parseWorkflowRequest({ package: { name: 'x' } })).toThrow(/it has neither/);
  });

  it('applies the same cross-field rules to both shapes: a marker outside the folder, a file named twice', () => {
    const outside = { key: 'other/.masv-relay.json' };
    expect(() =>
      parseWorkflowRequest({ prefix: { bucket: 'bkt', prefix: 'show/' }, marker: outside }),
    ).toThrow(/marker "other\/.masv-relay.json" must be an object inside its "prefix" folder/);
    expect(() => parseWorkflowRequest({ bucket: 'bkt', prefix: 'show/', marker: outside })).toThrow(
      /must be an object inside its "prefix" folder/,
    );
    expect(() => parseWorkflowRequest({ files: [file, file] })).toThrow(/names s3:\/\/bkt\/a.mov twice/);
    expect(() => parseWorkflowRequest({ bucket: 'bkt', keys: ['a.mov', 'a.mov'] })).toThrow(
      DeliveryRequestError,
    );
  });
});

describe('Abort receives the validated request, or none', () => {
  const error = { Error: 'SourceNotFoundError', Cause: 'gone' };

  it('from the Catch: the request without the workflow state around it', () => {
    const prepared = undefined;
    const input = abortInputOf({
      deliveryId: 'd1',
      delivery: { files: [file], deliveryId: 'd1', error, prepared },
    });
    expect(input).toEqual({
      deliveryId: 'd1',
      request: { files: [file], deliveryId: 'd1' },
      prepared,
      error,
    });
  });

  it('from the Catch when the input itself was the failure: no request, so no sources to tag', () => {
    const input = abortInputOf({ deliveryId: 'd2', delivery: { files: [{ bucket: 'b' }], error } });
    expect(input).toEqual({ deliveryId: 'd2', prepared: undefined, error });
  });

  it('from the Catch when Prepare refused the request: the well-formed sources it names, to tag and report', () => {
    const refused = { files: [file, { bucket: 'b' }], package: { recipients: ['not-an-email'] }, error };
    expect(abortInputOf({ deliveryId: 'd4', delivery: refused }).request).toEqual({ files: [file] });
    const relay = { bucket: 'bkt', keys: ['a.mov', 'a.mov'], error };
    expect(abortInputOf({ deliveryId: 'd5', delivery: relay }).request).toEqual({ files: [file] });
  });

  it('from the sweep rule: the execution input parsed the same way', () => {
    const input = abortInputOf({
      'detail-type': 'Step Functions Execution Status Change',
      detail: { name: 'd3', status: 'TIMED_OUT', input: JSON.stringify({ bucket: 'bkt', key: 'a.mov' }) },
    });
    expect(input.request).toEqual({ files: [file] });
    expect(input.error).toEqual({
      Error: 'States.Timeout',
      Cause: 'The execution ended TIMED_OUT before its Abort step could run.',
    });
  });
});
