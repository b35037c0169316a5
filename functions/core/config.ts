import * as z from 'zod/mini';
import { DEFAULT_MASV_API_URL } from './masv/client.js';
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

const DEFAULT_TRANSFER = {
  partSizeMiB: 100,
  mapConcurrency: 10,
  partConcurrency: 4,
  partsPerBatch: 20,
  transferMemoryMiB: 1024,
  transferReservedConcurrency: 20,
};

/** The relay's whole configuration: validated at synth time, and again by each Lambda at start. */
export const relayConfigSchema = z.strictObject({
  masv: z.strictObject({
    apiUrl: z._default(z.url({ protocol: /^https?$/ }), DEFAULT_MASV_API_URL),
    target: z.discriminatedUnion('kind', [teamTarget, portalTarget]),
  }),
  package: z._default(packageSettingsSchema, {}),
  prefixRules: z._default(
    z.array(z.strictObject({ prefix: text(1, 1024), package: packageSettingsSchema })),
    [],
  ),
  source: z._default(
    z.strictObject({
      /** Import this existing bucket; when absent the stack creates one. */
      existingBucketName: z.optional(
        z.string().check(z.regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid S3 bucket name')),
      ),
      prefix: z.optional(text(1, 1024)),
      suffix: z.optional(text(1, 1024)),
    }),
    {},
  ),
  transfer: z._default(
    z.strictObject({
      partSizeMiB: z._default(whole(5, 5120), DEFAULT_TRANSFER.partSizeMiB),
      mapConcurrency: z._default(whole(1, 40), DEFAULT_TRANSFER.mapConcurrency),
      partConcurrency: z._default(whole(1, 16), DEFAULT_TRANSFER.partConcurrency),
      partsPerBatch: z._default(whole(1, 1000), DEFAULT_TRANSFER.partsPerBatch),
      transferMemoryMiB: z._default(whole(256, 10240), DEFAULT_TRANSFER.transferMemoryMiB),
      /** Reserved concurrency of the transfer function: caps parallel transfers account-wide. */
      transferReservedConcurrency: z._default(whole(1, 1000), DEFAULT_TRANSFER.transferReservedConcurrency),
    }),
    DEFAULT_TRANSFER,
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
  if (result.success) return result.data;
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

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let current = input;
  for (const key of path) {
    if (!current || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}
