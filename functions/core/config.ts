import { z } from 'zod';
import { DEFAULT_MASV_API_URL } from './masv/client.js';

/** Package settings that config defaults, prefix rules, object metadata and requests can set. */
export const packageSettingsSchema = z
  .object({
    /** Package name; placeholders `{key}`, `{basename}`, `{prefix}`, `{date}`. */
    nameTemplate: z.string().min(1).max(255).optional(),
    description: z.string().max(4000).optional(),
    recipients: z.array(z.email()).max(100).optional(),
    /** Secrets Manager name of a download password. */
    passwordSecretName: z.string().min(1).optional(),
    accessLimit: z.number().int().min(0).optional(),
    unlimitedStorage: z.boolean().optional(),
    /** Email a download link to this address after the package is finalized. */
    linkEmail: z.email().optional(),
  })
  .strict();

export type PackageSettings = z.infer<typeof packageSettingsSchema>;

const teamTarget = z
  .object({
    kind: z.literal('team'),
    teamId: z.string().min(1),
    /** Secrets Manager name (or ARN) holding the MASV API key. */
    apiKeySecretName: z.string().min(1),
  })
  .strict();

const portalTarget = z
  .object({
    kind: z.literal('portal'),
    portalId: z.string().min(1),
    accessCodeSecretName: z.string().min(1).optional(),
    sender: z.email(),
    formDataId: z.string().min(1).optional(),
  })
  .strict();

/** The relay's whole configuration: validated at synth time, and again by each Lambda at start. */
export const relayConfigSchema = z
  .object({
    masv: z
      .object({
        apiUrl: z.url({ protocol: /^https?$/ }).default(DEFAULT_MASV_API_URL),
        target: z.discriminatedUnion('kind', [teamTarget, portalTarget]),
      })
      .strict(),
    package: packageSettingsSchema.default({}),
    prefixRules: z
      .array(z.object({ prefix: z.string().min(1), package: packageSettingsSchema }).strict())
      .default([]),
    source: z
      .object({
        /** Import this existing bucket; when absent the stack creates one. */
        existingBucketName: z
          .string()
          .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid S3 bucket name')
          .optional(),
        prefix: z.string().optional(),
        suffix: z.string().optional(),
      })
      .strict()
      .default({}),
    transfer: z
      .object({
        partSizeMiB: z.number().int().min(5).max(5120).default(100),
        mapConcurrency: z.number().int().min(1).max(40).default(10),
        partConcurrency: z.number().int().min(1).max(16).default(4),
        partsPerBatch: z.number().int().min(1).max(1000).default(16),
        transferMemoryMiB: z.number().int().min(256).max(10240).default(1024),
        /** Reserved concurrency of the transfer function: caps parallel transfers account-wide. */
        transferReservedConcurrency: z.number().int().min(1).max(1000).default(20),
      })
      .strict()
      .default({
        partSizeMiB: 100,
        mapConcurrency: 10,
        partConcurrency: 4,
        partsPerBatch: 16,
        transferMemoryMiB: 1024,
        transferReservedConcurrency: 20,
      }),
    notifications: z
      .object({ alarmEmail: z.email().optional(), snsTopicArn: z.string().startsWith('arn:').optional() })
      .strict()
      .default({}),
  })
  .strict();

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
  const result = relayConfigSchema.safeParse(input);
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
