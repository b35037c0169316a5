/**
 * Reads what `cdk deploy` ships from a synthesized cloud assembly (`cdk.out`): each function's
 * bundle and settings, the state machine's definition with its substitutions, and the event
 * source mappings — as the template states them, intrinsics left raw for {@link resolveEnvironment}.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DeployedFunction {
  logicalId: string;
  /** The bundle directory inside the assembly; absent for inline (`ZipFile`) code. */
  bundleDir?: string;
  handler: string;
  runtime: string;
  timeoutSeconds: number;
  memoryMiB: number;
  reservedConcurrency?: number;
  /** Environment variables as the template has them (strings or intrinsics). */
  environment: Record<string, unknown>;
  roleLogicalId?: string;
}

export interface DeployedStateMachine {
  logicalId: string;
  /** The `DefinitionString`'s parts: one string, or the parts of its `Fn::Join` (separator applied). */
  definitionParts: unknown[];
  /** `DefinitionSubstitutions` name → logical id of the resource whose ARN it is. */
  substitutions: Record<string, string>;
}

export interface DeployedEventSourceMapping {
  logicalId: string;
  queueLogicalId: string;
  functionLogicalId: string;
  batchSize?: number;
  reportBatchItemFailures: boolean;
  maximumConcurrency?: number;
}

export interface Deployment {
  assemblyDir: string;
  stackName: string;
  functions: DeployedFunction[];
  stateMachine?: DeployedStateMachine;
  eventSourceMappings: DeployedEventSourceMapping[];
}

/** The template properties this reader uses, of the three resource types it reads. */
interface ResourceProperties {
  Code?: { S3Key?: unknown };
  Handler?: string;
  Runtime?: string;
  Timeout?: number;
  MemorySize?: number;
  ReservedConcurrentExecutions?: number;
  Environment?: { Variables?: Record<string, unknown> };
  Role?: unknown;
  DefinitionString?: string | { 'Fn::Join'?: [string, unknown[]] };
  DefinitionSubstitutions?: Record<string, unknown>;
  EventSourceArn?: unknown;
  FunctionName?: unknown;
  BatchSize?: number;
  FunctionResponseTypes?: string[];
  ScalingConfig?: { MaximumConcurrency?: number };
}

type Resource = { Type: string; Properties?: ResourceProperties; Metadata?: Record<string, unknown> };

interface AssetManifest {
  files?: Record<string, { source: { path: string }; destinations?: Record<string, { objectKey: string }> }>;
}

/** The logical id a `Ref` or `Fn::GetAtt` points at, if the value is one. */
export function referencedLogicalId(value: unknown): string | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.Ref === 'string') return v.Ref;
  const att = v['Fn::GetAtt'];
  if (Array.isArray(att)) return String(att[0]);
  if (typeof att === 'string') return att.split('.')[0];
  return undefined;
}

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

/** The asset manifest's file assets: object key → source directory inside the assembly. */
function assetDirsByObjectKey(assemblyDir: string, stackName: string): Map<string, string> {
  const file = join(assemblyDir, `${stackName}.assets.json`);
  const dirs = new Map<string, string>();
  if (!existsSync(file)) return dirs;
  for (const asset of Object.values(readJson<AssetManifest>(file).files ?? {}))
    for (const destination of Object.values(asset.destinations ?? {}))
      dirs.set(destination.objectKey, join(assemblyDir, asset.source.path));
  return dirs;
}

function bundleDir(resource: Resource, assemblyDir: string, assets: Map<string, string>): string | undefined {
  const key = resource.Properties?.Code?.S3Key;
  if (typeof key === 'string' && assets.has(key)) return assets.get(key);
  const path = resource.Metadata?.['aws:asset:path'];
  return typeof path === 'string' ? join(assemblyDir, path) : undefined;
}

