import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { isAllowedAddress, parseConfig } from '../../functions/core/config.js';
import { resolvePackage } from '../../functions/core/delivery/package-settings.js';
import { DeliveryRequestError, NetworkError } from '../../functions/core/errors.js';
import type { SourceObject } from '../../functions/core/source/s3-source.js';
import {
  folderRuleFor,
  isMarkerKey,
  markerFolder,
  parseMarkerBody,
  readMarkerOverrides,
} from '../../functions/core/triggers/folder-marker.js';
import { configProblems, minimalTeamConfig } from '../helpers/config.js';
import { s3Failure } from '../helpers/s3-errors.js';

describe('configuration of triggers and access', () => {
  it('fills defaults: no topics, the _MASV_READY marker, no allow-list', () => {
    expect(parseConfig(minimalTeamConfig)).toMatchObject({
      triggers: { snsTopicArns: [], folderMarker: '_MASV_READY' },
      access: { requestAccountIds: [], recipientDomains: [] },
    });
    expect(parseConfig({ ...minimalTeamConfig, prefixRules: [{ prefix: 'a/' }] }).prefixRules[0]).toEqual({
      prefix: 'a/',
      delivery: 'object',
      package: {},
    });
  });

  it.each([
    [
      { prefixRules: [{ prefix: 'a/', delivery: 'folders' }] },
      /prefixRules\.0\.delivery: .*Fix: use "object".*or "folder"/,
    ],
    [
      { triggers: { snsTopicArns: ['footage-events'] } },
      /triggers\.snsTopicArns\.0: .*Fix: use full topic ARNs/,
    ],
    [
      { triggers: { folderMarker: 'a/READY' } },
      /triggers\.folderMarker: must be an object name without "\/"/,
    ],
    [{ access: { requestAccountIds: ['1234'] } }, /access\.requestAccountIds\.0: .*12-digit/],
    [{ access: { queueSenderArns: ['ops-role'] } }, /access\.queueSenderArns\.0: .*IAM role or user ARNs/],
    [
      { access: { recipientDomains: ['@example.com'] } },
      /access\.recipientDomains\.0: .*lower-case domain names/,
    ],
    [
      { access: { secretsKmsKeyArn: 'arn:aws:kms:us-east-1:123456789012:alias/secrets' } },
      /access\.secretsKmsKeyArn: .*not an alias/,
    ],
    [
      { source: { prefix: 'outgoing/' }, prefixRules: [{ prefix: 'folders/', delivery: 'folder' }] },
      /prefixRules\.0\.prefix: a folder rule must lie inside source\.prefix "outgoing\/" \(got "folders\/"\)/,
    ],
    [
      {
        package: { recipients: ['a@example.com', 'b@gmail.com'] },
        access: { recipientDomains: ['example.com'] },
      },
      /package: "b@gmail\.com" is outside access\.recipientDomains \(example\.com\)/,
    ],
    [
      {
        prefixRules: [{ prefix: 'x/', package: { linkEmail: 'ops@other.org' } }],
        access: { recipientDomains: ['example.com'] },
      },
      /prefixRules\.0\.package: "ops@other\.org" is outside/,
    ],
    // Anyone who may put events on the default bus (often granted broadly) could ask.
    [
      { access: { eventBusName: 'default' } },
      /access\.eventBusName: the default bus cannot carry relay requests/,
    ],
    [
      { access: { eventBusName: 'arn:aws:events:us-west-2:123456789012:event-bus/default' } },
      /access\.eventBusName: the default bus .*Fix: remove access\.eventBusName/,
    ],
  ])('refuses %j naming the field and the fix', (extra, message) => {
    expect(configProblems({ ...minimalTeamConfig, ...extra }).join('\n')).toMatch(message);
  });

  it('accepts a custom bus by name or ARN, even one whose name contains "default"', () => {
    for (const eventBusName of [
      'media-requests',
      'default-requests',
      'arn:aws:events:us-west-2:123456789012:event-bus/not-default',
    ])
      expect(parseConfig({ ...minimalTeamConfig, access: { eventBusName } }).access.eventBusName).toBe(
        eventBusName,
      );
  });

  it('matches allowed domains case-insensitively, subdomains included, look-alikes not', () => {
    expect(isAllowedAddress('Editor@Example.COM', ['example.com'])).toBe(true);
    expect(isAllowedAddress('a@post.example.com', ['example.com'])).toBe(true);
    expect(isAllowedAddress('a@badexample.com', ['example.com'])).toBe(false);
    expect(isAllowedAddress('a@example.com.evil.io', ['example.com'])).toBe(false);
    expect(isAllowedAddress('anyone@anywhere.io', [])).toBe(true);
  });
});

