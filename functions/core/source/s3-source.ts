import type { Readable } from 'node:stream';
import {
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectTaggingCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import type { Source } from '../delivery/request.js';
import { NetworkError, SourceArchivedError, SourceChangedError, SourceNotFoundError } from '../errors.js';
import { statusOf } from '../sdk-errors.js';
import { type ArchiveStatus, archiveStatusOf } from './archive.js';
import { unquoteEtag } from './etag.js';
import { objectParams, s3Url } from './s3-object.js';
import { type MergedTags, mergeTags } from './tags.js';

/**
 * An S3 client for the relay: checksums only when required, because the default CRC32 trailers
 * corrupt streamed bodies on S3-compatible servers and add nothing for ranged GETs we MD5 ourselves;
 * region redirects followed, so an imported source bucket may live in another region.
 */
export function createS3Client(config: S3ClientConfig = {}): S3Client {
  return new S3Client({
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    followRegionRedirects: true,
    ...config,
  });
}

export interface SourceObject {
  bucket: string;
  key: string;
  versionId?: string;
  /** ETag without quotes. */
  etag: string;
  size: number;
  lastModified: Date;
  /** User metadata (`x-amz-meta-*`), keys lower-case without the prefix. */
  metadata: Record<string, string>;
  /** Storage class as HEAD reports it (absent for STANDARD). */
  storageClass?: string;
  /** Set when the object is archived and cannot be read until restored. */
  archived?: ArchiveStatus;
}

/** Reads size, ETag, version and metadata of a source, pinned to the trigger's version or ETag. */
export async function headSource(s3: S3Client, source: Source): Promise<SourceObject> {
  try {
    const head = await s3.send(
      new HeadObjectCommand({
        ...objectParams(source),
        IfMatch: source.versionId || !source.etag ? undefined : `"${source.etag}"`,
      }),
    );
    const archived = archiveStatusOf(head);
    return {
      bucket: source.bucket,
      key: source.key,
      versionId:
        source.versionId ?? (head.VersionId && head.VersionId !== 'null' ? head.VersionId : undefined),
      etag: unquoteEtag(head.ETag ?? ''),
      size: head.ContentLength ?? 0,
      lastModified: head.LastModified ?? new Date(0),
      metadata: head.Metadata ?? {},
      ...(head.StorageClass ? { storageClass: head.StorageClass } : {}),
      ...(archived ? { archived } : {}),
    };
  } catch (error) {
    throw sourceError(error, source, 'read');
  }
}

function sourceError(error: unknown, source: { bucket: string; key: string }, action: string) {
  const status = statusOf(error);
  const name = (error as Error).name;
  if (status === 412 || name === 'PreconditionFailed') {
    return new SourceChangedError(
      `${s3Url(source)} changed after the delivery started (its ETag no longer matches). The delivery was stopped so versions are never mixed; the new version is delivered by its own event.`,
      { cause: error },
    );
  }
  if (
    status === 404 ||
    name === 'NoSuchKey' ||
    name === 'NotFound' ||
    name === 'NoSuchBucket' ||
    name === 'NoSuchVersion'
  ) {
    return new SourceNotFoundError(
      `Could not ${action} ${s3Url(source)}: the bucket, object or version does not exist (${name}). Check the bucket and key; an object deleted before delivery cannot be sent.`,
      { cause: error },
    );
  }
  if (name === 'InvalidObjectState') {
    const detail = error as { StorageClass?: string; AccessTier?: string };
    const where = detail.AccessTier
      ? `access tier ${detail.AccessTier}`
      : `storage class ${detail.StorageClass ?? 'unknown'}`;
    return new SourceArchivedError(
      `${s3Url(source)} is archived (${where}) and cannot be read until it is restored. Restore it and send the delivery again, or set source.restoreArchived so the relay restores and waits.`,
      { cause: error },
    );
  }
  if (status === 403) {
    return new SourceNotFoundError(
      `Access to ${s3Url(source)} was denied. Grant the relay read access to this bucket and prefix (and kms:Decrypt for its key).`,
      { cause: error },
    );
  }
  if (status === undefined || status >= 500) {
    return new NetworkError(`Reading ${s3Url(source)} failed: ${(error as Error).message}.`, {
      cause: error,
    });
  }
  return new SourceNotFoundError(`Could not ${action} ${s3Url(source)}: ${(error as Error).message}.`, {
    cause: error,
  });
}

/** Objects under a prefix, folder markers (and keys `skip` names, e.g. `_MASV_READY`) left out, in key order. */
export async function listPrefix(
  s3: S3Client,
  bucket: string,
  prefix: string,
  skip: (key: string) => boolean = () => false,
): Promise<Source[]> {
  const sources: Source[] = [];
  let token: string | undefined;
  try {
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key && !object.Key.endsWith('/') && !skip(object.Key))
          sources.push({ bucket, key: object.Key });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  } catch (error) {
    throw sourceError(error, { bucket, key: prefix }, 'list');
  }
  return sources;
}

