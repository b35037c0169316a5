import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { renderDefinition, taskFunctions } from '../../local/deployed/definition.js';
import { resolveEnvironment } from '../../local/deployed/intrinsics.js';
import { bundleEntry, type Deployment, readDeployment } from '../../local/deployed/read-deployment.js';
import { standInNames } from '../../local/deployed/stand-in-names.js';

const repo = resolve(import.meta.dirname, '../..');
let deployment: Deployment;
let template: any;

/** The function whose bundle was built from `functions/<step>/handler.ts` (per its source map). */
function bundledStep(dir: string): string | undefined {
  const map = JSON.parse(readFileSync(join(dir, 'index.mjs.map'), 'utf8')) as { sources: string[] };
  return map.sources.map((s) => /functions\/([a-z-]+)\/handler\.ts$/.exec(s)?.[1]).find(Boolean);
}

beforeAll(() => {
  const root = mkdtempSync(join(tmpdir(), 'masv-relay-deployed-'));
  const assembly = join(root, 'cdk.out');
  const run = spawnSync('npm', ['run', 'synth', '--', '--output', assembly], {
    cwd: repo,
    encoding: 'utf8',
    env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true', AWS_EC2_METADATA_DISABLED: 'true' },
    timeout: 180_000,
  });
  expect(run.status, run.stderr).toBe(0);
  // The bundles leave @aws-sdk/* external and are ES modules, which ignore NODE_PATH: a
  // node_modules beside the assembly is how Node finds the lockfile's SDK for them.
  symlinkSync(join(repo, 'node_modules'), join(root, 'node_modules'), 'dir');
  deployment = readDeployment(assembly, 'MasvRelay');
  template = JSON.parse(readFileSync(join(assembly, 'MasvRelay.template.json'), 'utf8'));
}, 240_000);

describe('the deployed artifacts in cdk.out', () => {
  const relayFunctions = () => deployment.functions.filter((f) => f.bundleDir);

  it('has five bundled functions, each with its handler file on disk and the template settings', () => {
    const fns = relayFunctions();
    expect(fns).toHaveLength(5);
    for (const fn of fns) {
      expect(bundleEntry(fn), fn.logicalId).toMatch(/index\.m?js$/);
      expect(fn.runtime).toBe('nodejs22.x');
      expect(fn.roleLogicalId).toMatch(/ServiceRole/);
    }
    expect(fns.map((f) => bundledStep(f.bundleDir as string)).sort()).toEqual([
      'abort',
      'finalize',
      'prepare',
      'start',
      'transfer',
    ]);
    const transfer = fns.find((f) => bundledStep(f.bundleDir as string) === 'transfer');
    expect(transfer).toMatchObject({ timeoutSeconds: 900, memoryMiB: 1024, reservedConcurrency: 20 });
  });

  it('resolves every environment variable of every function against the stand-ins', () => {
    const names = standInNames(template);
    for (const fn of deployment.functions) {
      const env = resolveEnvironment(fn.environment, names);
      expect(Object.keys(env)).toEqual(Object.keys(fn.environment));
    }
    const start = relayFunctions().find((f) => bundledStep(f.bundleDir as string) === 'start');
    const env = resolveEnvironment(start?.environment ?? {}, names);
    expect(env.STATE_MACHINE_ARN).toMatch(/^arn:aws:states:us-east-1:000000000000:stateMachine:/);
    expect(env.REQUEST_QUEUE_ARN).toMatch(/^arn:aws:sqs:us-east-1:000000000000:/);
  });

  it('imports each bundle with plain Node (no tsx), the AWS SDK coming from the lockfile', () => {
    const names = standInNames(template);
    for (const fn of relayFunctions()) {
      const url = pathToFileURL(bundleEntry(fn) as string).href;
      const run = spawnSync(
        process.execPath,
        [
          '-e',
          `import(${JSON.stringify(url)}).then((m) => { if (typeof m.handler !== 'function') process.exit(3); })`,
        ],
        {
          cwd: tmpdir(),
          encoding: 'utf8',
          env: {
            PATH: process.env.PATH,
            AWS_REGION: 'us-east-1',
            ...resolveEnvironment(fn.environment, names),
          },
          timeout: 30_000,
        },
      );
      expect(run.status, `${fn.logicalId}: ${run.stderr}`).toBe(0);
    }
    const sdkImports = relayFunctions().flatMap((f) =>
      [...readFileSync(bundleEntry(f) as string, 'utf8').matchAll(/from\s*"(@aws-sdk\/[^"]+)"/g)].map(
        (m) => m[1],
      ),
    );
    expect(sdkImports.length).toBeGreaterThan(0);
  });

  it('binds each Task of the template definition to the function built for its step', () => {
    const arns = Object.fromEntries(
      deployment.functions.map((f) => [f.logicalId, `arn:local:${f.logicalId}`]),
    );
    const tasks = taskFunctions(renderDefinition(deployment, arns), arns);
    const stepOf = (id: string) =>
      bundledStep(deployment.functions.find((f) => f.logicalId === id)?.bundleDir ?? '');
    expect(Object.fromEntries(Object.entries(tasks).map(([state, id]) => [state, stepOf(id)]))).toEqual({
      Prepare: 'prepare',
      'Transfer Batch': 'transfer',
      Finalize: 'finalize',
      Abort: 'abort',
    });
  });

  it('reads the start function as the trigger and request queues consume it', () => {
    const start = relayFunctions().find((f) => bundledStep(f.bundleDir as string) === 'start');
    expect(deployment.eventSourceMappings.map((m) => m.queueLogicalId).sort()).toEqual([
      expect.stringMatching(/^RelayRequestQueue/),
      expect.stringMatching(/^RelayTriggerQueue/),
    ]);
    for (const mapping of deployment.eventSourceMappings)
      expect(mapping).toMatchObject({
        functionLogicalId: start?.logicalId,
        batchSize: 10,
        reportBatchItemFailures: true,
        maximumConcurrency: 5,
      });
  });

  it('refuses a function missing from the ARNs the runner gives', () => {
    const arns = Object.fromEntries(
      deployment.functions
        .filter((f) => !f.bundleDir || bundledStep(f.bundleDir) !== 'transfer')
        .map((f) => [f.logicalId, `arn:local:${f.logicalId}`]),
    );
    expect(() => renderDefinition(deployment, arns)).toThrow(
      /TransferFunctionArn names RelayTransferFunction/,
    );
  });
});
