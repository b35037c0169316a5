import * as z from 'zod/mini';
import { DeliveryRequestError } from '../errors.js';
import { describeIssues, text, whole } from '../zod.js';
import type { Batch } from './part-plan.js';

/** Files one delivery (one package) may hold, so the workflow state stays far below 256 KiB. */
export const MAX_FILES_PER_DELIVERY = 250;

/** Step Functions' limit on an execution's input (and on any state's input or output), UTF-8 bytes. */
export const MAX_EXECUTION_INPUT_BYTES = 256 * 1024;

/** The longest Cause Step Functions records for an error, in characters. */
export const MAX_CAUSE_CHARS = 32_768;

/**
 * What a Catch adds to the state at `$.error`, at most: the Cause (for a Lambda error its whole
 * error JSON, stack trace included) at two bytes a character once escaped in the state's JSON
 * (every quote and backslash of that JSON doubles), the Error name (at most 256) and the keys.
 */
export const CAUGHT_ERROR_STATE_BYTES = 2 * MAX_CAUSE_CHARS + 256 + 64;

/**
 * Abort's result at `$.abort` (without the sources, which its event names): the reason (at most
 * 2,000 characters), what to do, package ids, possible orphans; and the wrapper of Abort's input.
 */
export const ABORT_RESULT_STATE_BYTES = 12 * 1024;

/**
 * Budget for the delivery's own share of the workflow state: the request and the prepared delivery.
 * The rest of the 256 KiB is kept for a failure, whose state (at Abort's output) is both plus the
 * caught error and Abort's result.
 */
export const MAX_DELIVERY_STATE_BYTES =
  MAX_EXECUTION_INPUT_BYTES - CAUGHT_ERROR_STATE_BYTES - ABORT_RESULT_STATE_BYTES;

/** One source object of a delivery. */
export const sourceSchema = z.strictObject({
  bucket: text(3, 63),
  key: text(1, 1024),
  versionId: z.optional(text(1, 1024)),
  /** ETag seen by the trigger; pins the content when the bucket is not versioned. */
  etag: z.optional(text(1, 128)),
  /** Relative path of the file inside the package (folders end up as MASV `path`). */
  path: z.optional(text(1, 1024)),
});

export type Source = z.infer<typeof sourceSchema>;

/** What a request may set on the package; secrets (passwords) come only from configuration. */
export const packageOverridesSchema = z.strictObject({
  name: z.optional(text(1, 255)),
  description: z.optional(text(0, 4000)),
  recipients: z.optional(z.array(z.email()).check(z.minLength(1), z.maxLength(100))),
  accessLimit: z.optional(whole(0, 1_000_000)),
  unlimitedStorage: z.optional(z.boolean()),
  sender: z.optional(z.email()),
  formDataId: z.optional(text(1, 256)),
});

export type PackageOverrides = z.infer<typeof packageOverridesSchema>;

const markerSchema = z.strictObject({
  key: text(1, 1024),
  versionId: z.optional(text(1, 1024)),
  etag: z.optional(text(1, 128)),
});

/**
 * The documented request any AWS service can send (detail-type "MASV Relay Request" on the relay's bus,
 * a direct invocation of start, or Step Functions StartExecution input). Exactly one of `key`, `keys`,
 * `prefix` or `files` names the objects; all of them become one package.
 */
export const relayRequestSchema = z.strictObject({
  bucket: z.optional(text(3, 63)),
  key: z.optional(text(1, 1024)),
  versionId: z.optional(text(1, 1024)),
  keys: z.optional(z.array(text(1, 1024)).check(z.minLength(1), z.maxLength(MAX_FILES_PER_DELIVERY))),
  prefix: z.optional(text(1, 1024)),
  files: z.optional(z.array(sourceSchema).check(z.minLength(1), z.maxLength(MAX_FILES_PER_DELIVERY))),
  package: z.optional(packageOverridesSchema),
  link: z.optional(z.strictObject({ email: z.email() })),
  /** With `prefix`: the folder marker whose body holds package overrides (folder deliveries). */
  marker: z.optional(markerSchema),
  /** Caller's idempotency key: the same requestId never makes a second package. */
  requestId: z.optional(z.string().check(z.regex(/^[A-Za-z0-9_.:-]{1,64}$/))),
  deliveryId: z.optional(z.string()),
});

/**
 * The normalized delivery request: what start passes to StartExecution and every step receives.
 * Exactly one of `files` or `prefix`.
 */
export const deliveryRequestSchema = z.strictObject({
  deliveryId: z.optional(z.string()),
  files: z.optional(z.array(sourceSchema).check(z.minLength(1), z.maxLength(MAX_FILES_PER_DELIVERY))),
  prefix: z.optional(z.strictObject({ bucket: text(3, 63), prefix: text(1, 1024) })),
  package: z.optional(packageOverridesSchema),
  link: z.optional(z.strictObject({ email: z.email() })),
  /** Folder deliveries: the marker object that asked for the folder (its body may set package overrides). */
  marker: z.optional(markerSchema),
  requestId: relayRequestSchema.shape.requestId,
});

export type DeliveryRequest = z.infer<typeof deliveryRequestSchema>;

