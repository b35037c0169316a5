import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { ConfigError, type RelayConfig } from '../functions/core/config.js';
import { EVENT_SOURCE } from '../functions/core/events.js';
import { DELIVERY_AREAS, type StateArea, statePattern } from '../functions/core/state/keys.js';
import { RELAY_REQUEST_DETAIL_TYPE } from '../functions/core/triggers/triggers.js';
import type { RelayFunctions } from './functions.js';
import type { RelayNames } from './names.js';
import type { RelayTriggers } from './triggers.js';

/** Lets the accounts of `access.requestAccountIds` put relay requests on the bus the stack creates. */
export function admitRequestAccounts(config: RelayConfig, requestBus: events.IEventBus, busName: string) {
  if (config.access.requestAccountIds.length === 0) return;
  if (!(requestBus instanceof events.EventBus)) {
    throw new ConfigError([
      `access.requestAccountIds: accounts can be admitted only to the bus the stack creates, not to "${busName}". Fix: remove access.eventBusName, or grant the accounts in that bus's own resource policy.`,
    ]);
  }
  requestBus.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'RelayRequestsFromAccounts',
      principals: config.access.requestAccountIds.map((account) => new iam.AccountPrincipal(account)),
      actions: ['events:PutEvents'],
      resources: [requestBus.eventBusArn],
      conditions: { StringEquals: { 'events:detail-type': RELAY_REQUEST_DETAIL_TYPE } },
    }),
  );
}

export interface StepPermissionsProps {
  readonly config: RelayConfig;
  readonly functions: RelayFunctions;
  readonly key: kms.IKey;
  readonly sourceBucket: s3.IBucket;
  readonly stateBucket: s3.IBucket;
}

