import { join, resolve } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/core/config.js';
import { areaOf } from '../../functions/core/state/keys.js';
import { loadConfigFile } from '../../lib/config-file.js';
import { MasvRelayStack } from '../../lib/relay-stack.js';
import {
  type AuthorizationRequest,
  authorize,
  type IntrinsicResolver,
  type NamedPolicy,
  type PolicyDocument,
  resolveIntrinsics,
  type Statement,
} from '../../local/workflow/iam/index.js';
import { logicalIdIn, unbundledApp } from '../helpers/synth.js';

/** The cases of the IAM User Guide's "Policy evaluation logic" pages, then the relay's own template. */

const ACCOUNT = '123456789012';
const OTHER = '111122223333';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/transfer`;
const BUCKET = 'arn:aws:s3:::footage';
const KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;

const policy = (source: string, ...Statement: Statement[]): NamedPolicy => ({
  source,
  document: { Version: '2012-10-17', Statement },
});
const allow = (Action: string | string[], Resource: string | string[], extra: Partial<Statement> = {}) =>
  ({ Effect: 'Allow', Action, Resource, ...extra }) as Statement;
const request = (action: string, resource: string, extra: Partial<AuthorizationRequest> = {}) =>
  ({
    principal: { arn: ROLE, account: ACCOUNT },
    action,
    resource,
    resourceAccount: ACCOUNT,
    ...extra,
  }) as AuthorizationRequest;
const crossAccount = { principal: { arn: `arn:aws:iam::${OTHER}:role/partner`, account: OTHER } };

describe('the evaluation logic', () => {
  const readFootage = policy('role', allow('s3:GetObject', `${BUCKET}/*`));

  it('denies what nothing allows (implicit deny) and allows what an identity policy allows', () => {
    expect(authorize(request('s3:PutObject', `${BUCKET}/a`), { identity: [readFootage] }).decision).toBe(
      'ImplicitDeny',
    );
    const allowed = authorize(request('s3:GetObject', `${BUCKET}/a`), { identity: [readFootage] });
    expect(allowed).toEqual({ decision: 'Allow', matched: [expect.objectContaining({ source: 'role' })] });
  });

  it('lets an explicit Deny anywhere win over any Allow', () => {
    const deny = policy('bucket', {
      Sid: 'NoReads',
      Effect: 'Deny',
      Principal: '*',
      Action: 's3:*',
      Resource: `${BUCKET}/*`,
    });
    const result = authorize(request('s3:GetObject', `${BUCKET}/a`), {
      identity: [readFootage],
      resource: deny,
    });
    expect(result).toEqual({
      decision: 'ExplicitDeny',
      matched: [expect.objectContaining({ source: 'bucket', sid: 'NoReads', effect: 'Deny' })],
    });
  });

  it('allows in the same account on the resource policy alone', () => {
    const bucket = policy('bucket', allow('s3:GetObject', `${BUCKET}/*`, { Principal: { AWS: ROLE } }));
    expect(
      authorize(request('s3:GetObject', `${BUCKET}/a`), { identity: [], resource: bucket }).decision,
    ).toBe('Allow');
  });

  it('needs both the identity and the resource policy across accounts', () => {
    const bucket = policy('bucket', allow('s3:GetObject', `${BUCKET}/*`, { Principal: { AWS: OTHER } }));
    const partner = policy('partner', allow('s3:GetObject', '*'));
    const ask = request('s3:GetObject', `${BUCKET}/a`, crossAccount);
    expect(authorize(ask, { identity: [partner] }).decision).toBe('ImplicitDeny');
    expect(authorize(ask, { identity: [], resource: bucket }).decision).toBe('ImplicitDeny');
    expect(authorize(ask, { identity: [partner], resource: bucket }).decision).toBe('Allow');
  });

  it('limits identity grants to the permissions boundary', () => {
    const broad = policy('role', allow('s3:*', '*'));
    const boundary = policy('boundary', allow('s3:GetObject', '*'));
    expect(authorize(request('s3:GetObject', `${BUCKET}/a`), { identity: [broad], boundary }).decision).toBe(
      'Allow',
    );
    expect(authorize(request('s3:PutObject', `${BUCKET}/a`), { identity: [broad], boundary }).decision).toBe(
      'ImplicitDeny',
    );
  });

  describe('KMS', () => {
    const decrypt = policy('role', allow('kms:Decrypt', KEY));
    const ask = request('kms:Decrypt', KEY);

    it('ignores IAM allows unless the key policy delegates to the account root', () => {
      const silent = policy('key', allow('kms:*', '*', { Principal: { Service: 'logs.amazonaws.com' } }));
      expect(authorize(ask, { identity: [decrypt], keyPolicy: silent }).decision).toBe('ImplicitDeny');
      const root = policy('key', allow('kms:*', '*', { Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` } }));
      expect(authorize(ask, { identity: [decrypt], keyPolicy: root }).decision).toBe('Allow');
      expect(authorize(ask, { identity: [], keyPolicy: root }).decision).toBe('ImplicitDeny');
    });

    it('allows a principal the key policy names, in its account, without IAM', () => {
      const named = policy('key', allow('kms:Decrypt', '*', { Principal: { AWS: ROLE } }));
      expect(authorize(ask, { identity: [], keyPolicy: named }).decision).toBe('Allow');
    });

    it('lets a service principal in only through the key policy', () => {
      const events = { principal: { arn: 'events.amazonaws.com', isAWSService: true } };
      const forEvents = policy(
        'key',
        allow('kms:Decrypt', '*', { Principal: { Service: 'events.amazonaws.com' } }),
      );
      expect(authorize(request('kms:Decrypt', KEY, events), { keyPolicy: forEvents }).decision).toBe('Allow');
      expect(authorize(request('kms:Encrypt', KEY, events), { keyPolicy: forEvents }).decision).toBe(
        'ImplicitDeny',
      );
    });
  });

  describe('conditions', () => {
    const statement = (Condition: Statement['Condition']) =>
      policy('role', allow('s3:ListBucket', BUCKET, { Condition }));
    const decide = (Condition: Statement['Condition'], context?: AuthorizationRequest['context']) =>
      authorize(request('s3:ListBucket', BUCKET, context ? { context } : {}), {
        identity: [statement(Condition)],
      }).decision;

    it('matches s3:prefix with StringLike wildcards, any of several values', () => {
      const prefixes = { StringLike: { 's3:prefix': ['outgoing/*', 'in?/'] } };
      expect(decide(prefixes, { 's3:prefix': 'outgoing/a.mov' })).toBe('Allow');
      expect(decide(prefixes, { 's3:prefix': 'in1/' })).toBe('Allow');
      expect(decide(prefixes, { 's3:prefix': 'private/' })).toBe('ImplicitDeny');
      expect(decide(prefixes)).toBe('ImplicitDeny');
    });

    it('makes a missing key fail a positive operator, pass a negated one and any …IfExists', () => {
      expect(decide({ StringEquals: { 's3:prefix': 'a' } })).toBe('ImplicitDeny');
      expect(decide({ StringNotEquals: { 's3:prefix': 'a' } })).toBe('Allow');
      expect(decide({ StringNotEquals: { 's3:prefix': ['a', 'b'] } }, { 's3:prefix': 'b' })).toBe(
        'ImplicitDeny',
      );
      expect(decide({ StringEqualsIfExists: { 's3:prefix': 'a' } })).toBe('Allow');
      expect(decide({ StringEqualsIfExists: { 's3:prefix': 'a' } }, { 's3:prefix': 'b' })).toBe(
        'ImplicitDeny',
      );
      expect(
        decide({ BoolIfExists: { 'aws:SecureTransport': 'true' } }, { 'aws:SecureTransport': false }),
      ).toBe('ImplicitDeny');
    });

    it('ANDs operators and keys', () => {
      const both = { StringLike: { 's3:prefix': 'a*' }, StringEquals: { 's3:delimiter': '/' } };
      expect(decide(both, { 's3:prefix': 'ab', 's3:delimiter': '/' })).toBe('Allow');
      expect(decide(both, { 's3:prefix': 'ab' })).toBe('ImplicitDeny');
    });

    it('checks ArnLike component by component, with wildcards', () => {
      const rule = { ArnLike: { 'aws:SourceArn': 'arn:aws:events:*:123456789012:rule/Relay-*' } };
      expect(
        decide(rule, { 'aws:SourceArn': 'arn:aws:events:us-east-1:123456789012:rule/Relay-Sweep' }),
      ).toBe('Allow');
      expect(
        decide(rule, { 'aws:SourceArn': 'arn:aws:events:us-east-1:111122223333:rule/Relay-Sweep' }),
      ).toBe('ImplicitDeny');
      const anyRegion = { ArnLike: { 'aws:SourceArn': 'arn:aws:sqs:*:123456789012:q' } };
      expect(decide(anyRegion, { 'aws:SourceArn': 'arn:aws:sqs:us-east-1:123456789012:q' })).toBe('Allow');
      // A `*` stays within its component: it cannot swallow the region and the account together.
      expect(decide(anyRegion, { 'aws:SourceArn': 'arn:aws:sqs:us-east-1:9:123456789012:q' })).toBe(
        'ImplicitDeny',
      );
      expect(decide({ ArnNotLike: { 'aws:SourceArn': 'arn:aws:sqs:*:*:*' } })).toBe('Allow');
    });
  });

  it('applies NotAction to every action but the listed ones, case-insensitively', () => {
    const exceptDelete = policy('role', { Effect: 'Allow', NotAction: 's3:Delete*', Resource: '*' });
    expect(authorize(request('S3:getobject', `${BUCKET}/a`), { identity: [exceptDelete] }).decision).toBe(
      'Allow',
    );
    expect(authorize(request('s3:DeleteObject', `${BUCKET}/a`), { identity: [exceptDelete] }).decision).toBe(
      'ImplicitDeny',
    );
  });
});

describe('resolveIntrinsics', () => {
  const resolver: IntrinsicResolver = {
    resources: { Bucket: { ref: 'footage', attrs: { Arn: BUCKET } } },
    pseudo: { 'AWS::Partition': 'aws', 'AWS::AccountId': ACCOUNT, 'AWS::Region': 'us-east-1' },
  };

  it('resolves Ref, Fn::GetAtt, Fn::Join, Fn::Sub and pseudo parameters', () => {
    const value = {
      Resource: [
        { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Bucket', 'Arn'] }, '/*']] },
        // biome-ignore lint/suspicious/noTemplateCurlyInString: Fn::Sub's own syntax
        { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root' },
        // biome-ignore lint/suspicious/noTemplateCurlyInString: Fn::Sub's own syntax
        { 'Fn::Sub': ['${Name}-${Bucket.Arn}-${!Literal}', { Name: { Ref: 'Bucket' } }] },
      ],
    };
    expect(resolveIntrinsics(value, resolver)).toEqual({
      Resource: [`${BUCKET}/*`, `arn:aws:iam::${ACCOUNT}:root`, `footage-${BUCKET}-\${Literal}`],
    });
  });

  it('refuses what it cannot resolve instead of guessing', () => {
    expect(() => resolveIntrinsics({ Ref: 'Missing' }, resolver)).toThrow(/Missing/);
    expect(() => resolveIntrinsics({ 'Fn::Select': [0, []] }, resolver)).toThrow(/Fn::Select/);
  });
});

describe('the synthesized template', () => {
  const ROOT = resolve(import.meta.dirname, '../..');
  const stack = new MasvRelayStack(unbundledApp(), 'MasvRelay', {
    env: { account: ACCOUNT, region: 'us-east-1' },
    config: parseConfig(loadConfigFile(join(ROOT, 'config/example.config.jsonc'))),
  });
  const resources = Template.fromStack(stack).toJSON().Resources as Record<
    string,
    { Type: string; Properties: Record<string, unknown> }
  >;
  /** Every resource deployed under its logical id; buckets' ARNs as S3 writes them. */
  const resolver: IntrinsicResolver = {
    resources: Object.fromEntries(
      Object.entries(resources).map(([id, r]) => {
        const service = r.Type.split('::')[1]!.toLowerCase();
        const arn =
          service === 's3'
            ? `arn:aws:s3:::${id.toLowerCase()}`
            : `arn:aws:${service}:us-east-1:${ACCOUNT}:${id}`;
        return [id, { ref: id.toLowerCase(), attrs: { Arn: arn } }];
      }),
    ),
    pseudo: { 'AWS::Partition': 'aws', 'AWS::AccountId': ACCOUNT, 'AWS::Region': 'us-east-1' },
  };
  const document = (value: unknown) => resolveIntrinsics(value, resolver) as PolicyDocument;
  const rolePolicies = (fn: { role?: unknown }): NamedPolicy[] => {
    const roleId = logicalIdIn(stack, fn.role as never);
    return Object.entries(resources)
      .filter(([, r]) => r.Type === 'AWS::IAM::Policy')
      .filter(([, r]) => (r.Properties.Roles as Array<{ Ref: string }>).some((ref) => ref.Ref === roleId))
      .map(([id, r]) => ({ source: id, document: document(r.Properties.PolicyDocument) }));
  };
  const { relay } = stack;
  const stateBucketId = logicalIdIn(stack, relay.stateBucket);
  const stateObject = (key: string) => `${resolver.resources[stateBucketId]!.attrs!.Arn}/${key}`;
  const [bucketPolicy] = Object.entries(resources)
    .filter(([, r]) => r.Type === 'AWS::S3::BucketPolicy')
    .filter(([, r]) => (r.Properties.Bucket as { Ref: string }).Ref === stateBucketId)
    .map(([id, r]) => ({ source: id, document: document(r.Properties.PolicyDocument) }));
  const as = (fn: { role?: unknown }, action: string, key: string, secure = true) =>
    authorize(
      request(action, stateObject(key), {
        principal: {
          arn: `arn:aws:iam::${ACCOUNT}:role/${logicalIdIn(stack, fn.role as never)}`,
          account: ACCOUNT,
        },
        context: { 'aws:SecureTransport': secure },
      }),
      { identity: rolePolicies(fn), resource: bucketPolicy! },
    ).decision;

  it('lets Transfer write the parts ledger but not a package record', () => {
    expect(
      as(relay.functions.transfer, 's3:PutObject', `${areaOf('d-1', 'parts')}clip.mov/00001.abc~1`),
    ).toBe('Allow');
    expect(as(relay.functions.transfer, 's3:PutObject', `${areaOf('d-1', 'package')}0001.json`)).toBe(
      'ImplicitDeny',
    );
  });

  it('never lets Prepare delete a state record', () => {
    for (const area of ['package', 'parts', 'finalized'] as const) {
      expect(as(relay.functions.prepare, 's3:DeleteObject', `${areaOf('d-1', area)}x`)).toBe('ImplicitDeny');
    }
  });

  it("denies plain HTTP through the bucket policy's TLS statement", () => {
    const result = authorize(
      request('s3:PutObject', stateObject(`${areaOf('d-1', 'parts')}clip.mov/00001.abc~1`), {
        principal: { arn: `arn:aws:iam::${ACCOUNT}:role/transfer`, account: ACCOUNT },
        context: { 'aws:SecureTransport': false },
      }),
      { identity: rolePolicies(relay.functions.transfer), resource: bucketPolicy! },
    );
    expect(result).toEqual({
      decision: 'ExplicitDeny',
      matched: [expect.objectContaining({ source: bucketPolicy!.source })],
    });
    expect(as(relay.functions.transfer, 's3:PutObject', `${areaOf('d-1', 'parts')}x`, false)).toBe(
      'ExplicitDeny',
    );
  });
});
