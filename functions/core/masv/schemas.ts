import * as z from 'zod/mini';
import { MasvProtocolError } from '../errors.js';
import { describeIssues } from '../zod.js';

/**
 * The shapes of MASV's answers the relay relies on, stated once. Objects are loose: MASV may add
 * fields; only what the relay reads is checked.
 */
const positive = z.int().check(z.positive());

export const specSchema = z.object({
  max_chunk_count: positive,
  max_chunk_size: positive,
  min_chunk_size: positive,
});

export const blueprintSchema = z.object({
  url: z.string(),
  method: z.string(),
  headers: z.optional(z.nullable(z.record(z.string(), z.unknown()))),
  body: z.optional(z.nullable(z.string())),
});

export const createdPackageSchema = z.object({ id: z.string(), access_token: z.string() });

export const packageSchema = z.object({
  id: z.string(),
  state: z.string(),
  name: z.optional(z.string()),
  description: z.optional(z.string()),
  created_at: z.optional(z.string()),
  total_files: z.optional(z.number()),
});

export const packagePageSchema = z.object({
  metadata: z.optional(z.object({ total: z.optional(z.number()) })),
  records: z.array(packageSchema),
});

export const addedFileSchema = z.object({
  file: z.object({ id: z.string() }),
  create_blueprint: z.optional(z.nullable(blueprintSchema)),
  /** One third-party client reads the camelCase spelling; accepted as a fallback. */
  createBlueprint: z.optional(z.nullable(blueprintSchema)),
});

export const blueprintsSchema = z.array(blueprintSchema);

export const linkSchema = z.object({
  id: z.union([z.string(), z.number()]),
  download_secret: z.optional(z.string()),
});

export const filesSchema = z.array(z.record(z.string(), z.unknown()));

/** The body, checked against its schema, or a `MasvProtocolError` naming the route and what was off. */
export function parseAnswer<T extends z.ZodMiniType>(route: string, schema: T, body: unknown): z.infer<T> {
  const parsed = z.safeParse(schema, body);
  if (parsed.success) return parsed.data;
  throw new MasvProtocolError(
    `MASV ${route} answered with an unexpected body (${describeIssues(parsed.error.issues).join('; ')}); the relay cannot go on with it.`,
  );
}
