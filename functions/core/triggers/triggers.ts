import { createHash } from 'node:crypto';
import type { S3EventRecord } from 'aws-lambda';
import { isAllowedAddress, type RelayConfig } from '../config.js';
import { type DeliveryRequest, normalizeRelayRequest } from '../delivery/request.js';
import { DeliveryRequestError } from '../errors.js';
import { unquoteEtag } from '../source/etag.js';
import type { TriggerContext } from './context.js';
import { folderRuleFor, markerFolder, requireFolderInsideRule } from './folder-marker.js';
import { isSnsEnvelope, isSnsRecord, snsMessagePayload } from './sns.js';

export const RELAY_REQUEST_DETAIL_TYPE = 'MASV Relay Request';

/** What one trigger record asks for: a delivery to start, or a documented reason to skip it. */
export type TriggerOutcome =
  | { kind: 'start'; deliveryId: string; request: DeliveryRequest }
  | { kind: 'skip'; reason: string };

export type { TriggerContext } from './context.js';

/** The fields start reads of an S3 notification record, each optional: the payload is checked, not trusted. */
type S3NotificationRecord = Partial<Pick<S3EventRecord, 'eventSource' | 'eventName'>> & {
  s3?: {
    bucket?: Partial<Pick<S3EventRecord['s3']['bucket'], 'name'>>;
    object?: Partial<S3EventRecord['s3']['object']>;
  };
};

/**
 * Where a payload came in: a direct invocation (IAM on the start function decides), the trigger
 * queue (S3, SNS and the Object Created rule send there: never relay requests, since a topic
 * publisher could otherwise smuggle one in), or the request queue (only the relay's bus rule may
 * send there: only "MASV Relay Request" events).
 */
export type TriggerOrigin = 'direct' | 'trigger-queue' | 'request-queue';

/**
 * Turns one trigger payload into delivery requests. Understands S3 event notifications (keys
 * form-URL-encoded, `+` for space), also inside SNS records and SNS envelopes (SQS without raw
 * delivery), EventBridge "Object Created" events (raw keys), EventBridge "MASV Relay Request"
 * events and the direct request JSON. With a context, object events under a folder rule wait for
 * their folder's marker, and the checks of who may ask apply. (S3 Batch Operations invocations
 * answer per task: `batch-operations.ts`.)
 */
export function outcomesFromPayload(
  payload: unknown,
  context?: TriggerContext,
  origin: TriggerOrigin = 'direct',
): TriggerOutcome[] {
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) {
    throw new DeliveryRequestError(
      `The trigger payload must be a JSON object (S3 notification, SNS or EventBridge event, Batch Operations invocation or relay request); got ${describe(payload)}.`,
    );
  }
  const event = payload as Record<string, unknown>;
  if (origin === 'request-queue') {
    if (event['detail-type'] !== RELAY_REQUEST_DETAIL_TYPE) {
      throw new DeliveryRequestError(
        `The request queue carries only "${RELAY_REQUEST_DETAIL_TYPE}" events from the relay's bus rule; this message is not one. Put relay requests on the relay's bus (RequestBusName output); send S3 and SNS events to the trigger queue.`,
      );
    }
    return [fromRelayRequest(event.detail, context)];
  }
  if (event.Event === 's3:TestEvent')
    return [{ kind: 'skip', reason: 'S3 test event (sent when notifications are configured)' }];
  if (isSnsEnvelope(event)) return s3EventsOnly(snsMessagePayload(event, context), context);
  if (Array.isArray(event.Records)) {
    return event.Records.flatMap((r) =>
      isSnsRecord(r)
        ? s3EventsOnly(snsMessagePayload(r.Sns, context), context)
        : [fromS3Record(r as S3NotificationRecord, context)],
    );
  }
  if (event.source === 'aws.s3' && event['detail-type'] === 'Object Created')
    return [fromEventBridgeObjectCreated(event, context)];
  const isRequestEvent = event['detail-type'] === RELAY_REQUEST_DETAIL_TYPE;
  if ('detail-type' in event && !isRequestEvent) {
    throw new DeliveryRequestError(
      `EventBridge events of detail-type "${String(event['detail-type'])}" are not deliveries: send "Object Created" from aws.s3 or "${RELAY_REQUEST_DETAIL_TYPE}".`,
    );
  }
  if (origin === 'trigger-queue') {
    throw new DeliveryRequestError(
      'The trigger queue does not take relay requests (any sender it admits, such as a listed SNS topic, could forge one). Put the request on the relay\'s bus (RequestBusName output) as a "MASV Relay Request" event: its rule delivers it through the request queue.',
    );
  }
  return [fromRelayRequest(isRequestEvent ? event.detail : event, context)];
}

