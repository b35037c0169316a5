import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/core/config.js';
import { configProblems, minimalTeamConfig } from '../helpers/config.js';

describe('parseConfig', () => {
  it('fills defaults for a minimal Team configuration', () => {
    expect(parseConfig(minimalTeamConfig)).toMatchObject({
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
    [{ ...minimalTeamConfig, transfer: { partSizeMiB: 4 } }, 'transfer.partSizeMiB', 'between 5 and 5120'],
    [{ ...minimalTeamConfig, transfer: { mapConcurrency: 41 } }, 'transfer.mapConcurrency', '1 to 40'],
    [{ ...minimalTeamConfig, package: { recipients: ['x@'] } }, 'package.recipients.0', '"x@"'],
    [
      { ...minimalTeamConfig, source: { existingBucketName: 's3://bucket' } },
      'source.existingBucketName',
      'bucket name only',
    ],
    [
      { ...minimalTeamConfig, masv: { ...minimalTeamConfig.masv, apiUrl: 'ftp://x' } },
      'masv.apiUrl',
      'http(s) URL',
    ],
    [
      { ...minimalTeamConfig, source: { noncurrentVersionDays: 1 } },
      'source.noncurrentVersionDays',
      'must finish (up to 48 hours) before it expires',
    ],
    [{ ...minimalTeamConfig, colour: 'red' }, '(root)', 'unknown field(s) colour'],
  ])('reports %j naming the field, the value and the fix', (input, field, text) => {
    const [problem] = configProblems(input);
    expect(problem).toContain(`${field}:`);
    expect(problem).toContain(text);
    expect(problem).toMatch(/Fix: /);
  });

  it('refuses a prefix rule no relayed key can match, naming the rule, source.prefix and the fix', () => {
    const problems = configProblems({
      ...minimalTeamConfig,
      source: { prefix: 'outgoing/' },
      prefixRules: [{ prefix: 'clients/acme/', package: { recipients: ['post@acme.example'] } }],
    });
    expect(problems).toEqual([
      expect.stringMatching(
        /^prefixRules\.0\.prefix: the rule lies outside source\.prefix "outgoing\/".*\(got "clients\/acme\/"\)\. Fix: start the rule's prefix with "outgoing\/" \(e\.g\. "outgoing\/clients\/acme\/"\)/,
      ),
    ]);
  });

  it('accepts prefix rules inside source.prefix and rules that cover all of it', () => {
    const config = parseConfig({
      ...minimalTeamConfig,
      source: { prefix: 'outgoing/clients/' },
      prefixRules: [{ prefix: 'outgoing/clients/acme/' }, { prefix: 'outgoing/' }],
    });
    expect(config.prefixRules.map((r) => r.prefix)).toEqual(['outgoing/clients/acme/', 'outgoing/']);
  });

  it('refuses an alarm email beside an alarm topic, which would be silently ignored', () => {
    const [problem] = configProblems({
      ...minimalTeamConfig,
      notifications: { alarmEmail: 'ops@example.com', snsTopicArn: 'arn:aws:sns:us-east-1:123456789012:ops' },
    });
    expect(problem).toMatch(
      /^notifications\.alarmEmail: not used when notifications\.snsTopicArn is set.*\(got "ops@example\.com"\)\. Fix: remove notifications\.alarmEmail/,
    );
  });
});
