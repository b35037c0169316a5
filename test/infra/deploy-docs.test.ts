import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, relayConfigSchema } from '../../functions/core/config.js';
import { loadConfigFile } from '../../lib/config-file.js';
import { MasvRelayStack } from '../../lib/relay-stack.js';
import { unbundledApp } from '../helpers/synth.js';

/**
 * The deploy docs as a new user follows them: every stack output and configuration field they
 * name exists, every variable their commands use is set, every relative link resolves, and the
 * counts they state (alarms, what `cdk destroy` keeps) are the template's.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).map((f) => `docs/${f}`)].filter((f) =>
  f.endsWith('.md'),
);
/** The pages a user deploys and operates from (the architecture notes describe code, not steps). */
const DEPLOY_DOCS = [
  'README.md',
  ...['deploying', 'configuration', 'triggers', 'operations'].map((p) => `docs/${p}.md`),
];
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const EXAMPLE = 'config/example.config.jsonc';

function template(extra: Record<string, unknown> = {}) {
  const example = loadConfigFile(join(ROOT, EXAMPLE));
  const stack = new MasvRelayStack(unbundledApp(), 'MasvRelay', {
    config: parseConfig({ ...example, ...extra }),
  });
  return Template.fromStack(stack).toJSON() as {
    Outputs: Record<string, unknown>;
    Resources: Record<string, { Type: string; DeletionPolicy?: string }>;
  };
}

/** Every field path of a zod (mini) schema: `a.b`, arrays as `a[]` and `a[].b`, both union arms. */
function schemaPaths(schema: unknown, prefix = ''): string[] {
  const def = (schema as { _zod: { def: Record<string, any> } })._zod.def;
  switch (def.type) {
    case 'object':
      return Object.entries(def.shape as Record<string, unknown>).flatMap(([key, child]) => {
        const path = prefix ? `${prefix}.${key}` : key;
        return [path, ...schemaPaths(child, path)];
      });
    case 'array':
      return [`${prefix}[]`, ...schemaPaths(def.element, `${prefix}[]`)];
    case 'union':
      return (def.options as unknown[]).flatMap((option) => schemaPaths(option, prefix));
    case 'default':
    case 'prefault':
    case 'optional':
      return schemaPaths(def.innerType, prefix);
    default:
      return [];
  }
}

const withoutCodeBlocks = (text: string) => text.replace(/^```[\s\S]*?^```/gm, '');
const shellBlocks = (text: string) => [...text.matchAll(/^```sh\n([\s\S]*?)^```/gm)].map((m) => m[1] ?? '');

/** Output names as the docs write them: `out Name`, OutputKey=='Name', `Name` output, <Name>, "The app stack outputs `A`, `B`". */
function outputsNamed(text: string): string[] {
  const names = [
    ...text.matchAll(/\bout ([A-Z][A-Za-z]+)/g),
    ...text.matchAll(/OutputKey=='([A-Za-z]+)'/g),
    ...text.matchAll(/`([A-Z][A-Za-z]+)` output/g),
    ...text.matchAll(/<([A-Z][A-Za-z]+(?:Name|Arn|Url))>/g),
  ].map((m) => m[1] as string);
  for (const list of text.matchAll(/The app stack outputs ([\s\S]+?)\.(?:\s|$)/g))
    names.push(...[...(list[1] as string).matchAll(/`([A-Z][A-Za-z]+)`/g)].map((m) => m[1] as string));
  return names;
}

const CONFIG_ROOTS = Object.keys((relayConfigSchema as any)._zod.def.shape as object).join('|');
const FIELD = new RegExp(`^(${CONFIG_ROOTS})(\\[\\])?(\\.[A-Za-z]+(\\[\\])?)+$`);

