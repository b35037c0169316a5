import * as z from 'zod/mini';
import { DEFAULT_MASV_API_URL } from './masv/defaults.js';
import { text, whole } from './zod.js';

/** Package settings that config defaults, prefix rules, object metadata and requests can set. */
export const packageSettingsSchema = z.strictObject({
  /** Package name; placeholders `{key}`, `{basename}`, `{prefix}`, `{date}`. */
  nameTemplate: z.optional(text(1, 255)),
  description: z.optional(text(0, 4000)),
  recipients: z.optional(z.array(z.email()).check(z.maxLength(100))),
  /** Secrets Manager name of a download password. */
  passwordSecretName: z.optional(text(1, 2048)),
  accessLimit: z.optional(whole(0, 1_000_000)),
  unlimitedStorage: z.optional(z.boolean()),
  /** Email a download link to this address after the package is finalized. */
  linkEmail: z.optional(z.email()),
});

export type PackageSettings = z.infer<typeof packageSettingsSchema>;

const teamTarget = z.strictObject({
  kind: z.literal('team'),
  teamId: text(1, 64),
  /** Secrets Manager name (or ARN) holding the MASV API key. */
  apiKeySecretName: text(1, 2048),
});

const portalTarget = z.strictObject({
  kind: z.literal('portal'),
  portalId: text(1, 64),
  accessCodeSecretName: z.optional(text(1, 2048)),
  sender: z.email(),
  formDataId: z.optional(text(1, 256)),
});

