import { isAllowedAddress, type PackageSettings, prefixRuleFor, type RelayConfig } from '../config.js';
import { DeliveryRequestError } from '../errors.js';
import type { SourceObject } from '../source/s3-source.js';
import type { PackageOverrides } from './request.js';

export interface ResolvedPackage {
  name: string;
  description: string;
  recipients: string[];
  passwordSecretName?: string;
  accessLimit?: number;
  unlimitedStorage?: boolean;
  linkEmail?: string;
  sender?: string;
  formDataId?: string;
}

const EMAIL = /^[^\s@,;]+@[^\s@,;]+\.[^\s@,;]+$/;

/** A recipient list written as one string (object metadata, a marker, job arguments): commas, semicolons or spaces. */
export function splitRecipients(list: string): string[] {
  return list
    .split(/[,;\s]+/)
    .map((r) => r.trim())
    .filter(Boolean);
}

/** Reads `x-amz-meta-masv-recipients|name|description` of the first file. */
function metadataOverrides(object: SourceObject): PackageSettings {
  const meta = object.metadata;
  const result: PackageSettings = {};
  if (meta['masv-recipients']) {
    const recipients = splitRecipients(meta['masv-recipients']);
    const bad = recipients.find((r) => !EMAIL.test(r));
    if (bad || recipients.length === 0) {
      throw new DeliveryRequestError(
        `Object metadata x-amz-meta-masv-recipients of s3://${object.bucket}/${object.key} has an invalid email address "${bad ?? ''}". Use comma-separated addresses.`,
      );
    }
    result.recipients = recipients;
  }
  if (meta['masv-name']) result.nameTemplate = meta['masv-name'];
  if (meta['masv-description']) result.description = meta['masv-description'];
  return result;
}

/** Fills `{key}`, `{basename}`, `{prefix}` and `{date}` (UTC, YYYY-MM-DD). */
export function renderName(template: string, key: string, now: Date): string {
  const slash = key.lastIndexOf('/');
  const values: Record<string, string> = {
    key,
    basename: key.slice(slash + 1),
    prefix: slash === -1 ? '' : key.slice(0, slash),
    date: now.toISOString().slice(0, 10),
  };
  return template
    .replace(/\{(key|basename|prefix|date)\}/g, (_, name: string) => values[name]!)
    .slice(0, 255);
}

export interface ResolveOptions {
  /** The request's link email: checked against the recipient allow-list like every other address. */
  link?: { email: string };
  /** Folder deliveries: the folder (`a/b/`) names the package, `{basename}` is the folder's name. */
  folder?: string;
}

/**
 * Package settings for a delivery: configuration defaults < the longest matching prefix rule <
 * object metadata of the first file < the request's own overrides (a folder marker's body is one).
 * Every address that ends up in use must be inside `access.recipientDomains` when that is set.
 */
export function resolvePackage(
  config: RelayConfig,
  objects: SourceObject[],
  overrides: PackageOverrides | undefined,
  now: Date,
  options: ResolveOptions = {},
): ResolvedPackage {
  const first = objects[0]!;
  const rule = prefixRuleFor(config, first.key);
  const merged: PackageSettings = { ...config.package, ...rule?.package, ...metadataOverrides(first) };
  const template = overrides?.name ?? merged.nameTemplate ?? '{basename}';
  const folder = options.folder?.replace(/\/+$/, '');
  let name = renderName(template, folder || first.key, now);
  if (!overrides?.name && objects.length > 1 && folder === undefined)
    name = `${name} (+${objects.length - 1} more)`.slice(0, 255);
  const target = config.masv.target;
  const resolved: ResolvedPackage = {
    name,
    description:
      overrides?.description ??
      merged.description ??
      `Delivered by masv-relay from s3://${first.bucket}/${first.key}`,
    recipients: overrides?.recipients ?? merged.recipients ?? [],
    passwordSecretName: merged.passwordSecretName,
    accessLimit: overrides?.accessLimit ?? merged.accessLimit,
    unlimitedStorage: overrides?.unlimitedStorage ?? merged.unlimitedStorage,
    linkEmail: merged.linkEmail,
  };
  const domains = config.access.recipientDomains;
  // A portal sender override too: MASV emails the sender about the package.
  const refused = [
    ...resolved.recipients,
    options.link?.email ?? resolved.linkEmail,
    target.kind === 'portal' ? overrides?.sender : undefined,
  ].find((a) => a !== undefined && !isAllowedAddress(a, domains));
  if (refused) {
    throw new DeliveryRequestError(
      `The delivery of s3://${first.bucket}/${first.key} would send to "${refused}", outside the allowed recipient domains (${domains.join(', ')}); it comes from object metadata, a folder marker or the request. Use an address at one of those domains, or add the domain to access.recipientDomains.`,
    );
  }
  if (target.kind === 'portal') {
    resolved.sender = overrides?.sender ?? target.sender;
    resolved.formDataId = overrides?.formDataId ?? target.formDataId;
  } else if (resolved.recipients.length === 0) {
    throw new DeliveryRequestError(
      `No recipients for s3://${first.bucket}/${first.key}: set package.recipients in the configuration, a prefix rule, ` +
        'x-amz-meta-masv-recipients on the object, or package.recipients in the request.',
    );
  }
  return resolved;
}