function readFunction(
  logicalId: string,
  resource: Resource,
  assemblyDir: string,
  assets: Map<string, string>,
): DeployedFunction {
  const p = resource.Properties ?? {};
  if (!p.Handler || !p.Runtime)
    throw new Error(`${logicalId} has no Handler or Runtime (a container-image function is not read)`);
  // Lambda's defaults when the template leaves them out: 3 s and 128 MB.
  return {
    logicalId,
    bundleDir: bundleDir(resource, assemblyDir, assets),
    handler: p.Handler,
    runtime: p.Runtime,
    timeoutSeconds: p.Timeout ?? 3,
    memoryMiB: p.MemorySize ?? 128,
    reservedConcurrency: p.ReservedConcurrentExecutions,
    environment: p.Environment?.Variables ?? {},
    roleLogicalId: referencedLogicalId(p.Role),
  };
}

function readStateMachine(logicalId: string, resource: Resource): DeployedStateMachine {
  const p = resource.Properties ?? {};
  const definition = p.DefinitionString;
  const join = typeof definition === 'object' ? definition['Fn::Join'] : undefined;
  const definitionParts =
    typeof definition === 'string'
      ? [definition]
      : join
        ? join[1].flatMap((part, i) => (i === 0 || join[0] === '' ? [part] : [join[0], part]))
        : [];
  if (definitionParts.length === 0)
    throw new Error(`${logicalId} has no DefinitionString (a Definition object or S3 location is not read)`);
  const substitutions: Record<string, string> = {};
  for (const [name, value] of Object.entries(p.DefinitionSubstitutions ?? {})) {
    const target = referencedLogicalId(value);
    if (!target) throw new Error(`${logicalId}: substitution ${name} is not a reference to a resource`);
    substitutions[name] = target;
  }
  return { logicalId, definitionParts, substitutions };
}

function readEventSourceMapping(logicalId: string, resource: Resource): DeployedEventSourceMapping {
  const p = resource.Properties ?? {};
  const queueLogicalId = referencedLogicalId(p.EventSourceArn);
  const functionLogicalId = referencedLogicalId(p.FunctionName);
  if (!queueLogicalId || !functionLogicalId)
    throw new Error(`${logicalId}: the event source or function is not a resource of this template`);
  return {
    logicalId,
    queueLogicalId,
    functionLogicalId,
    batchSize: p.BatchSize,
    reportBatchItemFailures: (p.FunctionResponseTypes ?? []).includes('ReportBatchItemFailures'),
    maximumConcurrency: p.ScalingConfig?.MaximumConcurrency,
  };
}

/** Reads one stack of a cloud assembly. */
export function readDeployment(assemblyDir: string, stackName: string): Deployment {
  const template = readJson<{ Resources?: Record<string, Resource> }>(
    join(assemblyDir, `${stackName}.template.json`),
  );
  const assets = assetDirsByObjectKey(assemblyDir, stackName);
  const deployment: Deployment = { assemblyDir, stackName, functions: [], eventSourceMappings: [] };
  for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
    if (resource.Type === 'AWS::Lambda::Function')
      deployment.functions.push(readFunction(logicalId, resource, assemblyDir, assets));
    else if (resource.Type === 'AWS::Lambda::EventSourceMapping')
      deployment.eventSourceMappings.push(readEventSourceMapping(logicalId, resource));
    else if (resource.Type === 'AWS::StepFunctions::StateMachine') {
      if (deployment.stateMachine) throw new Error(`${stackName} has more than one state machine`);
      deployment.stateMachine = readStateMachine(logicalId, resource);
    }
  }
  return deployment;
}

/** The file Lambda loads for a function's handler (`index.handler` → `index.mjs`, else `index.js`). */
export function bundleEntry(fn: DeployedFunction): string | undefined {
  if (!fn.bundleDir) return undefined;
  const base = fn.handler.slice(0, fn.handler.lastIndexOf('.'));
  return ['.mjs', '.js', '.cjs']
    .map((ext) => join(fn.bundleDir as string, base + ext))
    .find((f) => existsSync(f));
}
