import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../functions/core/config.js';

const valid = { masv: { target: { kind: 'team', teamId: 'T', apiKeySecretName: 'masv/api-key' } } };

function problems(input: unknown): string[] {
  try {
    parseConfig(input);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  it('fills defaults for a minimal Team configuration', () => {
    expect(parseConfig(valid)).toMatchObject({
      masv: { apiUrl: 'https://api.massive.app' },
      transfer: { partSizeMiB: 100, mapConcurrency: 10, partConcurrency: 4 },
    });
  });

  it.each([
    [
      { masv: { target: { kind: 'team', teamId: 'T' } } },
      'masv.target.apiKeySecretName',
      'store the API key in Secrets Manager',
    ],
    [{ masv: { target: { kind: 'teams', teamId: 'T' } } }, 'masv.target.kind', '"team"'],
    [
      { masv: { target: { kind: 'portal', portalId: 'P', sender: 'nobody' } } },
      'masv.target.sender',
      '"nobody"',
    ],
    [{ ...valid, transfer: { partSizeMiB: 4 } }, 'transfer.partSizeMiB', 'between 5 and 5120'],
    [{ ...valid, transfer: { mapConcurrency: 41 } }, 'transfer.mapConcurrency', '1 to 40'],
    [{ ...valid, package: { recipients: ['x@'] } }, 'package.recipients.0', '"x@"'],
    [
      { ...valid, source: { existingBucketName: 's3://bucket' } },
      'source.existingBucketName',
      'bucket name only',
    ],
    [{ ...valid, masv: { ...valid.masv, apiUrl: 'ftp://x' } }, 'masv.apiUrl', 'http(s) URL'],
    [{ ...valid, colour: 'red' }, '(root)', 'unknown field(s) colour'],
  ])('reports %j naming the field, the value and the fix', (input, field, text) => {
    const [problem] = problems(input);
    expect(problem).toContain(`${field}:`);
    expect(problem).toContain(text);
    expect(problem).toMatch(/Fix: /);
  });
});