const bucketName = z
  .string()
  .check(z.regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid S3 bucket name'));

/** Where objects become deliveries per folder (a marker object) instead of one package per object. */
const DELIVERY_MODES = ['object', 'folder'] as const;

export const DEFAULT_FOLDER_MARKER = '_MASV_READY';

/**
 * The relay's whole configuration: validated at synth time, and again by each Lambda at start.
 * A section left out is parsed as `{}` (`prefault`), so its fields' own defaults are the only copy.
 */
export const relayConfigSchema = z.strictObject({
  masv: z.strictObject({
    apiUrl: z._default(z.url({ protocol: /^https?$/ }), DEFAULT_MASV_API_URL),
    target: z.discriminatedUnion('kind', [teamTarget, portalTarget]),
  }),
  package: z._default(packageSettingsSchema, {}),
  prefixRules: z._default(
    z.array(
      z.strictObject({
        prefix: text(1, 1024),
        /** `folder`: objects here wait for a marker object that delivers their whole folder. */
        delivery: z._default(z.enum(DELIVERY_MODES), 'object'),
        package: z._default(packageSettingsSchema, {}),
      }),
    ),
    [],
  ),
  source: z.prefault(
    z.strictObject({
      /** Import this existing bucket; when absent the stack creates one. */
      existingBucketName: z.optional(bucketName),
      prefix: z.optional(text(1, 1024)),
      suffix: z.optional(text(1, 1024)),
      /** Restore archived sources (Glacier classes, Intelligent-Tiering archive tiers) and wait, instead of refusing them. */
      restoreArchived: z._default(z.boolean(), false),
      /** Retrieval tier of those restores. */
      restoreTier: z._default(z.enum(['Standard', 'Bulk', 'Expedited']), 'Standard'),
      /** Days a restored copy of a Glacier-class object stays readable (must cover the delivery). */
      restoreDays: z._default(whole(1, 30), 2),
      /** Seconds between two checks of a running restore. */
      restorePollSeconds: z._default(whole(1, 3600), 900),
      /**
       * Days an overwritten or deleted version stays in the bucket the stack creates before it
       * expires (versioned, so old footage would otherwise be billed forever). At least 3, so a
       * delivery pinned to a version outlives its 48-hour workflow.
       */
      noncurrentVersionDays: z._default(whole(3, 3650), 30),
    }),
    {},
  ),
  transfer: z.prefault(
    z.strictObject({
      partSizeMiB: z._default(whole(5, 5120), 100),
      mapConcurrency: z._default(whole(1, 40), 10),
      partConcurrency: z._default(whole(1, 16), 4),
      partsPerBatch: z._default(whole(1, 1000), 20),
      transferMemoryMiB: z._default(whole(256, 10240), 1024),
      /** Reserved concurrency of the transfer function: caps parallel transfers account-wide. */
      transferReservedConcurrency: z._default(whole(1, 1000), 20),
    }),
    {},
  ),
  triggers: z.prefault(
    z.strictObject({
      /** Existing SNS topics (S3 event notifications) the trigger queue subscribes to. */
      snsTopicArns: z._default(
        z
          .array(z.string().check(z.regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/)))
          .check(z.maxLength(10)),
        [],
      ),
      /** Name of the object that marks a folder under a `delivery: "folder"` rule as complete. */
      folderMarker: z._default(
        z.string().check(z.regex(/^[^/]{1,255}$/, 'must be an object name without "/"')),
        DEFAULT_FOLDER_MARKER,
      ),
      /** S3 Batch Operations: the buckets its job role reads manifests from and writes reports to. */
      batchOperations: z.optional(
        z.strictObject({ manifestBucketName: bucketName, reportBucketName: z.optional(bucketName) }),
      ),
    }),
    {},
  ),
  access: z.prefault(
    z.strictObject({
      /** An existing event bus (name or ARN, this account) for relay requests; else the stack creates one. */
      eventBusName: z.optional(
        z
          .string()
          .check(z.regex(/^(arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus\/)?[A-Za-z0-9._-]{1,256}$/)),
      ),
      /** Other AWS accounts allowed to put relay requests on the relay's own bus. */
      requestAccountIds: z._default(
        z.array(z.string().check(z.regex(/^\d{12}$/))).check(z.maxLength(20)),
        [],
      ),
      /** IAM roles/users that may still send to the trigger queue directly (DLQ redrive, tooling). */
      queueSenderArns: z._default(
        z
          .array(
            z
              .string()
              .check(
                z.regex(
                  /^arn:aws[a-z-]*:(iam::\d{12}:(role|user)\/[\w+=,.@/*-]{1,512}|sts::\d{12}:assumed-role\/[\w+=,.@-]{1,64}\/\*)$/,
                ),
              ),
          )
          .check(z.maxLength(10)),
        [],
      ),
      /** When set, every recipient and link email must be at one of these domains (or a subdomain). */
      recipientDomains: z._default(
        z
          .array(
            z.string().check(z.regex(/^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/)),
          )
          .check(z.maxLength(50)),
        [],
      ),
      /** Customer-managed KMS key the secrets are encrypted with (grants kms:Decrypt via Secrets Manager). */
      secretsKmsKeyArn: z.optional(
        z.string().check(z.regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]{1,128}$/)),
      ),
    }),
    {},
  ),
  notifications: z._default(
    z.strictObject({
      alarmEmail: z.optional(z.email()),
      snsTopicArn: z.optional(z.string().check(z.startsWith('arn:'))),
    }),
    {},
  ),
});

export type RelayConfig = z.infer<typeof relayConfigSchema>;
export type RelayConfigInput = z.input<typeof relayConfigSchema>;

const FIXES: Array<[RegExp, string]> = [
  [
    /^masv\.target\.kind$/,
    'set masv.target.kind to "team" (Team id + API key secret) or "portal" (Portal id + sender)',
  ],
  [/^masv\.target\.teamId$/, 'set masv.target.teamId to your MASV team id'],
  [
    /^masv\.target\.apiKeySecretName$/,
    'store the API key in Secrets Manager and set masv.target.apiKeySecretName to its name',
  ],
  [/^masv\.target\.sender$/, 'set masv.target.sender to the email address packages are sent from'],
  [/^masv\.apiUrl$/, 'use an http(s) URL such as https://api.massive.app'],
  [/recipients/, 'list valid email addresses, e.g. ["editor@example.com"]'],
  [/linkEmail/, 'use a valid email address'],
  [/^transfer\.partSizeMiB$/, 'use a whole number of MiB between 5 and 5120 (MASV/S3 part limits)'],
  [/^transfer\.mapConcurrency$/, 'use 1 to 40 (the inline Map limit)'],
  [/^transfer\.partConcurrency$/, 'use 1 to 16 parts in flight per transfer Lambda'],
  [/^transfer\.transferReservedConcurrency$/, "use 1 to 1000, below your account's Lambda concurrency limit"],
  [/^transfer\.transferMemoryMiB$/, 'use 256 to 10240 MiB'],
  [/^source\.existingBucketName$/, 'use the bucket name only (no s3:// and no ARN)'],
  [
    /^source\.restoreTier$/,
    'use "Standard", "Bulk" or "Expedited" (Deep Archive falls back to Standard for Expedited)',
  ],
  [/^source\.restoreDays$/, 'use 1 to 30 days; the restored copy must stay readable until the delivery ends'],
  [
    /^source\.restorePollSeconds$/,
    'use 1 to 3600 seconds (900 is a good default: restores take minutes to hours)',
  ],
  [
    /^source\.noncurrentVersionDays$/,
    'use 3 to 3650 days; a delivery pinned to an overwritten version must finish (up to 48 hours) before it expires',
  ],
  [
    /^prefixRules\.\d+\.delivery$/,
    'use "object" (one package per object) or "folder" (one package per marked folder)',
  ],
  [
    /^triggers\.snsTopicArns/,
    'use full topic ARNs such as arn:aws:sns:us-east-1:123456789012:footage-events',
  ],
  [/^triggers\.folderMarker$/, 'use a plain object name such as _MASV_READY'],
  [/^triggers\.batchOperations/, 'use bucket names only (no s3:// and no ARN)'],
  [/^access\.eventBusName$/, 'use the name or ARN of an event bus in this account'],
  [/^access\.requestAccountIds/, 'use 12-digit AWS account ids'],
  [/^access\.recipientDomains/, 'use lower-case domain names such as example.com'],
  [
    /^access\.queueSenderArns/,
    'use IAM role or user ARNs such as arn:aws:iam::123456789012:role/ops (or an assumed-role ARN ending in /*)',
  ],
  [/^access\.secretsKmsKeyArn$/, 'use the key ARN (arn:aws:kms:<region>:<account>:key/<id>), not an alias'],
];

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`Invalid masv-relay configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Validates a configuration; every problem names the field, the value given and the fix. */
export function parseConfig(input: unknown): RelayConfig {
  const result = z.safeParse(relayConfigSchema, input);
  if (result.success) {
    const problems = consistencyProblems(result.data);
    if (problems.length > 0) throw new ConfigError(problems);
    return result.data;
  }
  const problems = result.error.issues.map((issue) => {
    const field = issue.path.join('.') || '(root)';
    const value = valueAt(input, issue.path);
    const fix = FIXES.find(([pattern]) => pattern.test(field))?.[1];
    const given = value === undefined ? 'nothing' : JSON.stringify(value);
    const what =
      issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}` : issue.message;
    const got = issue.code === 'unrecognized_keys' ? '' : ` (got ${given})`;
    return `${field}: ${what}${got}${fix ? `. Fix: ${fix}.` : '. Fix: remove or correct it (see docs/configuration.md).'}`;
  });
  throw new ConfigError(problems);
}

/**
 * Rules between fields: prefix rules a relayed key can match (folder rules inside the source prefix),
 * one alarm destination, configured addresses inside the allow-list.
 */
function consistencyProblems(config: RelayConfig): string[] {
  const problems: string[] = [];
  const sourcePrefix = config.source.prefix ?? '';
  for (const [index, rule] of config.prefixRules.entries()) {
    if (rule.delivery === 'folder' && !rule.prefix.startsWith(sourcePrefix)) {
      problems.push(
        `prefixRules.${index}.prefix: a folder rule must lie inside source.prefix "${sourcePrefix}" (got "${rule.prefix}"). Fix: start the rule's prefix with "${sourcePrefix}".`,
      );
    } else if (!rule.prefix.startsWith(sourcePrefix) && !sourcePrefix.startsWith(rule.prefix)) {
      // Only keys under source.prefix are relayed (rule filter, IAM, start's checks): such a rule never applies.
      problems.push(
        `prefixRules.${index}.prefix: the rule lies outside source.prefix "${sourcePrefix}", so no relayed key can match it (got "${rule.prefix}"). Fix: start the rule's prefix with "${sourcePrefix}" (e.g. "${sourcePrefix}${rule.prefix}"), or remove the rule.`,
      );
    }
  }
  const { alarmEmail, snsTopicArn } = config.notifications;
  if (alarmEmail !== undefined && snsTopicArn !== undefined) {
    problems.push(
      `notifications.alarmEmail: not used when notifications.snsTopicArn is set, since alarms then go to that topic and the stack subscribes nobody to it (got "${alarmEmail}"). Fix: remove notifications.alarmEmail and subscribe the address to your topic yourself, or remove notifications.snsTopicArn so the stack creates a topic with this subscription.`,
    );
  }
  const bus = config.access.eventBusName;
  if (bus !== undefined && bus.split('/').pop() === 'default') {
    problems.push(
      `access.eventBusName: the default bus cannot carry relay requests (got "${bus}"): every principal allowed events:PutEvents there — often granted broadly, and used by AWS services — could ask for deliveries. Fix: remove access.eventBusName (the stack creates a bus of its own), or name a custom bus whose policy admits only the callers you choose.`,
    );
  }
  const domains = config.access.recipientDomains;
  if (domains.length > 0) {
    const settings = [
      ['package', config.package] as const,
      ...config.prefixRules.map((r, i) => [`prefixRules.${i}.package`, r.package] as const),
    ];
    for (const [field, p] of settings) {
      for (const address of [...(p.recipients ?? []), ...(p.linkEmail ? [p.linkEmail] : [])]) {
        if (!isAllowedAddress(address, domains)) {
          problems.push(
            `${field}: "${address}" is outside access.recipientDomains (${domains.join(', ')}). Fix: add its domain to access.recipientDomains or remove the address.`,
          );
        }
      }
    }
  }
  return problems;
}

/** The prefix rule that covers the key, the longest when several do. */
export function prefixRuleFor(config: RelayConfig, key: string) {
  return config.prefixRules
    .filter((r) => key.startsWith(r.prefix))
    .sort((a, b) => b.prefix.length - a.prefix.length)[0];
}

/** True when the address's domain is one of `domains` or a subdomain of one (case-insensitive). */
export function isAllowedAddress(address: string, domains: readonly string[]): boolean {
  if (domains.length === 0) return true;
  const domain = address.slice(address.lastIndexOf('@') + 1).toLowerCase();
  return domains.some((d) => domain === d || domain.endsWith(`.${d}`));
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let current = input;
  for (const key of path) {
    if (!current || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}
