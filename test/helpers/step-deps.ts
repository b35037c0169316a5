import { S3Client } from '@aws-sdk/client-s3';
import { parseConfig } from '../../functions/core/config.js';
import type { RelayDeps } from '../../functions/core/deps.js';
import { LocalEventSink } from '../../local/workflow/event-sink.js';

const silentLog = { info: () => undefined, warn: () => undefined, error: () => undefined };

const TARGETS = {
  team: { kind: 'team', teamId: 'T', apiKeySecretName: 'key' },
  portal: { kind: 'portal', portalId: 'portal-1', sender: 'relay@example.com' },
};

export interface StepFakes extends Pick<RelayDeps, 'masv' | 'stateBucket'> {
  target?: keyof typeof TARGETS;
  /** More of the configuration input, beside the target and one recipient. */
  config?: Record<string, unknown>;
  s3?: S3Client;
  clock?: RelayDeps['clock'];
  now?: RelayDeps['now'];
}

/**
 * RelayDeps for one step under test: its fakes, a Team (or Portal) target with one recipient, an
 * S3 client that reaches nothing, each secret read as `secret-of-<name>`, events kept in memory.
 */
export function stepDeps({
  target = 'team',
  config,
  ...fakes
}: StepFakes): RelayDeps & { events: LocalEventSink } {
  return {
    config: parseConfig({
      masv: { target: TARGETS[target] },
      package: { recipients: ['a@example.com'] },
      ...config,
    }),
    s3: new S3Client({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', maxAttempts: 1 }),
    secret: async (name) => `secret-of-${name}`,
    events: new LocalEventSink(),
    log: silentLog,
    ...fakes,
  };
}
