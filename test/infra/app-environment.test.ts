import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'jsonc-parser';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../functions/core/config.js';
import { buildRelayApp, cliEnvironment } from '../../lib/app.js';
import { unbundledApp } from '../helpers/synth.js';

/**
 * The app users deploy (bin/masv-relay.ts) places its stack where the CDK CLI points
 * (CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION), so the synth-time refusals of resources elsewhere
 * (lib/placement.ts) run there too; with neither set the stack stays environment-agnostic.
 */
const dir = mkdtempSync(join(tmpdir(), 'masv-relay-app-env-'));
const example = parse(readFileSync('config/example.config.jsonc', 'utf8'));
const configWithTopic = (topicArn: string) => {
  const path = join(dir, `${topicArn.split(':')[3]}.config.json`);
  writeFileSync(path, JSON.stringify({ ...example, triggers: { snsTopicArns: [topicArn] } }));
  return path;
};
const usWest2Topic = configWithTopic('arn:aws:sns:us-west-2:123456789012:footage-events');
const refused = /triggers\.snsTopicArns\[0\]: .* is in Region us-west-2, not the stack's eu-west-1/;

describe('the deployed app and its environment', () => {
  it('takes the account and Region the CDK CLI resolved, and nothing when it resolved nothing', () => {
    expect(cliEnvironment({ CDK_DEFAULT_ACCOUNT: '123456789012', CDK_DEFAULT_REGION: 'eu-west-1' })).toEqual({
      account: '123456789012',
      region: 'eu-west-1',
    });
    expect(cliEnvironment({})).toEqual({ account: undefined, region: undefined });
  });

  it('refuses a topic in another Region than the one the CLI points at', () => {
    const app = unbundledApp();
    app.node.setContext('config', usWest2Topic);
    expect(() => buildRelayApp(app, cliEnvironment({ CDK_DEFAULT_REGION: 'eu-west-1' }))).toThrow(
      ConfigError,
    );
    const again = unbundledApp();
    again.node.setContext('config', usWest2Topic);
    expect(() => buildRelayApp(again, { region: 'eu-west-1' })).toThrow(refused);
  });

  const runBin = (env: NodeJS.ProcessEnv) => {
    const outdir = mkdtempSync(join(dir, 'out-'));
    const run = spawnSync('npx', ['tsx', 'bin/masv-relay.ts'], {
      encoding: 'utf8',
      timeout: 120_000,
      env: {
        ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('CDK_'))),
        CDK_OUTDIR: outdir,
        CDK_CONTEXT_JSON: JSON.stringify({ config: usWest2Topic, 'aws:cdk:bundling-stacks': [] }),
        ...env,
      },
    });
    return { ...run, outdir };
  };

  it('bin/masv-relay.ts stops with the ConfigError when CDK_DEFAULT_REGION is another Region', () => {
    const run = runBin({ CDK_DEFAULT_REGION: 'eu-west-1' });
    expect(run.status, run.stderr).toBe(1);
    expect(run.stderr).toMatch(refused);
  }, 130_000);

  it('bin/masv-relay.ts synthesizes an environment-agnostic stack when neither is set', () => {
    const run = runBin({});
    expect(run.status, run.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(join(run.outdir, 'manifest.json'), 'utf8'));
    expect(manifest.artifacts.MasvRelay.environment).toBe('aws://unknown-account/unknown-region');
  }, 130_000);
});