/** Each step function gets exactly what its step does, on exactly the resources it touches. */
export function grantLeastPrivilege(relay: Construct, props: StepPermissionsProps) {
  const { config, key, sourceBucket, stateBucket } = props;
  const { prepare, transfer, finalize, abort } = props.functions;
  const stack = Stack.of(relay);
  const sourceObjects = sourceBucket.arnForObjects(`${config.source.prefix ?? ''}*`);
  const state = (areas: readonly StateArea[]) =>
    areas.map((area) => stateBucket.arnForObjects(statePattern(area)));
  const statement = (actions: string[], resources: string[], conditions?: Record<string, unknown>) =>
    new iam.PolicyStatement({ actions, resources, conditions });

  for (const f of [prepare, transfer]) {
    f.addToRolePolicy(statement(['s3:GetObject', 's3:GetObjectVersion'], [sourceObjects]));
  }
  prepare.addToRolePolicy(
    statement(['s3:ListBucket'], [sourceBucket.bucketArn], {
      StringLike: { 's3:prefix': [`${config.source.prefix ?? ''}*`] },
    }),
  );
  // Archived sources are restored by Prepare only when the configuration asks for it.
  if (config.source.restoreArchived)
    prepare.addToRolePolicy(statement(['s3:RestoreObject'], [sourceObjects]));
  // Tags, and s3:GetObject for the HEAD that checks an unversioned key still holds the delivered
  // object before tagging it (`stillHolds` in s3-source.ts; S3 authorises HeadObject as GetObject,
  // and only a HEAD without a version id is made, so no GetObjectVersion).
  for (const f of [finalize, abort]) {
    f.addToRolePolicy(
      statement(
        [
          's3:GetObject',
          's3:GetObjectTagging',
          's3:GetObjectVersionTagging',
          's3:PutObjectTagging',
          's3:PutObjectVersionTagging',
        ],
        [sourceObjects],
      ),
    );
  }

  // The state bucket, area by area (state-keys.ts): what each step reads, writes and deletes.
  // Prepare records packages and claims them; Transfer writes the parts ledger; Finalize and
  // Abort write finalize marks and outcome markers and clear a delivery's records. Abort writes
  // no package record: it only claims the packages of lost creates it deletes (package-reconcile.ts).
  const stateAccess: Array<[lambda.IFunction, { read: StateArea[]; write: StateArea[]; clear?: true }]> = [
    [prepare, { read: ['package', 'claims'], write: ['package', 'claims'] }],
    [transfer, { read: ['package'], write: ['parts'] }],
    [finalize, { read: ['package', 'outcomes'], write: ['finalized', 'outcomes'], clear: true }],
    [
      abort,
      { read: ['package', 'claims', 'outcomes'], write: ['claims', 'finalized', 'outcomes'], clear: true },
    ],
  ];
  for (const [f, access] of stateAccess) {
    f.addToRolePolicy(statement(['s3:GetObject'], state(access.read)));
    f.addToRolePolicy(statement(['s3:PutObject'], state(access.write)));
    if (access.clear) f.addToRolePolicy(statement(['s3:DeleteObject'], state(DELIVERY_AREAS)));
    // Without the condition on s3:prefix: S3 answers a GET of a missing key 404 only to a caller
    // allowed s3:ListBucket on the bucket, and 403 otherwise (GetObject, "Permissions"); a GET
    // carries no s3:prefix, so a prefix-conditioned grant would turn every missing record (a
    // finalize mark, an outcome marker) into a refusal. The bucket holds only the relay's records.
    f.addToRolePolicy(statement(['s3:ListBucket'], [stateBucket.bucketArn]));
    // The state bucket's objects: S3 decrypts for a GET and generates a data key for a PUT.
    f.addToRolePolicy(
      statement(['kms:Decrypt', 'kms:GenerateDataKey'], [key.keyArn], viaService(stack, 's3')),
    );
  }

  const secretNames = new Set<string>();
  if (config.masv.target.kind === 'team') secretNames.add(config.masv.target.apiKeySecretName);
  else if (config.masv.target.accessCodeSecretName) secretNames.add(config.masv.target.accessCodeSecretName);
  const passwordSecrets = [config.package, ...config.prefixRules.map((r) => r.package)]
    .map((p) => p.passwordSecretName)
    .filter((name): name is string => Boolean(name));
  // The API key: Prepare creates packages; Transfer and Finalize refresh expired package tokens.
  // Abort reads the API key too: it refreshes an expired package token before deleting, and
  // reads the package's state so a finalized package is never deleted.
  const apiKeyReaders = config.masv.target.kind === 'team' ? [prepare, transfer, finalize, abort] : [prepare];
  // GetSecretValue only: the functions read secrets with Powertools' getSecret (functions/runtime.ts),
  // which calls nothing else (CDK's grantRead would add DescribeSecret).
  const readSecret = (resources: string[]) => statement(['secretsmanager:GetSecretValue'], resources);
  for (const ref of secretNames) {
    for (const f of apiKeyReaders) f.addToRolePolicy(readSecret(secretResources(stack, ref)));
  }
  for (const ref of new Set(passwordSecrets))
    prepare.addToRolePolicy(readSecret(secretResources(stack, ref)));
  const secretsKey = config.access.secretsKmsKeyArn;
  if (secretsKey) {
    // Secrets encrypted with a customer-managed key: decrypt only through Secrets Manager.
    for (const f of new Set([...apiKeyReaders, prepare])) {
      f.addToRolePolicy(statement(['kms:Decrypt'], [secretsKey], viaService(stack, 'secretsmanager')));
    }
  }

  // Success and failure events, only under the relay's own source (events.ts).
  const defaultBus = events.EventBus.fromEventBusName(relay, 'DefaultBus', 'default');
  for (const f of [finalize, abort]) {
    f.addToRolePolicy(
      statement(['events:PutEvents'], [defaultBus.eventBusArn], {
        StringEquals: { 'events:source': EVENT_SOURCE },
      }),
    );
  }
}

/** A condition that lets the relay's key be used only by the named service on the caller's behalf. */
const viaService = (stack: Stack, service: string) => ({
  StringEquals: { 'kms:ViaService': `${service}.${stack.region}.amazonaws.com` },
});

/**
 * start and abort are invoked asynchronously (S3 and SNS → start, the sweep rule → abort) with the
 * DLQ as their dead-letter queue; Lambda sends there with the function's role, and SQS asks a
 * producer of a KMS-encrypted queue for kms:GenerateDataKey and kms:Decrypt (SQS developer guide,
 * "Configure KMS permissions for producers"). CDK's deadLetterQueue grants only sqs:SendMessage.
 */
