import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import type { RelayConfigInput } from '../../functions/core/config.js';
import { MasvRelay } from '../../lib/masv-relay.js';
import { actionsOf, logicalIdIn, roleStatements, unbundledApp } from '../helpers/synth.js';

const config = (restoreArchived: boolean): RelayConfigInput => ({
  masv: { target: { kind: 'team', teamId: 'T1', apiKeySecretName: 'masv-relay/api-key' } },
  package: { recipients: ['editor@example.com'] },
  source: { restoreArchived },
});

/** Actions granted to the prepare function's role. */
function prepareActions(restoreArchived: boolean) {
  const stack = new Stack(unbundledApp(), 'Test');
  const relay = new MasvRelay(stack, 'Relay', { config: config(restoreArchived) });
  const role = logicalIdIn(stack, relay.functions.prepare.role!);
  return actionsOf(roleStatements(Template.fromStack(stack), role));
}

describe('s3:RestoreObject for archived sources', () => {
  it('is granted to Prepare only when source.restoreArchived is on', () => {
    expect(prepareActions(false)).not.toContain('s3:RestoreObject');
    expect(prepareActions(true)).toContain('s3:RestoreObject');
  });
});
