import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/core/config.js';
import { renderName, resolvePackage } from '../../functions/core/delivery/package-settings.js';
import { DeliveryRequestError } from '../../functions/core/errors.js';
import type { SourceObject } from '../../functions/core/source/s3-source.js';

const config = parseConfig({
  masv: { target: { kind: 'team', teamId: 'T', apiKeySecretName: 'masv/api-key' } },
  package: {
    recipients: ['default@example.com'],
    description: 'default description',
    nameTemplate: '{basename}',
  },
  prefixRules: [
    { prefix: 'clients/', package: { recipients: ['clients@example.com'] } },
    {
      prefix: 'clients/acme/',
      package: { recipients: ['acme@example.com'], nameTemplate: 'ACME {date} {basename}' },
    },
  ],
});

const object = (key: string, metadata: Record<string, string> = {}): SourceObject => ({
  bucket: 'b',
  key,
  etag: 'e',
  size: 1,
  lastModified: new Date(0),
  metadata,
});
const now = new Date('2026-11-27T12:00:00Z');

describe('resolvePackage', () => {
  it('uses configuration defaults', () => {
    expect(resolvePackage(config, [object('x/a.mov')], undefined, now)).toMatchObject({
      name: 'a.mov',
      description: 'default description',
      recipients: ['default@example.com'],
    });
  });

  it('lets the longest matching prefix rule override the defaults', () => {
    expect(resolvePackage(config, [object('clients/acme/a.mov')], undefined, now)).toMatchObject({
      name: 'ACME 2026-11-27 a.mov',
      recipients: ['acme@example.com'],
    });
    expect(resolvePackage(config, [object('clients/other/a.mov')], undefined, now).recipients).toEqual([
      'clients@example.com',
    ]);
  });

  it('lets object metadata override prefix rules, and the request override everything', () => {
    const o = object('clients/acme/a.mov', {
      'masv-recipients': 'x@example.com, y@example.com',
      'masv-name': 'From metadata',
    });
    expect(resolvePackage(config, [o], undefined, now)).toMatchObject({
      name: 'From metadata',
      recipients: ['x@example.com', 'y@example.com'],
    });
    expect(
      resolvePackage(config, [o], { recipients: ['z@example.com'], name: 'Request' }, now),
    ).toMatchObject({
      name: 'Request',
      recipients: ['z@example.com'],
    });
  });

  it('refuses invalid recipients in object metadata, naming the metadata key', () => {
    expect(() =>
      resolvePackage(config, [object('a.mov', { 'masv-recipients': 'not-an-email' })], undefined, now),
    ).toThrow(/x-amz-meta-masv-recipients/);
  });

  it('refuses a Team delivery with no recipients, saying where to set them', () => {
    const bare = parseConfig({ masv: { target: { kind: 'team', teamId: 'T', apiKeySecretName: 's' } } });
    expect(() => resolvePackage(bare, [object('a.mov')], undefined, now)).toThrow(DeliveryRequestError);
    expect(() => resolvePackage(bare, [object('a.mov')], undefined, now)).toThrow(/package\.recipients/);
  });

  it('uses the portal sender and form id for Portal targets and needs no recipients', () => {
    const portal = parseConfig({
      masv: { target: { kind: 'portal', portalId: 'P', sender: 's@example.com', formDataId: 'F' } },
    });
    expect(resolvePackage(portal, [object('a.mov')], undefined, now)).toMatchObject({
      sender: 's@example.com',
      formDataId: 'F',
      recipients: [],
    });
  });

  it('names a multi-file package after the first file and the count', () => {
    expect(resolvePackage(config, [object('x/a.mov'), object('x/b.mov')], undefined, now).name).toBe(
      'a.mov (+1 more)',
    );
  });
});

describe('renderName', () => {
  it('fills every placeholder', () => {
    expect(renderName('{prefix}|{basename}|{key}|{date}', 'a/b/c.mov', now)).toBe(
      'a/b|c.mov|a/b/c.mov|2026-11-27',
    );
  });
});