export function grantDeadLetterWrites(functions: RelayFunctions, key: kms.IKey) {
  const stack = Stack.of(key);
  for (const f of [functions.start, functions.abort]) {
    f.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [key.keyArn],
        conditions: viaService(stack, 'sqs'),
      }),
    );
  }
}

/**
 * The IAM resources of a secret given by name, by complete ARN (ending in `-` and six characters,
 * as the console shows it) or by partial ARN, each as Secrets Manager will match it at run time:
 * a name or partial ARN with the `-??????` suffix its ARN gets. An ARN whose name merely ends like
 * a suffix ("team-secret") cannot be told from a complete one, so it is granted both ways.
 */
function secretResources(stack: Stack, ref: string): string[] {
  const arn = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:(.+)$/.exec(ref);
  if (!arn) {
    return [
      stack.formatArn({
        service: 'secretsmanager',
        resource: 'secret',
        resourceName: `${ref}-??????`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
    ];
  }
  return /-[A-Za-z0-9]{6}$/.test(arn[1]!) ? [ref, `${ref}-??????`] : [`${ref}-??????`];
}

/** The workflow invokes its four steps; start starts executions of it. */
export function grantWorkflow(
  stateMachine: sfn.StateMachine,
  names: RelayNames,
  functions: RelayFunctions,
  key: kms.IKey,
) {
  for (const step of ['prepare', 'transfer', 'finalize', 'abort'] as const) {
    functions[step].grantInvoke(stateMachine);
  }
  stateMachine.grantStartExecution(functions.start);
  // A name already taken: start reads that execution's input to tell a duplicate from a different
  // request reusing the requestId. Abort reads an ended execution's input and error the same way
  // (the status-change event of a CMK-encrypted state machine leaves them out).
  // The executions' ARN from the workflow's fixed name, not from the state machine: the workflow
  // invokes Abort, so a reference from Abort's policy to it would be a dependency cycle.
  const stack = Stack.of(stateMachine);
  const executions = stack.formatArn({
    service: 'states',
    resource: 'execution',
    resourceName: `${names.stateMachineName}:*`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
  for (const f of [functions.start, functions.abort]) {
    f.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['states:DescribeExecution'], resources: [executions] }),
    );
  }
  // Step Functions encrypts execution data with the relay's key: the input start passes to
  // StartExecution (a data key), what DescribeExecution returns (decrypt); only through Step Functions.
  const useKey = (f: RelayFunctions[keyof RelayFunctions], actions: string[]) =>
    f.addToRolePolicy(
      new iam.PolicyStatement({ actions, resources: [key.keyArn], conditions: viaService(stack, 'states') }),
    );
  useKey(functions.start, ['kms:Decrypt', 'kms:GenerateDataKey']);
  useKey(functions.abort, ['kms:Decrypt']);
}

export interface QueueSendersProps {
  readonly config: RelayConfig;
  readonly names: RelayNames;
  readonly key: kms.IKey;
  readonly triggers: RelayTriggers;
  readonly sourceBucket: s3.IBucket;
  /** The configured SNS topics and the app's, all subscribed to the trigger queue. */
  readonly topicArns: string[];
  readonly functions: RelayFunctions;
}

/**
 * The trigger queue and its DLQ accept messages only from this relay's EventBridge rules, the
 * source bucket (direct S3 notifications) and the configured SNS topics: an Allow per sender
 * with `aws:SourceArn`, and a Deny for every other principal, IAM-authorised ones included.
 */
export function admitOnlyOwnSenders(relay: Construct, props: QueueSendersProps) {
  const { names, key, sourceBucket, topicArns } = props;
  const { queue, requestQueue, deadLetterQueue } = props.triggers;
  const stack = Stack.of(relay);
  const ruleArns = [names.objectRuleArn, names.requestRuleArn];
  const senders = [names.objectRuleArn, sourceBucket.bucketArn, ...topicArns];
  // Each queue admits its own rule; the DLQ takes what either rule could not deliver.
  const ruleSenders: Array<[sqs.Queue, string[]]> = [
    [queue, [names.objectRuleArn]],
    [requestQueue, [names.requestRuleArn]],
    [deadLetterQueue, [...ruleArns, names.sweepRuleArn]],
  ];
  for (const [q, rules] of ruleSenders) {
    q.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'RelayRulesMaySend',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['sqs:SendMessage'],
        resources: [q.queueArn],
        conditions: { ArnEquals: { 'aws:SourceArn': rules } },
      }),
    );
  }
  queue.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'SourceBucketMaySend',
      principals: [new iam.ServicePrincipal('s3.amazonaws.com')],
      actions: ['sqs:SendMessage'],
      resources: [queue.queueArn],
      conditions: {
        ArnEquals: { 'aws:SourceArn': sourceBucket.bucketArn },
        StringEquals: { 'aws:SourceAccount': stack.account },
      },
    }),
  );
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'SourceBucketNotifications',
      principals: [new iam.ServicePrincipal('s3.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
      resources: ['*'],
      conditions: {
        ArnEquals: { 'aws:SourceArn': sourceBucket.bucketArn },
        StringEquals: { 'aws:SourceAccount': stack.account },
      },
    }),
  );
  // Operators the configuration names keep direct access (e.g. to redrive the DLQ).
  const operators = props.config.access.queueSenderArns;
  denyOtherSenders(queue, senders, operators);
  denyOtherSenders(requestQueue, [names.requestRuleArn], operators);
  // The DLQ too: a message planted there would be redriven by an operator past the queues' Deny.
  // Its senders: both rules and the topics (undeliverable events), and start's role (its async
  // DLQ). SQS's own move of a message after maxReceiveCount is not a SendMessage.
  denyOtherSenders(
    deadLetterQueue,
    [...ruleArns, names.sweepRuleArn, ...topicArns],
    [...operators, props.functions.start.role!.roleArn, props.functions.abort.role!.roleArn],
  );
}

