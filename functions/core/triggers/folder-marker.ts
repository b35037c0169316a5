import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import * as z from 'zod/mini';
import { prefixRuleFor, type RelayConfig } from '../config.js';
import { splitRecipients } from '../delivery/package-settings.js';
import type { PackageOverrides } from '../delivery/request.js';
import { DeliveryRequestError, NetworkError, SourceNotFoundError } from '../errors.js';
import { statusOf } from '../sdk-errors.js';
import { describeIssues, text } from '../zod.js';

/** The marker object that asked for a folder delivery, pinned to the version or ETag its event saw. */
export interface MarkerRef {
  key: string;
  versionId?: string;
  etag?: string;
}

/** A marker is a control file, not content: larger bodies are refused before they are read whole. */
const MAX_MARKER_BYTES = 16 * 1024;

/** The longest `delivery: "folder"` prefix rule that covers the key, if any. */
export function folderRuleFor(config: RelayConfig, key: string) {
  const rule = prefixRuleFor(config, key);
  return rule?.delivery === 'folder' ? rule : undefined;
}

/** The folder (`a/b/`, or `""` at the bucket root) a key marks as ready, when the key is a marker. */
export function markerFolder(key: string, markerName: string): string | undefined {
  const slash = key.lastIndexOf('/');
  return key.slice(slash + 1) === markerName ? key.slice(0, slash + 1) : undefined;
}

/**
 * Refuses a marker at the root of its folder rule (the rule's prefix itself): its folder would be
 * every folder under the rule, delivered as one package. A clear error (DLQ, task result), not a sweep.
 */
export function requireFolderInsideRule(rule: { prefix: string }, folder: string, marker: string) {
  const trim = (p: string) => p.replace(/\/+$/, '');
  if (trim(folder).length <= trim(rule.prefix).length) {
    throw new DeliveryRequestError(
      `${marker} is a folder marker at the root of the folder rule "${rule.prefix}": it would deliver every folder under the rule as one package, so it was refused. Put the marker inside the folder to deliver (${trim(rule.prefix)}/<folder>/${marker.slice(marker.lastIndexOf('/') + 1)}) and delete this one.`,
    );
  }
}

/** Leaves markers out of a folder's contents: they are instructions, not files to deliver. */
export const isMarkerKey = (markerName: string) => (key: string) =>
  markerFolder(key, markerName) !== undefined;

const recipients = z.array(z.email()).check(z.minLength(1), z.maxLength(100));

const markerSchema = z.strictObject({
  name: z.optional(text(1, 255)),
  description: z.optional(text(0, 4000)),
  /** A list, or one string of comma-separated addresses as in object metadata. */
  recipients: z.optional(z.union([recipients, z.string()])),
});

/**
 * Package overrides of a marker body: empty (use the configuration), or JSON
 * `{"name", "description", "recipients"}` validated like object metadata.
 */
export function parseMarkerBody(body: string, where: string): PackageOverrides {
  if (body.trim() === '') return {};
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    throw new DeliveryRequestError(
      `The folder marker ${where} is not valid JSON (${(error as Error).message}). Leave it empty, or write {"name": "…", "description": "…", "recipients": ["editor@example.com"]}; upload the corrected marker to deliver the folder.`,
    );
  }
  const parsed = z.safeParse(markerSchema, json);
  if (!parsed.success) {
    throw new DeliveryRequestError(
      `The folder marker ${where} is invalid: ${describeIssues(parsed.error.issues).join('; ')}. Allowed fields: name, description, recipients (email addresses).`,
    );
  }
  const { name, description } = parsed.data;
  const overrides: PackageOverrides = {
    ...(name !== undefined ? { name } : {}),
    ...(description !== undefined ? { description } : {}),
  };
  if (parsed.data.recipients !== undefined) {
    const list =
      typeof parsed.data.recipients === 'string'
        ? splitRecipients(parsed.data.recipients)
        : parsed.data.recipients;
    const bad = list.find((r) => !z.safeParse(z.email(), r).success);
    if (bad !== undefined || list.length === 0) {
      throw new DeliveryRequestError(
        `The folder marker ${where} has an invalid recipient "${bad ?? ''}". Use email addresses, as a list or comma-separated.`,
      );
    }
    overrides.recipients = list;
  }
  return overrides;
}

/** Reads the marker that asked for a folder delivery, pinned to the version or ETag its event saw. */
export async function readMarkerOverrides(s3: S3Client, bucket: string, marker: MarkerRef) {
  const where = `s3://${bucket}/${marker.key}`;
  let body: string;
  try {
    const response = await s3.send(
      new GetObjectCommand({
        Bucket: bucket,
        Key: marker.key,
        VersionId: marker.versionId,
        IfMatch: marker.versionId || !marker.etag ? undefined : `"${marker.etag}"`,
      }),
    );
    if ((response.ContentLength ?? 0) > MAX_MARKER_BYTES) {
      (response.Body as { destroy?: () => void } | undefined)?.destroy?.();
      throw new DeliveryRequestError(
        `The folder marker ${where} is ${response.ContentLength} bytes, more than ${MAX_MARKER_BYTES}; it may hold only package overrides (name, description, recipients).`,
      );
    }
    body = (await response.Body?.transformToString('utf8')) ?? '';
  } catch (error) {
    if (error instanceof DeliveryRequestError) throw error;
    const name = (error as Error).name;
    const status = statusOf(error);
    if (status === undefined || status >= 500) {
      throw new NetworkError(`Reading the folder marker ${where} failed: ${(error as Error).message}.`, {
        cause: error,
      });
    }
    if (status === 403) {
      throw new SourceNotFoundError(
        `Access to the folder marker ${where} was denied. Grant the relay read access to the source prefix.`,
        { cause: error },
      );
    }
    throw new DeliveryRequestError(
      `Could not read the folder marker ${where} (${name}): it was changed or deleted after it was created. Upload the marker again to deliver the folder.`,
      { cause: error },
    );
  }
  return parseMarkerBody(body, where);
}