/**
 * An SNS message may carry only S3 event notifications (or S3's test event): whoever may publish
 * to a topic must not be able to send relay requests that way — those go to the relay's bus.
 */
function s3EventsOnly(message: Record<string, unknown>, context?: TriggerContext): TriggerOutcome[] {
  if (message.Event === 's3:TestEvent')
    return [
      {
        kind: 'skip',
        reason: 'S3 test event delivered through SNS (sent when notifications are configured)',
      },
    ];
  const records = message.Records;
  if (
    !Array.isArray(records) ||
    records.length === 0 ||
    !records.every((r) => (r as S3NotificationRecord | null)?.eventSource === 'aws:s3')
  ) {
    throw new DeliveryRequestError(
      'The SNS message is not an S3 event notification (expected {"Records":[{"eventSource":"aws:s3",…}]}). Only S3 notifications are accepted through SNS; send relay requests to the relay\'s event bus.',
    );
  }
  return records.map((r) => fromS3Record(r as S3NotificationRecord, context));
}

/** Decodes an S3 notification key: form-URL encoding, where `+` is a space. */
export function decodeS3NotificationKey(key: string): string {
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    throw new DeliveryRequestError(`The S3 notification key "${key}" is not valid URL encoding.`);
  }
}

function fromS3Record(record: S3NotificationRecord, context?: TriggerContext): TriggerOutcome {
  if (record.eventSource !== 'aws:s3') {
    throw new DeliveryRequestError(
      `A notification record from "${String(record.eventSource)}" is not an S3 event.`,
    );
  }
  if (!record.eventName?.startsWith('ObjectCreated:')) {
    return { kind: 'skip', reason: `S3 event ${record.eventName ?? '(unnamed)'} is not an object creation` };
  }
  const bucket = record.s3?.bucket?.name;
  const rawKey = record.s3?.object?.key;
  if (!bucket || rawKey === undefined)
    throw new DeliveryRequestError('The S3 notification record has no bucket name or object key.');
  const o = record.s3!.object!;
  return objectCreated(
    {
      bucket,
      key: decodeS3NotificationKey(rawKey),
      versionId: o.versionId,
      etag: o.eTag,
      sequencer: o.sequencer,
    },
    context,
  );
}

function fromEventBridgeObjectCreated(
  event: Record<string, unknown>,
  context?: TriggerContext,
): TriggerOutcome {
  const detail = event.detail as
    | {
        bucket?: { name?: string };
        object?: { key?: string; 'version-id'?: string; etag?: string; sequencer?: string };
      }
    | undefined;
  const bucket = detail?.bucket?.name;
  const key = detail?.object?.key;
  if (!bucket || key === undefined)
    throw new DeliveryRequestError('The "Object Created" event has no bucket name or object key.');
  const o = detail!.object!;
  return objectCreated(
    { bucket, key, versionId: o['version-id'], etag: o.etag, sequencer: o.sequencer },
    context,
  );
}

interface CreatedObject {
  bucket: string;
  key: string;
  versionId?: string;
  etag?: string;
  sequencer?: string;
}

/** Refuses an S3 event from a bucket other than the relay's source: a clear error, not a silent skip. */
export function requireSourceBucket(bucket: string, context: TriggerContext | undefined, what: string) {
  if (context?.sourceBucket && bucket !== context.sourceBucket) {
    throw new DeliveryRequestError(
      `${what} names bucket "${bucket}", but this relay delivers only from its source bucket "${context.sourceBucket}". Send events of that bucket only, or deploy a relay for "${bucket}".`,
    );
  }
}

