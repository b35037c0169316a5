import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import type { RelayConfigInput } from '../../functions/core/config.js';
import { MasvRelay } from '../../lib/masv-relay.js';

const config = (restoreArchived: boolean): RelayConfigInput => ({
  masv: { target: { kind: 'team', teamId: 'T1', apiKeySecretName: 'masv-relay/api-key' } },
  package: { recipients: ['editor@example.com'] },
  source: { restoreArchived },
});

/** Actions granted to the prepare function's role. */
function prepareActions(restoreArchived: boolean) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Test');
  const relay = new MasvRelay(stack, 'Relay', { config: config(restoreArchived) });
  const template = Template.fromStack(stack);
  const role = stack.getLogicalId(relay.functions.prepare.role!.node.defaultChild as CfnElement);
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => (p.Properties.Roles as Array<{ Ref: string }>).some((r) => r.Ref === role))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Array<{ Action: string | string[] }>)
    .flatMap((s) => [s.Action].flat());
}

describe('s3:RestoreObject for archived sources', () => {
  it('is granted to Prepare only when source.restoreArchived is on', () => {
    expect(prepareActions(false)).not.toContain('s3:RestoreObject');
    expect(prepareActions(true)).toContain('s3:RestoreObject');
  });
});