/** Configuration field paths in inline code, such as `source.prefix` or `prefixRules[].delivery`. */
const fieldsNamed = (text: string) =>
  [...withoutCodeBlocks(text).matchAll(/`([^`\n]+)`/g)]
    .map((m) => m[1] as string)
    .filter((token) => FIELD.test(token) && !/\.(json|jsonc|md|ts)$/.test(token));

/** GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const [, heading] of withoutCodeBlocks(text).matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = (heading as string)
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

let example: ReturnType<typeof template>;
let everyOutput: Set<string>;
beforeAll(() => {
  example = template();
  // Outputs that exist only with optional features, such as BatchOperationsRoleArn.
  const full = template({
    triggers: { batchOperations: { manifestBucketName: 'footage-manifests' } },
    notifications: { alarmEmail: 'ops@example.com' },
  });
  everyOutput = new Set([...Object.keys(example.Outputs), ...Object.keys(full.Outputs)]);
}, 60_000);

describe('the deploy docs name what the stack really has', () => {
  it('every stack output they mention is an output of the synthesized template', () => {
    const named = DEPLOY_DOCS.flatMap((file) => outputsNamed(read(file)).map((name) => `${file}: ${name}`));
    const unknown = named.filter((entry) => !everyOutput.has(entry.split(': ')[1] as string));
    expect(unknown).toEqual([]);
    const mentioned = new Set(named.map((entry) => entry.split(': ')[1]));
    // The redrive needs the queues' ARNs; the try-it commands the bus, the bucket and the workflow.
    for (const name of [
      'DeadLetterQueueArn',
      'RequestQueueArn',
      'RequestBusName',
      'SourceBucketName',
      'StateMachineArn',
    ])
      expect(mentioned).toContain(name);
  });

  it('the configuration reference lists every output of the app stack', () => {
    const listed = new Set(outputsNamed(read('docs/configuration.md')));
    expect([...everyOutput].filter((name) => !listed.has(name))).toEqual([]);
  });

  it('every configuration field they mention is a field of the configuration schema', () => {
    const fields = new Set(schemaPaths(relayConfigSchema));
    expect(fields).toContain('masv.target.apiKeySecretName');
    expect(fields).toContain('prefixRules[].delivery');
    const named = DEPLOY_DOCS.flatMap((file) => fieldsNamed(read(file)).map((field) => ({ file, field })));
    expect(named.length).toBeGreaterThan(50);
    const normalized = (field: string) => field.replace(/^prefixRules\./, 'prefixRules[].');
    expect(named.filter(({ field }) => !fields.has(normalized(field)))).toEqual([]);
  });

  it('every variable their shell commands use is set by them, and `out` is defined where used', () => {
    const assigned = (file: string) =>
      new Set(shellBlocks(read(file)).flatMap((b) => [...b.matchAll(/\b([A-Za-z_]\w*)=/g)].map((m) => m[1])));
    const fromDeploying = assigned('docs/deploying.md');
    const ENVIRONMENT = new Set(['AWS_REGION', 'AWS_DEFAULT_REGION']);
    const problems: string[] = [];
    for (const file of DOCS) {
      const text = read(file);
      const blocks = shellBlocks(text).join('\n');
      // A page that points the reader to the deploying page's shell setup may use its variables.
      const setUp = text.includes('deploying.md#7-did-it-work') ? fromDeploying : new Set<string>();
      const own = assigned(file);
      for (const [, name] of blocks.matchAll(/\$\{?([A-Za-z_]\w*)/g))
        if (!own.has(name) && !setUp.has(name) && !ENVIRONMENT.has(name as string))
          problems.push(`${file}: $${name}`);
      if (
        /\$\(out /.test(blocks) &&
        !/^out\(\) \{/m.test(blocks) &&
        !text.includes('deploying.md#7-did-it-work')
      )
        problems.push(`${file}: out() used but not defined`);
    }
    expect(problems).toEqual([]);
  });

  it('states the alarm count and what cdk destroy keeps as the template has them', () => {
    const deploying = read('docs/deploying.md');
    const count = (type: string) => Object.values(example.Resources).filter((r) => r.Type === type).length;
    const retained = (type: string) =>
      Object.values(example.Resources).filter((r) => r.Type === type && r.DeletionPolicy === 'Retain').length;
    expect(Number(/There are (\d+)\s+alarms/.exec(deploying)?.[1])).toBe(count('AWS::CloudWatch::Alarm'));
    expect(Number(/\| (\d+) alarms \|/.exec(deploying)?.[1])).toBe(count('AWS::CloudWatch::Alarm'));
    expect(Number(/the (\d+) log groups/.exec(deploying)?.[1])).toBe(retained('AWS::Logs::LogGroup'));
    expect(retained('AWS::Logs::LogGroup')).toBe(count('AWS::Logs::LogGroup'));
    // The source, state and access-log buckets and the key are kept; nothing else is.
    expect(retained('AWS::S3::Bucket')).toBe(3);
    expect(retained('AWS::KMS::Key')).toBe(1);
    const kept = Object.values(example.Resources)
      .filter((r) => r.DeletionPolicy === 'Retain')
      .map((r) => r.Type);
    expect(new Set(kept)).toEqual(new Set(['AWS::S3::Bucket', 'AWS::Logs::LogGroup', 'AWS::KMS::Key']));
  });
});

describe('the upgrade note', () => {
  it('warns of what an update replaces and expires, as the template has them', () => {
    const deploying = read('docs/deploying.md');
    const upgrading = deploying
      .slice(deploying.indexOf('## Upgrading'), deploying.indexOf('## What it costs'))
      .replace(/\s+/g, ' ');
    const resources = Object.values(example.Resources) as Array<{ Type: string; Properties?: any }>;
    // A named state machine is replaced when the name appears: running executions are terminated.
    const [workflow] = resources.filter((r) => r.Type === 'AWS::StepFunctions::StateMachine');
    expect(workflow!.Properties.StateMachineName).toBeDefined();
    expect(upgrading).toMatch(/state machine is replaced/);
    expect(upgrading).toContain('Let running deliveries finish (no RUNNING executions) before updating');
    expect(upgrading).toMatch(/redriven event for an already-delivered object after the update/);
    // The created source bucket's noncurrent versions expire after the configured default.
    const days = resources
      .filter((r) => r.Type === 'AWS::S3::Bucket')
      .flatMap((r) => r.Properties?.LifecycleConfiguration?.Rules ?? [])
      .map((rule: any) => rule.NoncurrentVersionExpiration?.NoncurrentDays)
      .filter(Boolean);
    expect(days).toEqual([30]);
    expect(upgrading).toContain(`\`source.noncurrentVersionDays\` (default ${days[0]})`);
  });
});

describe('the docs hang together', () => {
  it('the README fits in 300 lines and links every docs page', () => {
    const readme = read('README.md');
    expect(readme.split('\n').length).toBeLessThanOrEqual(300);
    for (const page of DOCS.filter((f) => f.startsWith('docs/'))) expect(readme).toContain(`](${page})`);
  });

  it('every relative link resolves to a file, and its anchor to a heading there', () => {
    const broken: string[] = [];
    for (const file of DOCS) {
      for (const [, target] of withoutCodeBlocks(read(file)).matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target as string)) continue;
        const [path, anchor] = (target as string).split('#') as [string, string | undefined];
        const resolved = path ? resolve(ROOT, dirname(file), path) : join(ROOT, file);
        if (!existsSync(resolved)) broken.push(`${file}: ${target}`);
        else if (anchor && resolved.endsWith('.md') && !anchorsOf(readFileSync(resolved, 'utf8')).has(anchor))
          broken.push(`${file}: ${target} (no heading ${relative(ROOT, resolved)}#${anchor})`);
      }
    }
    expect(broken).toEqual([]);
  });
});