/**
 * A Deny for every principal but the queue's own senders (by `aws:SourceArn`) and the given
 * principals: an Allow alone would not stop IAM-authorised principals.
 */
function denyOtherSenders(queue: sqs.Queue, sourceArns: string[], principals: string[]) {
  queue.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'OnlyRelaySenders',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['sqs:SendMessage'],
      resources: [queue.queueArn],
      conditions: {
        ArnNotEquals: { 'aws:SourceArn': sourceArns },
        ...(principals.length > 0 ? { ArnNotLike: { 'aws:PrincipalArn': principals } } : {}),
      },
    }),
  );
}

/**
 * The role an S3 Batch Operations job runs with: invoke start (which answers per task), read
 * the manifest, write the completion report. None without `triggers.batchOperations`.
 */
export function grantBatchOperations(
  relay: Construct,
  config: RelayConfig,
  start: RelayFunctions['start'],
): iam.Role | undefined {
  const batch = config.triggers.batchOperations;
  if (!batch) return undefined;
  const role = new iam.Role(relay, 'BatchOperationsRole', {
    assumedBy: new iam.ServicePrincipal('batchoperations.s3.amazonaws.com'),
    description: 'masv-relay: S3 Batch Operations jobs that deliver existing objects',
  });
  // The unqualified ARN only: jobs name the function as the README shows (no versions or aliases).
  role.addToPolicy(
    new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [start.functionArn] }),
  );
  const manifest = s3.Bucket.fromBucketName(relay, 'BatchManifestBucket', batch.manifestBucketName);
  const report = s3.Bucket.fromBucketName(
    relay,
    'BatchReportBucket',
    batch.reportBucketName ?? batch.manifestBucketName,
  );
  role.addToPolicy(
    new iam.PolicyStatement({
      actions: ['s3:GetObject', 's3:GetObjectVersion'],
      resources: [manifest.arnForObjects('*')],
    }),
  );
  role.addToPolicy(
    new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [report.arnForObjects('*')] }),
  );
  role.addToPolicy(
    new iam.PolicyStatement({
      actions: ['s3:GetBucketLocation'],
      resources: [...new Set([manifest.bucketArn, report.bucketArn])],
    }),
  );
  return role;
}