describe('folder rules and markers', () => {
  const config = parseConfig({
    ...minimalTeamConfig,
    prefixRules: [
      { prefix: 'folders/', delivery: 'folder' },
      { prefix: 'folders/singles/', package: { description: 'per object' } },
    ],
  });

  it('finds the longest rule, so a per-object rule inside a folder rule wins', () => {
    expect(folderRuleFor(config, 'folders/dcp/x.xml')?.prefix).toBe('folders/');
    expect(folderRuleFor(config, 'folders/singles/x.mov')).toBeUndefined();
    expect(folderRuleFor(config, 'elsewhere/x.mov')).toBeUndefined();
  });

  it('knows a marker by its exact name and gives its folder', () => {
    expect(markerFolder('folders/dcp/_MASV_READY', '_MASV_READY')).toBe('folders/dcp/');
    expect(markerFolder('_MASV_READY', '_MASV_READY')).toBe('');
    expect(markerFolder('folders/dcp/_MASV_READY.txt', '_MASV_READY')).toBeUndefined();
    expect(isMarkerKey('DONE')('a/b/DONE')).toBe(true);
  });

  it('reads an empty marker as no overrides, and JSON overrides like object metadata', () => {
    expect(parseMarkerBody('', 'm')).toEqual({});
    expect(parseMarkerBody(' \n', 'm')).toEqual({});
    expect(
      parseMarkerBody('{"name":"Reel 1","description":"","recipients":"a@example.com; b@example.com"}', 'm'),
    ).toEqual({
      name: 'Reel 1',
      description: '',
      recipients: ['a@example.com', 'b@example.com'],
    });
    expect(parseMarkerBody('{"recipients":["a@example.com"]}', 'm')).toEqual({
      recipients: ['a@example.com'],
    });
  });

  it.each([
    ['{"name": "x",', /marker s3:\/\/b\/f\/_MASV_READY is not valid JSON/],
    ['[1, 2]', /is invalid: \(root\):/],
    ['{"recipients": "a@example.com, nope"}', /invalid recipient "nope"/],
    ['{"recipients": []}', /recipients/],
    ['{"passwordSecretName": "x"}', /unknown field\(s\) passwordSecretName/],
    ['{"name": ""}', /name/],
  ])('refuses the marker body %s with a specific error', (body, message) => {
    expect(() => parseMarkerBody(body, 's3://b/f/_MASV_READY')).toThrow(DeliveryRequestError);
    expect(() => parseMarkerBody(body, 's3://b/f/_MASV_READY')).toThrow(message);
  });
});

