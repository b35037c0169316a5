import { createHash } from 'node:crypto';
import { type DeliveryRequest, normalizeRelayRequest } from './delivery.js';
import { DeliveryRequestError } from './errors.js';

export const RELAY_REQUEST_DETAIL_TYPE = 'MASV Relay Request';

/** What one trigger record asks for: a delivery to start, or a documented reason to skip it. */
export type TriggerOutcome =
  | { kind: 'start'; executionName: string; request: DeliveryRequest }
  | { kind: 'skip'; reason: string };

interface S3NotificationRecord {
  eventSource?: string;
  eventName?: string;
  s3?: {
    bucket?: { name?: string };
    object?: { key?: string; versionId?: string; eTag?: string; sequencer?: string; size?: number };
  };
}

/**
 * Turns one trigger payload into delivery requests. Understands S3 event notifications (keys
 * form-URL-encoded, `+` for space), EventBridge "Object Created" events (raw keys), EventBridge
 * "MASV Relay Request" events and the direct request JSON.
 */
export function outcomesFromPayload(payload: unknown): TriggerOutcome[] {
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) {
    throw new DeliveryRequestError(
      `The trigger payload must be a JSON object (S3 notification, EventBridge event or relay request); got ${describe(payload)}.`,
    );
  }
  const event = payload as Record<string, unknown>;
  if (event.Event === 's3:TestEvent')
    return [{ kind: 'skip', reason: 'S3 test event (sent when notifications are configured)' }];
  if (Array.isArray(event.Records)) return event.Records.map((r) => fromS3Record(r as S3NotificationRecord));
  if (event.source === 'aws.s3' && event['detail-type'] === 'Object Created')
    return [fromEventBridgeObjectCreated(event)];
  if (event['detail-type'] === RELAY_REQUEST_DETAIL_TYPE) return [fromRelayRequest(event.detail)];
  if ('detail-type' in event) {
    throw new DeliveryRequestError(
      `EventBridge events of detail-type "${String(event['detail-type'])}" are not deliveries: send "Object Created" from aws.s3 or "${RELAY_REQUEST_DETAIL_TYPE}".`,
    );
  }
  return [fromRelayRequest(event)];
}

/** Decodes an S3 notification key: form-URL encoding, where `+` is a space. */
export function decodeS3NotificationKey(key: string): string {
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    throw new DeliveryRequestError(`The S3 notification key "${key}" is not valid URL encoding.`);
  }
}

function fromS3Record(record: S3NotificationRecord): TriggerOutcome {
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
  return objectCreated(bucket, decodeS3NotificationKey(rawKey), o.versionId, o.eTag, o.sequencer);
}

function fromEventBridgeObjectCreated(event: Record<string, unknown>): TriggerOutcome {
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
  return objectCreated(bucket, key, o['version-id'], o.etag, o.sequencer);
}

function objectCreated(
  bucket: string,
  key: string,
  versionId?: string,
  etag?: string,
  sequencer?: string,
): TriggerOutcome {
  if (key.endsWith('/'))
    return { kind: 'skip', reason: `s3://${bucket}/${key} is a folder marker, not a file` };
  const identity = versionId ? `version\n${versionId}` : `etag\n${etag ?? ''}\n${sequencer ?? ''}`;
  const file = {
    bucket,
    key,
    ...(versionId ? { versionId } : {}),
    ...(etag ? { etag: etag.replace(/"/g, '') } : {}),
  };
  return {
    kind: 'start',
    executionName: executionName(key, `s3\n${bucket}\n${key}\n${identity}`),
    request: { files: [file] },
  };
}

function fromRelayRequest(input: unknown): TriggerOutcome {
  const request = normalizeRelayRequest(input);
  for (const file of request.files ?? []) {
    if (file.key.endsWith('/')) {
      throw new DeliveryRequestError(
        `s3://${file.bucket}/${file.key} is a folder marker; use "prefix" to deliver a folder.`,
      );
    }
  }
  const label = request.prefix?.prefix ?? request.files?.[0]?.key ?? 'delivery';
  const identity = request.requestId
    ? `request-id\n${request.requestId}`
    : `request\n${canonicalJson(request)}`;
  return { kind: 'start', executionName: executionName(label, identity), request };
}

const NAME_SAFE = /[^A-Za-z0-9_-]+/g;

/**
 * A deterministic Step Functions execution name (≤ 80 chars of `[A-Za-z0-9_-]`): a readable
 * slug of the object name plus a hash of what identifies the delivery, so duplicate events map
 * to the same execution.
 */
export function executionName(label: string, identity: string): string {
  const hash = createHash('sha256').update(identity).digest('hex').slice(0, 40);
  const base = label.replace(/\/+$/, '').split('/').pop() ?? '';
  const slug = base
    .normalize('NFKD')
    .replace(NAME_SAFE, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 38);
  return slug ? `${slug}-${hash}` : `delivery-${hash}`;
}

function canonicalJson(value: unknown): string {
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
