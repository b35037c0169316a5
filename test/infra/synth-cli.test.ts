import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('npm run synth', () => {
  it('synthesizes with cdk-nag, no AWS credentials and no network, bundling every function under 1 MB', () => {
    const output = mkdtempSync(join(tmpdir(), 'masv-relay-synth-'));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      CDK_DISABLE_CLI_TELEMETRY: 'true',
      AWS_EC2_METADATA_DISABLED: 'true',
    };
    // No credentials and no Region: the CLI hands the app no account (and its fallback Region).
    for (const name of [
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_SESSION_TOKEN',
      'AWS_PROFILE',
      'AWS_REGION',
      'AWS_DEFAULT_REGION',
      'CDK_DEFAULT_ACCOUNT',
      'CDK_DEFAULT_REGION',
    ])
      delete env[name];
    const run = spawnSync('npm', ['run', 'synth', '--', '--output', output], {
      encoding: 'utf8',
      env,
      timeout: 180_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(join(output, 'manifest.json'), 'utf8'));
    expect(manifest.artifacts.MasvRelay.environment).toMatch(/^aws:\/\/unknown-account\//);
    const template = JSON.parse(readFileSync(join(output, 'MasvRelay.template.json'), 'utf8'));
    expect(
      Object.values(template.Resources).filter((r: any) => r.Type === 'AWS::StepFunctions::StateMachine'),
    ).toHaveLength(1);
    const assets = JSON.parse(readFileSync(join(output, 'MasvRelay.assets.json'), 'utf8')).files as Record<
      string,
      { source: { path: string } }
    >;
    const bundles = Object.values(assets)
      .map((a) => join(output, a.source.path, 'index.mjs'))
      .filter((p) => existsSync(p));
    expect(bundles.length).toBeGreaterThanOrEqual(5);
    for (const bundle of bundles) expect(statSync(bundle).size).toBeLessThan(1_000_000);
  }, 240_000);
});
