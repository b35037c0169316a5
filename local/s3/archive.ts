import { XMLParser } from 'fast-xml-parser';
import type S3rver from 's3rver';
import {
  isPlain,
  malformedXml,
  noSuchKey,
  onObjectRequests,
  REQUEST_ID,
  readBody,
  replacedObject,
  type S3rverContext,
  s3Error,
} from './koa.js';

/**
 * Archived objects as S3 treats them (S3 API reference: GetObject, HeadObject, RestoreObject):
 * - an object stored as GLACIER or DEEP_ARCHIVE, or an INTELLIGENT_TIERING object in the
 *   ARCHIVE_ACCESS or DEEP_ARCHIVE_ACCESS tier, answers GET with 403 `InvalidObjectState`
 *   (naming the storage class, or the access tier) until a restored copy is available;
 * - HEAD still answers 200, with `x-amz-storage-class`, `x-amz-archive-status` for the
 *   Intelligent-Tiering tiers, and `x-amz-restore` once a restore was asked for:
 *   `ongoing-request="true"` while it runs, then `ongoing-request="false", expiry-date="…"`;
 * - RestoreObject answers 202 when it starts a restore, 409 `RestoreAlreadyInProgress` while one
 *   runs, 200 when a restored copy exists (its expiry is extended), 403
 *   `ObjectAlreadyInActiveTierError` for an object that is not archived. `Days` is required for
 *   the Glacier classes and refused for the Intelligent-Tiering tiers; Expedited is not offered for
 *   Deep Archive. A restored Intelligent-Tiering object moves back to the frequent access tier.
 * s3rver knows none of this (it stores the storage class and serves every object). Restores here
 * complete after `restoreDelayMs` instead of hours; `setAccessTier` stands in for S3 moving an
 * Intelligent-Tiering object to an archive tier after months without access.
 */
export type AccessTier = 'ARCHIVE_ACCESS' | 'DEEP_ARCHIVE_ACCESS';
export type RestoreTier = 'Standard' | 'Bulk' | 'Expedited';

interface ArchiveState {
  accessTier?: AccessTier;
  restore?: { readyAt: number; expiresAt?: number; tier: RestoreTier };
}

export interface ArchiveControls {
  /** How long a restore takes here (S3: minutes to hours by tier). */
  restoreDelayMs: number;
  /** Moves an INTELLIGENT_TIERING object to an archive access tier. */
  setAccessTier(bucket: string, key: string, tier: AccessTier): void;
  /** Every RestoreObject request that was accepted (202 or 200), in order. */
  readonly restoreRequests: Array<{ bucket: string; key: string; tier: RestoreTier; days?: number }>;
}

interface Store {
  getMetadata(bucket: string, key: string): Promise<Record<string, string> | undefined>;
}

type Context = S3rverContext<Store>;
type ObjectName = { bucket: string; key: string };

const controlsByServer = new WeakMap<S3rver, ArchiveControls>();

/** The archive controls of a local S3 started by `startLocalS3`. */
export function archiveControls(server: S3rver): ArchiveControls {
  const controls = controlsByServer.get(server);
  if (!controls) throw new Error('This s3rver was not started by startLocalS3 (no archive controls).');
  return controls;
}

const GLACIER_CLASSES = new Set(['GLACIER', 'DEEP_ARCHIVE']);
const DAY_MS = 86_400_000;

const parser = new XMLParser({ ignoreAttributes: true, parseTagValue: false });

/** S3 rounds a restored copy's expiry up to the next midnight UTC. */
function expiryAfter(readyAt: number, days: number) {
  const at = readyAt + days * DAY_MS;
  return Math.ceil(at / DAY_MS) * DAY_MS;
}

/** Where an object stands: archived (and how), restoring, or readable. */
function standing(storageClass: string, state: ArchiveState | undefined, now: number) {
  const restore = state?.restore;
  const restored = restore !== undefined && restore.readyAt <= now && (restore.expiresAt ?? Infinity) > now;
  const ongoing = restore !== undefined && restore.readyAt > now;
  if (GLACIER_CLASSES.has(storageClass)) return { archived: !restored, restore, restored, ongoing };
  if (storageClass === 'INTELLIGENT_TIERING' && state?.accessTier) {
    if (restored && state) state.accessTier = undefined; // back in the frequent access tier
    return { archived: !restored, accessTier: state.accessTier, restore, restored, ongoing };
  }
  return { archived: false, restore, restored, ongoing };
}

export function archiveShim(server: S3rver, restoreDelayMs: number): ArchiveControls {
  const states = new Map<string, ArchiveState>();
  const controls: ArchiveControls = {
    restoreDelayMs,
    restoreRequests: [],
    setAccessTier(bucket, key, tier) {
      const state = states.get(`${bucket}/${key}`) ?? {};
      states.set(`${bucket}/${key}`, { ...state, accessTier: tier, restore: undefined });
    },
  };
  controlsByServer.set(server, controls);

  onObjectRequests<Store>(server, async (ctx, object, next) => {
    const id = `${object.bucket}/${object.key}`;
    if (ctx.method === 'POST' && 'restore' in ctx.query) return restoreObject(ctx, object, states, controls);
    if ((ctx.method === 'GET' || ctx.method === 'HEAD') && isPlain(ctx)) {
      return readObject(ctx, object, states.get(id), next);
    }
    await next();
    // A new object under the key, or its deletion, ends the old object's archive state.
    if (replacedObject(ctx)) states.delete(id);
  });
  return controls;
}

