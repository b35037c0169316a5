import { describe, expect, it } from 'vitest';
import { renderDefinition } from '../../local/deployed/definition.js';
import { resolveEnvironment } from '../../local/deployed/intrinsics.js';
import type { Deployment } from '../../local/deployed/read-deployment.js';

const names = {
  Bucket1: { ref: 'state-bucket', Arn: 'arn:aws:s3:::state-bucket' },
  Queue1: { ref: 'http://localhost/q', Arn: 'arn:aws:sqs:us-east-1:000000000000:q', QueueName: 'q' },
};

describe('resolveEnvironment', () => {
  it('resolves Ref, Fn::GetAtt (both forms), Fn::Join, Fn::Sub and pseudo parameters', () => {
    expect(
      resolveEnvironment(
        {
          PLAIN: 'x',
          NUMBER: 5,
          BUCKET: { Ref: 'Bucket1' },
          QUEUE_ARN: { 'Fn::GetAtt': ['Queue1', 'Arn'] },
          QUEUE_NAME: { 'Fn::GetAtt': 'Queue1.QueueName' },
          JOINED: { 'Fn::Join': ['/', [{ Ref: 'AWS::Region' }, { Ref: 'Bucket1' }]] },
          SUBBED: {
            'Fn::Sub': 'arn:${AWS::Partition}:x:${AWS::AccountId}:${Bucket1}/${Queue1.QueueName}/${!Keep}',
          },
          SUB_VARS: { 'Fn::Sub': ['${A}-${Bucket1}', { A: { 'Fn::GetAtt': ['Queue1', 'Arn'] } }] },
        },
        names,
      ),
    ).toEqual({
      PLAIN: 'x',
      NUMBER: '5',
      BUCKET: 'state-bucket',
      QUEUE_ARN: 'arn:aws:sqs:us-east-1:000000000000:q',
      QUEUE_NAME: 'q',
      JOINED: 'us-east-1/state-bucket',
      SUBBED: 'arn:aws:x:000000000000:state-bucket/q/${Keep}',
      SUB_VARS: 'arn:aws:sqs:us-east-1:000000000000:q-state-bucket',
    });
  });

  it('names the variable and the logical id a stand-in does not provide', () => {
    expect(() => resolveEnvironment({ SECRET_ARN: { Ref: 'ApiKeySecret' } }, names)).toThrow(
      'environment variable SECRET_ARN refers to ApiKeySecret (Ref), which no stand-in provides',
    );
    expect(() => resolveEnvironment({ X: { 'Fn::GetAtt': ['Queue1', 'QueueUrl'] } }, names)).toThrow(
      'environment variable X refers to Queue1.QueueUrl (Fn::GetAtt)',
    );
    expect(() => resolveEnvironment({ Y: { 'Fn::ImportValue': 'z' } }, names)).toThrow(
      /Y uses Fn::ImportValue/,
    );
  });
});

describe('renderDefinition', () => {
  const deployment = (
    definitionParts: unknown[],
    substitutions: Record<string, string> = {},
  ): Deployment => ({
    assemblyDir: '.',
    stackName: 'S',
    functions: [],
    eventSourceMappings: [],
    stateMachine: { logicalId: 'Machine', definitionParts, substitutions },
  });
  const task = (resource: string) =>
    JSON.stringify({
      StartAt: 'Prepare',
      States: { Prepare: { Type: 'Task', Resource: resource, End: true } },
    });

  it('applies the substitutions and Fn::Join parts to function ARNs', () => {
    const arns = { PrepareFn: 'arn:local:prepare' };
    expect(
      renderDefinition(deployment([task('${P}')], { P: 'PrepareFn' }), arns).States.Prepare?.Resource,
    ).toBe('arn:local:prepare');
    const [before, after] = task('@').split('@');
    expect(
      renderDefinition(deployment([before, { 'Fn::GetAtt': ['PrepareFn', 'Arn'] }, after]), arns).States
        .Prepare?.Resource,
    ).toBe('arn:local:prepare');
  });

  it('refuses a Task naming no function of the template, nested ones included', () => {
    expect(() =>
      renderDefinition(deployment([task('arn:aws:lambda:us-east-1:1:function:other')]), {}),
    ).toThrow(
      'Task "Prepare" invokes arn:aws:lambda:us-east-1:1:function:other, which is no function of the template',
    );
    const nested = JSON.stringify({
      StartAt: 'M',
      States: {
        M: { Type: 'Map', ItemProcessor: JSON.parse(task('arn:local:gone')), End: true },
      },
    });
    expect(() => renderDefinition(deployment([nested]), { A: 'arn:local:a' })).toThrow(
      /Task "Prepare" invokes arn:local:gone/,
    );
  });
});