const REQUEST_SHAPES =
  'Send {"bucket","key"}, {"bucket","keys":[…]}, {"bucket","prefix"} or {"files":[{"bucket","key"}]} (see docs/triggers.md, "Relay requests").';

function parsed<T>(schema: z.ZodMiniType<T>, input: unknown): T {
  const result = z.safeParse(schema, input);
  if (result.success) return result.data;
  throw new DeliveryRequestError(
    `The delivery request is invalid: ${describeIssues(result.error.issues).join('; ')}. ${REQUEST_SHAPES}`,
  );
}

/** The rules that span fields, checked on the normalized shape whichever way it came. */
function checked(request: DeliveryRequest): DeliveryRequest {
  const { files, prefix, marker } = request;
  if ((files === undefined) === (prefix === undefined)) {
    throw new DeliveryRequestError(
      `The delivery request must name its objects with exactly one of files or prefix; it has ${files && prefix ? 'both' : 'neither'}. ${REQUEST_SHAPES}`,
    );
  }
  if (marker && !(prefix && marker.key.startsWith(prefix.prefix))) {
    throw new DeliveryRequestError(
      `The delivery request's marker "${marker.key}" must be an object inside its "prefix" folder.`,
    );
  }
  const seen = new Set<string>();
  for (const file of files ?? []) {
    const id = `${file.bucket}/${file.key}/${file.versionId ?? ''}`;
    if (seen.has(id))
      throw new DeliveryRequestError(`The delivery request names s3://${file.bucket}/${file.key} twice.`);
    seen.add(id);
  }
  return request;
}

/** Validates a relay request (the documented shape) and turns it into a delivery request. */
export function normalizeRelayRequest(input: unknown): DeliveryRequest {
  const r = parsed(relayRequestSchema, input);
  const selectors = [r.key, r.keys, r.prefix, r.files].filter((v) => v !== undefined).length;
  if (selectors !== 1) {
    throw new DeliveryRequestError(
      `The delivery request must name its objects with exactly one of key, keys, prefix or files; it has ${selectors}.`,
    );
  }
  if (!r.files && !r.bucket) {
    throw new DeliveryRequestError('The delivery request needs "bucket" with key, keys or prefix.');
  }
  const base: DeliveryRequest = {
    ...(r.deliveryId ? { deliveryId: r.deliveryId } : {}),
    ...(r.marker ? { marker: r.marker } : {}),
    ...(r.package ? { package: r.package } : {}),
    ...(r.link ? { link: r.link } : {}),
    ...(r.requestId ? { requestId: r.requestId } : {}),
  };
  if (r.prefix) return checked({ ...base, prefix: { bucket: r.bucket!, prefix: r.prefix } });
  const files =
    r.files ??
    (r.keys ?? [r.key!]).map((key) => ({
      bucket: r.bucket!,
      key,
      ...(r.versionId ? { versionId: r.versionId } : {}),
    }));
  return checked({ ...base, files });
}

/** Fields only a relay request has: their presence says which schema the workflow input follows. */
const RELAY_ONLY_FIELDS = ['bucket', 'key', 'keys', 'versionId'] as const;

/**
 * The workflow's input, parsed once where it enters a step: the delivery request start produced, or
 * a relay request given to StartExecution directly (anything with `bucket`, `key`, `keys`,
 * `versionId` or a string `prefix`).
 */
export function parseWorkflowRequest(input: unknown): DeliveryRequest {
  const fields = input && typeof input === 'object' ? (input as Record<string, unknown>) : undefined;
  const isRelayRequest =
    !fields || RELAY_ONLY_FIELDS.some((field) => field in fields) || typeof fields.prefix === 'string';
  return isRelayRequest ? normalizeRelayRequest(input) : checked(parsed(deliveryRequestSchema, input));
}

/** A file of a prepared delivery, as the transfer and finalize steps need it (no secrets). */
export interface DeliveryFile {
  index: number;
  bucket: string;
  key: string;
  versionId?: string;
  etag: string;
  name: string;
  path: string;
  size: number;
  partSize: number;
  partCount: number;
  fileId: string;
  uploadId: string;
  /** Set when storage's part ETags are not MD5s (SSE-KMS): parts are sent with Content-MD5 (part-integrity.ts). */
  partCheck?: 'content-md5';
}

export interface PackageRef {
  id: string;
  owner: 'team' | 'portal';
}

/** A package an attempt may have created although its answer was lost: Abort looks for it by name. */
export interface PossibleOrphan {
  /** Name the package would carry. */
  name: string;
  /** The package was created at or after this time, if at all. */
  createdAfter: string;
  /** Its id, when known. */
  packageId?: string;
}

/** One Map item: a batch of parts of one file (its index in `files`). */
export interface BatchItem extends Batch {
  file: number;
}

export interface PreparedDelivery {
  deliveryId: string;
  package: PackageRef;
  files: DeliveryFile[];
  batches: BatchItem[];
  link?: { email: string };
  /** Portal packages a lost answer may have created (they cannot be looked up); reported in events. */
  possibleOrphans?: PossibleOrphan[];
}