function metadataOf(ctx: Context, { bucket, key }: ObjectName) {
  return ctx.app.store.getMetadata(bucket, key).catch(() => undefined);
}

/** RestoreObject: refused as S3 refuses it, or a restore started (202) or extended (200). */
async function restoreObject(
  ctx: Context,
  object: ObjectName,
  states: Map<string, ArchiveState>,
  controls: ArchiveControls,
) {
  const { bucket, key } = object;
  const id = `${bucket}/${key}`;
  const body = await readBody(ctx.req);
  const meta = await metadataOf(ctx, object);
  if (!meta) return noSuchKey(ctx, key, REQUEST_ID);
  const request = parseRestoreRequest(body);
  if (!request) return malformedXml(ctx);
  const { tier, days } = request;
  const storageClass = meta['x-amz-storage-class'] ?? 'STANDARD';
  const state = states.get(id) ?? {};
  const now = Date.now();
  const where = standing(storageClass, state, now);
  const refusal = restoreRefusal(storageClass, state, request);
  if (refusal) return s3Error(ctx, refusal.status, refusal.code, refusal.message, REQUEST_ID);
  if (where.ongoing)
    return s3Error(ctx, 409, 'RestoreAlreadyInProgress', 'Object restore is already in progress', REQUEST_ID);
  controls.restoreRequests.push({ bucket, key, tier, ...(days !== undefined ? { days } : {}) });
  if (where.restored && state.restore) {
    if (days !== undefined) state.restore.expiresAt = expiryAfter(now, days);
    ctx.status = 200;
    ctx.body = '';
    return;
  }
  const readyAt = now + controls.restoreDelayMs;
  state.restore = {
    readyAt,
    tier,
    ...(days !== undefined ? { expiresAt: expiryAfter(readyAt, days) } : {}),
  };
  states.set(id, state);
  ctx.status = 202;
  ctx.body = '';
}

interface RestoreRequest {
  tier: RestoreTier;
  days?: number;
}

/** The tier and days a RestoreObject body asks for, or undefined when S3 would call it MalformedXML. */
function parseRestoreRequest(body: string): RestoreRequest | undefined {
  let request: { RestoreRequest?: { Days?: string; GlacierJobParameters?: { Tier?: string } } };
  try {
    request = parser.parse(body, true);
  } catch {
    request = {};
  }
  const restoreRequest = request.RestoreRequest;
  if (!restoreRequest) return undefined;
  const tier = (restoreRequest.GlacierJobParameters?.Tier ?? 'Standard') as RestoreTier;
  if (!['Standard', 'Bulk', 'Expedited'].includes(tier)) return undefined;
  const days = restoreRequest.Days === undefined ? undefined : Number(restoreRequest.Days);
  return { tier, days };
}

/** Why S3 refuses this restore of an object of this storage class and tier, or undefined when it may run. */
function restoreRefusal(
  storageClass: string,
  state: ArchiveState,
  { tier, days }: RestoreRequest,
): { status: number; code: string; message: string } | undefined {
  const glacier = GLACIER_CLASSES.has(storageClass);
  if (!glacier && !(storageClass === 'INTELLIGENT_TIERING' && state.accessTier)) {
    return {
      status: 403,
      code: 'ObjectAlreadyInActiveTierError',
      message: 'This operation is not allowed against this storage tier.',
    };
  }
  if (glacier && (days === undefined || !Number.isInteger(days) || days < 1)) {
    return {
      status: 400,
      code: 'MalformedXML',
      message: 'Days is required and must be a whole number of at least 1 for this storage class',
    };
  }
  if (!glacier && days !== undefined) {
    return {
      status: 400,
      code: 'InvalidArgument',
      message: 'Days must not be specified for an object in an Intelligent-Tiering archive tier',
    };
  }
  if (
    tier === 'Expedited' &&
    (storageClass === 'DEEP_ARCHIVE' || state.accessTier === 'DEEP_ARCHIVE_ACCESS')
  ) {
    return {
      status: 400,
      code: 'InvalidArgument',
      message: 'Expedited retrieval is not available for this storage class or access tier',
    };
  }
  return undefined;
}

/**
 * GetObject and HeadObject: a GET of an archived object is refused until a restored copy exists;
 * a HEAD answers with the archive status and the restore's progress.
 */
async function readObject(
  ctx: Context,
  object: ObjectName,
  state: ArchiveState | undefined,
  next: () => Promise<void>,
) {
  const meta = await metadataOf(ctx, object);
  if (!meta) return next();
  const storageClass = meta['x-amz-storage-class'] ?? 'STANDARD';
  const where = standing(storageClass, state, Date.now());
  if (ctx.method === 'GET' && where.archived) {
    return where.accessTier
      ? s3Error(
          ctx,
          403,
          'InvalidObjectState',
          "The operation is not valid for the object's access tier",
          `<AccessTier>${where.accessTier}</AccessTier>${REQUEST_ID}`,
        )
      : s3Error(
          ctx,
          403,
          'InvalidObjectState',
          "The operation is not valid for the object's storage class",
          `<StorageClass>${storageClass}</StorageClass>${REQUEST_ID}`,
        );
  }
  await next();
  if (ctx.status >= 300) return;
  if (where.accessTier) ctx.set('x-amz-archive-status', where.accessTier);
  if (where.ongoing) ctx.set('x-amz-restore', 'ongoing-request="true"');
  else if (where.restored)
    ctx.set(
      'x-amz-restore',
      where.restore?.expiresAt
        ? `ongoing-request="false", expiry-date="${new Date(where.restore.expiresAt).toUTCString()}"`
        : 'ongoing-request="false"',
    );
}