/** What a ranged read needs of a source object: where it is and the version or ETag it is pinned to. */
export type PinnedSource = Pick<SourceObject, 'bucket' | 'key' | 'versionId' | 'etag'>;

/**
 * Opens a ranged GET of `[first, last]`, pinned by version id, else by `If-Match` on the ETag, so a
 * source overwritten mid-delivery fails with SourceChangedError instead of mixing versions.
 */
export async function openRange(
  s3: S3Client,
  object: PinnedSource,
  first: number,
  last: number,
  signal?: AbortSignal,
): Promise<Readable> {
  const expected = last - first + 1;
  try {
    const response = await s3.send(
      new GetObjectCommand({
        ...objectParams(object),
        Range: `bytes=${first}-${last}`,
        IfMatch: object.versionId ? undefined : `"${object.etag}"`,
      }),
      { abortSignal: signal },
    );
    const body = response.Body as Readable;
    if (response.ContentLength !== expected) {
      body.destroy();
      throw new NetworkError(
        `The ranged GET of ${s3Url(object)} bytes ${first}-${last} returned ${response.ContentLength} bytes instead of ${expected}.`,
      );
    }
    return body;
  } catch (error) {
    if (error instanceof NetworkError) throw error;
    const mapped = sourceError(error, object, 'read');
    // A pinned object that vanishes mid-delivery was replaced or deleted: that is a change.
    if (mapped instanceof SourceNotFoundError && statusOf(error) === 404) {
      throw new SourceChangedError(`${s3Url(object)} was deleted or replaced during the delivery.`, {
        cause: error,
      });
    }
    throw mapped;
  }
}

/**
 * Whether an unversioned key still holds the object the delivery read (same ETag). Tags belong to
 * an object, not a key: once the key holds another object, that object's own delivery tags it.
 */
async function stillHolds(s3: S3Client, object: { bucket: string; key: string; etag?: string }) {
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: object.bucket, Key: object.key }));
    return unquoteEtag(head.ETag ?? '') === unquoteEtag(object.etag ?? '');
  } catch (error) {
    if (statusOf(error) === 404 || (error as Error).name === 'NotFound') return false;
    throw error;
  }
}

/**
 * Writes the relay's tags on a source object, merged with the object's own tags by the rule of
 * `mergeTags` (`s3-tags.ts`): values reduced to what S3 accepts, `masv-relay:status` always kept,
 * the object's own tags before the relay's informational ones. Returns what was written and what
 * had to be left out, so callers can log it; the full failure reason stays in events and logs.
 * In an unversioned bucket, a key that now holds another object is left alone (`undefined`).
 */
export async function tagSource(
  s3: S3Client,
  object: { bucket: string; key: string; versionId?: string; etag?: string },
  tags: Record<string, string>,
): Promise<MergedTags | undefined> {
  if (!object.versionId && object.etag && !(await stillHolds(s3, object))) return undefined;
  const current = await s3.send(new GetObjectTaggingCommand(objectParams(object)));
  const own = (current.TagSet ?? []).map((t) => ({ Key: t.Key ?? '', Value: t.Value ?? '' }));
  const merged = mergeTags(own, tags);
  await s3.send(
    new PutObjectTaggingCommand({
      ...objectParams(object),
      Tagging: { TagSet: merged.tagSet },
    }),
  );
  return merged;
}