describe('readMarkerOverrides', () => {
  const s3 = mockClient(S3Client);
  beforeEach(() => s3.reset());
  // The SDK's stream mixin, reduced to what the reader uses.
  const body = (text: string) => ({ transformToString: async () => text, destroy: () => undefined }) as never;

  it('reads the marker pinned to the version its event saw, or else its ETag', async () => {
    s3.on(GetObjectCommand).resolves({ Body: body('{"name":"N"}'), ContentLength: 12 });
    const client = new S3Client({});
    await expect(
      readMarkerOverrides(client, 'b', { key: 'f/_MASV_READY', versionId: 'v1', etag: 'e' }),
    ).resolves.toEqual({ name: 'N' });
    await readMarkerOverrides(client, 'b', { key: 'f/_MASV_READY', etag: 'e' });
    const calls = s3.commandCalls(GetObjectCommand).map((c) => c.args[0].input);
    expect(calls[0]).toMatchObject({ VersionId: 'v1', IfMatch: undefined });
    expect(calls[1]).toMatchObject({ VersionId: undefined, IfMatch: '"e"' });
  });

  it('refuses a marker too large to be overrides without reading it', async () => {
    s3.on(GetObjectCommand).resolves({ Body: body('x'), ContentLength: 10_000_000 });
    await expect(readMarkerOverrides(new S3Client({}), 'b', { key: 'f/_MASV_READY' })).rejects.toThrow(
      /10000000 bytes, more than 16384/,
    );
  });

  it('says a changed or deleted marker must be uploaded again, and lets a server error be retried', async () => {
    s3.on(GetObjectCommand)
      .rejectsOnce(s3Failure('PreconditionFailed', 412))
      .rejectsOnce(s3Failure('InternalError', 500));
    const client = new S3Client({});
    await expect(readMarkerOverrides(client, 'b', { key: 'f/_MASV_READY', etag: 'e' })).rejects.toThrow(
      /changed or deleted after it was created\. Upload the marker again/,
    );
    await expect(
      readMarkerOverrides(client, 'b', { key: 'f/_MASV_READY', etag: 'e' }),
    ).rejects.toBeInstanceOf(NetworkError);
  });
});

describe('recipient allow-list at prepare time', () => {
  const config = parseConfig({
    ...minimalTeamConfig,
    package: { recipients: ['desk@example.com'] },
    access: { recipientDomains: ['example.com'] },
  });
  const object = (metadata: Record<string, string> = {}): SourceObject => ({
    bucket: 'b',
    key: 'x/a.mov',
    etag: 'e',
    size: 1,
    lastModified: new Date(0),
    metadata,
  });
  const now = new Date(0);

  it('refuses addresses from object metadata, marker or request overrides, and the link, naming the address', () => {
    expect(() =>
      resolvePackage(config, [object({ 'masv-recipients': 'a@example.com,x@gmail.com' })], undefined, now),
    ).toThrow(/would send to "x@gmail\.com", outside the allowed recipient domains \(example\.com\)/);
    expect(() => resolvePackage(config, [object()], { recipients: ['y@evil.example'] }, now)).toThrow(
      /"y@evil\.example"/,
    );
    expect(() =>
      resolvePackage(config, [object()], undefined, now, { link: { email: 'l@outside.io' } }),
    ).toThrow(/"l@outside\.io"/);
    expect(
      resolvePackage(config, [object({ 'masv-recipients': 'post@uk.example.com' })], undefined, now)
        .recipients,
    ).toEqual(['post@uk.example.com']);
  });

  it('refuses a portal sender override outside the allowed domains (MASV emails the sender)', () => {
    const portal = parseConfig({
      masv: { target: { kind: 'portal', portalId: 'P', sender: 'ingest@example.com' } },
      access: { recipientDomains: ['example.com'] },
    });
    expect(() => resolvePackage(portal, [object()], { sender: 'someone@evil.example' }, now)).toThrow(
      /"someone@evil\.example", outside the allowed recipient domains \(example\.com\)/,
    );
    expect(resolvePackage(portal, [object()], { sender: 'desk@uk.example.com' }, now).sender).toBe(
      'desk@uk.example.com',
    );
  });

  it('names a folder delivery after its folder, without "(+N more)"', () => {
    const files = [object(), { ...object(), key: 'x/b.mov' }];
    expect(resolvePackage(config, files, undefined, now, { folder: 'drops/DCP_01/' }).name).toBe('DCP_01');
    expect(resolvePackage(config, files, undefined, now).name).toBe('a.mov (+1 more)');
  });
});
