import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { XMLParser } from 'fast-xml-parser';
import S3rver from 's3rver';
import { archiveShim } from './archive.js';
import {
  escapeXml,
  isPlain,
  malformedXml,
  objectOf,
  onObjectRequests,
  prependMiddleware,
  REQUEST_ID,
  readBody,
  s3Error,
} from './koa.js';
import { taggingShim } from './tagging.js';

/** s3rver's built-in credentials: it refuses any other access key. */
export const LOCAL_S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface LocalS3 {
  endpoint: string;
  server: S3rver;
  close(): Promise<void>;
}

interface StoredObject {
  key: string;
  size: number;
  lastModifiedDate: Date;
  metadata: { etag: string; 'x-amz-storage-class'?: string };
}

interface Store {
  getMetadata(bucket: string, key: string): Promise<{ etag: string }>;
  listObjects(
    bucket: string,
    options: { prefix?: string; delimiter?: string; startAfter?: string; maxKeys?: number },
  ): Promise<{ objects: StoredObject[]; commonPrefixes: string[]; isTruncated: boolean }>;
}

/**
 * s3rver ignores `If-Match`; real S3 answers 412 when the ETag differs. The relay pins ranged
 * reads with If-Match, so without this a source overwritten mid-delivery would mix versions.
 */
function ifMatchShim(server: S3rver) {
  onObjectRequests<Store>(server, async (ctx, object, next) => {
    const expected = ctx.get('if-match');
    if (expected && (ctx.method === 'GET' || ctx.method === 'HEAD')) {
      let meta: { etag: string };
      try {
        meta = await ctx.app.store.getMetadata(object.bucket, object.key);
      } catch {
        return next();
      }
      if (!meta || (expected !== '*' && expected.replace(/"/g, '') !== meta.etag.replace(/"/g, ''))) {
        return s3Error(ctx, 412, 'PreconditionFailed', PRECONDITION_FAILED);
      }
    }
    return next();
  });
}

const PRECONDITION_FAILED = 'At least one of the pre-conditions you specified did not hold';

/**
 * s3rver ignores `If-None-Match` on PutObject; S3 writes the object only if the key does not
 * exist (412 PreconditionFailed otherwise, 409 ConditionalRequestConflict when another conditional
 * write of the key is in flight) and accepts only the value `*` (501 otherwise). The relay's
 * package record relies on it: two overlapping Prepare invocations must not both record a package.
 */
function ifNoneMatchShim(server: S3rver) {
  const inFlight = new Set<string>();
  onObjectRequests<Store>(server, async (ctx, object, next) => {
    const condition = ctx.get('if-none-match');
    if (!condition || ctx.method !== 'PUT' || !isPlain(ctx)) return next();
    if (condition !== '*')
      return s3Error(
        ctx,
        501,
        'NotImplemented',
        'A header you provided implies functionality that is not implemented: If-None-Match accepts only *',
      );
    const id = `${object.bucket}/${object.key}`;
    if (inFlight.has(id))
      return s3Error(
        ctx,
        409,
        'ConditionalRequestConflict',
        'A conflicting conditional operation is currently in progress against this resource. Please try again.',
      );
    inFlight.add(id);
    try {
      const exists = await ctx.app.store.getMetadata(object.bucket, object.key).then(
        (meta) => Boolean(meta),
        () => false,
      );
      if (exists)
        return s3Error(
          ctx,
          412,
          'PreconditionFailed',
          PRECONDITION_FAILED,
          '<Condition>If-None-Match</Condition>',
        );
      await next();
    } finally {
      inFlight.delete(id);
    }
  });
}

/**
 * s3rver builds ListObjectsV2 continuation tokens with DES, which the OpenSSL 3 in Node ≥ 17
 * refuses, so any listing of more than 1,000 keys fails with InternalError. The parts ledger lists
 * thousands of keys, so list-type=2 is answered here, from s3rver's own store, with plain tokens.
 */