function objectCreated(created: CreatedObject, context?: TriggerContext): TriggerOutcome {
  const { bucket, key, versionId, etag, sequencer } = created;
  requireSourceBucket(bucket, context, `The S3 event for s3://${bucket}/${key}`);
  if (key.endsWith('/'))
    return { kind: 'skip', reason: `s3://${bucket}/${key} is a folder marker, not a file` };
  if (context) {
    const { prefix, suffix } = context.config.source;
    if (prefix && !key.startsWith(prefix))
      return { kind: 'skip', reason: `s3://${bucket}/${key} is outside the source prefix "${prefix}"` };
    const rule = folderRuleFor(context.config, key);
    if (rule) {
      const folder = markerFolder(key, context.config.triggers.folderMarker);
      if (folder === undefined) {
        return {
          kind: 'skip',
          reason: `s3://${bucket}/${key} is under the folder rule "${rule.prefix}": it is delivered with its folder when a ${context.config.triggers.folderMarker} marker is created there`,
        };
      }
      requireFolderInsideRule(rule, folder, `s3://${bucket}/${key}`);
      return folderDelivery(created, folder);
    }
    if (suffix && !key.endsWith(suffix))
      return {
        kind: 'skip',
        reason: `s3://${bucket}/${key} does not end with the source suffix "${suffix}"`,
      };
  }
  const identity = versionId ? `version\n${versionId}` : `etag\n${etag ?? ''}\n${sequencer ?? ''}`;
  const file = {
    bucket,
    key,
    ...(versionId ? { versionId } : {}),
    ...(etag ? { etag: unquoteEtag(etag) } : {}),
  };
  return {
    kind: 'start',
    deliveryId: deliveryIdFor(key, `s3\n${bucket}\n${key}\n${identity}`),
    request: { files: [file] },
  };
}

/**
 * A marker created in a folder: one delivery of the whole folder. The name hashes the folder, the
 * marker's content (ETag) and its upload (version id, else the event's sequencer), so duplicate
 * events of one upload start nothing new, while every new upload of the marker — a reused folder
 * (dailies, a camera card), a corrected marker — is a new delivery, even with the same bytes.
 */
function folderDelivery(marker: CreatedObject, folder: string): TriggerOutcome {
  const { bucket, key, versionId, etag, sequencer } = marker;
  const content = etag ? `etag\n${unquoteEtag(etag)}` : 'etag\n';
  const upload = versionId ? `version\n${versionId}` : `sequencer\n${sequencer ?? ''}`;
  return {
    kind: 'start',
    deliveryId: deliveryIdFor(folder || bucket, `folder\n${bucket}\n${folder}\n${content}\n${upload}`),
    request: {
      prefix: { bucket, prefix: folder },
      marker: {
        key,
        ...(versionId ? { versionId } : {}),
        ...(etag ? { etag: unquoteEtag(etag) } : {}),
      },
    },
  };
}

/** Every address a request sets must be inside `access.recipientDomains`; the error names the first one refused. */
export function requireAllowedAddresses(
  config: RelayConfig,
  addresses: Array<string | undefined>,
  origin: string,
) {
  const domains = config.access.recipientDomains;
  const refused = addresses.find((a) => a !== undefined && !isAllowedAddress(a, domains));
  if (refused) {
    throw new DeliveryRequestError(
      `${origin} sends to "${refused}", which is outside the allowed recipient domains (${domains.join(', ')}). Use an address at one of those domains, or ask the relay's owner to add the domain to access.recipientDomains.`,
    );
  }
}

function fromRelayRequest(input: unknown, context?: TriggerContext): TriggerOutcome {
  const request = normalizeRelayRequest(input);
  if (context) {
    requireAllowedAddresses(
      context.config,
      [...(request.package?.recipients ?? []), request.link?.email, request.package?.sender],
      'The relay request',
    );
  }
  for (const file of request.files ?? []) {
    if (file.key.endsWith('/')) {
      throw new DeliveryRequestError(
        `s3://${file.bucket}/${file.key} is a folder marker; use "prefix" to deliver a folder.`,
      );
    }
  }
  // With a requestId the name depends on the id alone (a fixed label, not the first key): a retry
  // that lists the same objects in another order finds the same execution.
  if (request.requestId) {
    return {
      kind: 'start',
      deliveryId: deliveryIdFor('request', `request-id\n${request.requestId}`),
      request,
    };
  }
  const label = request.prefix?.prefix ?? request.files?.[0]?.key ?? 'delivery';
  return {
    kind: 'start',
    deliveryId: deliveryIdFor(label, `request\n${canonicalJson(request)}`),
    request,
  };
}

const NAME_SAFE = /[^A-Za-z0-9_-]+/g;

/**
 * A deterministic Step Functions execution name (≤ 80 chars of `[A-Za-z0-9_-]`): a readable
 * slug of the object name plus a hash of what identifies the delivery, so duplicate events map
 * to the same execution.
 */
export function deliveryIdFor(label: string, identity: string): string {
  const hash = createHash('sha256').update(identity).digest('hex').slice(0, 40);
  const base = label.replace(/\/+$/, '').split('/').pop() ?? '';
  const slug = base
    .normalize('NFKD')
    .replace(NAME_SAFE, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 38);
  return slug ? `${slug}-${hash}` : `delivery-${hash}`;
}

/** JSON with object keys sorted: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