function listObjectsV2Shim(server: S3rver) {
  prependMiddleware<Store>(server, async (ctx, next) => {
    const segments = ctx.path.split('/').filter(Boolean);
    if (ctx.method !== 'GET' || segments.length !== 1 || ctx.query['list-type'] !== '2') return next();
    const bucket = segments[0]!;
    const token = ctx.query['continuation-token'];
    const maxKeys = Math.min(1000, Number(ctx.query['max-keys'] ?? 1000));
    const prefix = ctx.query.prefix ?? '';
    const delimiter = ctx.query.delimiter ?? '';
    let result: Awaited<ReturnType<Store['listObjects']>>;
    try {
      result = await ctx.app.store.listObjects(bucket, {
        prefix,
        delimiter,
        maxKeys,
        startAfter: token
          ? Buffer.from(token, 'base64url').toString('utf8')
          : (ctx.query['start-after'] ?? ''),
      });
    } catch {
      return next();
    }
    const last = result.objects.at(-1)?.key;
    const next_ = result.isTruncated && last ? Buffer.from(last, 'utf8').toString('base64url') : undefined;
    ctx.type = 'application/xml';
    ctx.body = [
      '<?xml version="1.0" encoding="UTF-8"?>',
      '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
      `<Name>${escapeXml(bucket)}</Name><Prefix>${escapeXml(prefix)}</Prefix>`,
      delimiter ? `<Delimiter>${escapeXml(delimiter)}</Delimiter>` : '',
      `<KeyCount>${result.objects.length}</KeyCount><MaxKeys>${maxKeys}</MaxKeys>`,
      `<IsTruncated>${result.isTruncated}</IsTruncated>`,
      token ? `<ContinuationToken>${escapeXml(token)}</ContinuationToken>` : '',
      next_ ? `<NextContinuationToken>${next_}</NextContinuationToken>` : '',
      ...result.objects.map(
        (o) =>
          `<Contents><Key>${escapeXml(o.key)}</Key><LastModified>${o.lastModifiedDate.toISOString()}</LastModified><ETag>${escapeXml(o.metadata.etag)}</ETag><Size>${o.size}</Size><StorageClass>${escapeXml(o.metadata['x-amz-storage-class'] ?? 'STANDARD')}</StorageClass></Contents>`,
      ),
      ...result.commonPrefixes.map(
        (p) => `<CommonPrefixes><Prefix>${escapeXml(p)}</Prefix></CommonPrefixes>`,
      ),
      '</ListBucketResult>',
    ].join('');
  });
}

/**
 * The buckets here are unversioned, as the relay's are by default, but s3rver knows no versions:
 * it would serve the current object for any `versionId`, so a read the relay pins by version (it
 * sends no If-Match then, `functions/core/source/s3-source.ts`) would not be pinned. In an unversioned
 * bucket S3 keeps one version per key, `null`, and refuses any other id with 400 InvalidArgument
 * ("Invalid version id specified", naming the argument), on every object request that takes one.
 */
function versionIdShim(server: S3rver) {
  onObjectRequests(server, async (ctx, _object, next) => {
    const versionId = ctx.query.versionId;
    if (versionId === undefined || versionId === 'null') return next();
    ctx.req.resume();
    return s3Error(
      ctx,
      400,
      'InvalidArgument',
      versionId === '' ? 'Version id cannot be the empty string' : 'Invalid version id specified',
      `<ArgumentName>versionId</ArgumentName><ArgumentValue>${escapeXml(versionId)}</ArgumentValue>${REQUEST_ID}`,
    );
  });
}

/** DeleteObjects takes at most this many keys (S3 API reference). */
export const DELETE_OBJECTS_MAX_KEYS = 1000;

const deleteParser = new XMLParser({ ignoreAttributes: true, isArray: (name) => name === 'Object' });

/**
 * S3 refuses a DeleteObjects of more than 1,000 keys whole, with 400 MalformedXML; s3rver deletes
 * them all. The relay's `StateBucket.clear` sends 1,000 at a time, which this holds it to. The
 * body is read here, so s3rver gets a copy of it.
 */
function deleteObjectsShim(server: S3rver) {
  prependMiddleware(server, async (ctx, next) => {
    if (ctx.method !== 'POST' || !('delete' in ctx.query) || objectOf(ctx)) return next();
    const body = await readBody(ctx.req);
    let keys = 0;
    try {
      keys = (deleteParser.parse(body) as { Delete?: { Object?: unknown[] } }).Delete?.Object?.length ?? 0;
    } catch {
      // Not XML: s3rver answers MalformedXML itself.
    }
    if (keys > DELETE_OBJECTS_MAX_KEYS) return malformedXml(ctx);
    ctx.req = Readable.from([Buffer.from(body, 'utf8')]);
    return next();
  });
}

/** Starts s3rver on loopback with the given buckets (path-style, reached with the real AWS SDK). */
export async function startLocalS3(options: {
  buckets: string[];
  port?: number;
  directory?: string;
  /** How long a RestoreObject of an archived object takes here (default 2 s); see s3-archive.ts. */
  restoreDelayMs?: number;
}): Promise<LocalS3> {
  const ownDir = !options.directory;
  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), 'masv-relay-s3-')));
  const server = new S3rver({
    address: '127.0.0.1',
    port: options.port ?? 0,
    silent: true,
    directory,
    configureBuckets: options.buckets.map((name) => ({ name, configs: [] })),
  });
  ifMatchShim(server);
  ifNoneMatchShim(server);
  listObjectsV2Shim(server);
  taggingShim(server);
  archiveShim(server, options.restoreDelayMs ?? 2000);
  deleteObjectsShim(server);
  // Prepended last, so it runs first: no other shim serves a version that does not exist.
  versionIdShim(server);
  const address = (await server.run()) as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    server,
    close: async () => {
      await server.close();
      if (ownDir) await rm(directory, { recursive: true, force: true });
    },
  };
}
