import { readFile } from 'node:fs/promises';
import { XMLParser } from 'fast-xml-parser';
import type S3rver from 's3rver';
import {
  escapeXml,
  isPlain,
  MALFORMED_XML,
  noSuchKey,
  onObjectRequests,
  REQUEST_ID,
  readBody,
  replacedObject,
  s3Error,
} from './koa.js';

/**
 * S3's object tagging rules, as the S3 User Guide ("Categorizing your storage using tags") and the
 * API reference (`S3Tag`) state them: at most 10 tags per object, unique keys, keys of 1–128 and
 * values of 0–256 Unicode characters (counted in UTF-16 code units, as S3 stores them), only
 * letters, digits, spaces and `+ - = . _ : / @`, and no key starting with `aws:` (any case).
 * s3rver checks none of this, so the stand-in refuses here what S3 refuses, with S3's `InvalidTag`.
 */
export const S3_TAG_RULES = {
  maxTags: 10,
  maxKeyLength: 128,
  maxValueLength: 256,
  /** The `S3Tag` pattern: Unicode letters, separators (spaces), numbers and `_ . : / = + - @`. */
  allowed: /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u,
} as const;

export interface TagProblem {
  code: 'InvalidTag' | 'MalformedXML';
  message: string;
  key?: string;
  value?: string;
}

/** The first reason S3 would refuse this tag set, or undefined when S3 accepts it. */
export function tagSetProblem(tags: Array<{ key: string; value: string }>): TagProblem | undefined {
  if (tags.length > S3_TAG_RULES.maxTags)
    return { code: 'InvalidTag', message: 'Object tags cannot be greater than 10' };
  const seen = new Set<string>();
  for (const { key, value } of tags) {
    if (key.length < 1 || key.length > S3_TAG_RULES.maxKeyLength || !S3_TAG_RULES.allowed.test(key))
      return { code: 'InvalidTag', message: 'The TagKey you have provided is invalid', key };
    if (key.toLowerCase().startsWith('aws:'))
      return { code: 'InvalidTag', message: 'Your TagKey cannot be prefixed with aws:', key };
    if (value.length > S3_TAG_RULES.maxValueLength || !S3_TAG_RULES.allowed.test(value))
      return { code: 'InvalidTag', message: 'The TagValue you have provided is invalid', key, value };
    if (seen.has(key))
      return { code: 'InvalidTag', message: 'Cannot provide multiple Tags with the same key', key };
    seen.add(key);
  }
  return undefined;
}

interface Store {
  existsObject(bucket: string, key: string): Promise<boolean>;
  getResourcePath(bucket: string, key: string, resource: string): string;
  putSubresource(bucket: string, key: string, resource: { type: string; toXML(): string }): Promise<void>;
  deleteSubresource(bucket: string, key: string, type: string): Promise<void>;
}

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: false,
  isArray: (name) => name === 'Tag',
});

/** The elements S3 adds to an `InvalidTag` error: the tag key and value it refused. */
function problemDetail(problem: TagProblem) {
  return [
    problem.key !== undefined ? `<TagKey>${escapeXml(problem.key)}</TagKey>` : '',
    problem.value !== undefined ? `<TagValue>${escapeXml(problem.value)}</TagValue>` : '',
    REQUEST_ID,
  ].join('');
}

function taggingXml(tags: Array<{ key: string; value: string }>) {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet>',
    ...tags.map((t) => `<Tag><Key>${escapeXml(t.key)}</Key><Value>${escapeXml(t.value)}</Value></Tag>`),
    '</TagSet></Tagging>',
  ].join('');
}

const MALFORMED: TagProblem = { code: 'MalformedXML', message: MALFORMED_XML };

/** Reads a `<Tagging>` document; every tag needs a Key and a Value element (the value may be empty). */
export function parseTagging(body: string): Array<{ key: string; value: string }> | TagProblem {
  let doc: { Tagging?: { TagSet?: { Tag?: Array<{ Key?: unknown; Value?: unknown }> } | string } };
  try {
    doc = parser.parse(body, true);
  } catch {
    return MALFORMED;
  }
  const tagSet = doc.Tagging?.TagSet;
  if (tagSet === undefined) return MALFORMED;
  const tags = typeof tagSet === 'object' ? (tagSet.Tag ?? []) : [];
  const out: Array<{ key: string; value: string }> = [];
  for (const tag of tags) {
    if (typeof tag !== 'object' || tag.Key === undefined || tag.Value === undefined) return MALFORMED;
    out.push({ key: String(tag.Key), value: String(tag.Value) });
  }
  return out;
}

/**
 * Object tagging as S3 does it: PutObjectTagging validated against S3's rules (`InvalidTag`, 400),
 * tag values returned as strings exactly as written (s3rver turns "007" into 7), and a new object
 * written over a key starts without tags, as in S3 where tags belong to the object version.
 */
export function taggingShim(server: S3rver) {
  onObjectRequests<Store>(server, async (ctx, { bucket, key }, next) => {
    const store = ctx.app.store;
    const isTagging = 'tagging' in ctx.query;
    const refuse = (problem: TagProblem) =>
      s3Error(ctx, 400, problem.code, problem.message, problemDetail(problem));

    if (isTagging && ctx.method === 'PUT') {
      const parsed = parseTagging(await readBody(ctx.req));
      if (!Array.isArray(parsed)) return refuse(parsed);
      const problem = tagSetProblem(parsed);
      if (problem) return refuse(problem);
      if (!(await store.existsObject(bucket, key))) return noSuchKey(ctx, key);
      await store.putSubresource(bucket, key, { type: 'tagging', toXML: () => taggingXml(parsed) });
      ctx.status = 200;
      ctx.body = '';
      return;
    }
    if (isTagging && ctx.method === 'GET') {
      if (!(await store.existsObject(bucket, key))) return noSuchKey(ctx, key);
      let tags: Array<{ key: string; value: string }> = [];
      try {
        const parsed = parseTagging(
          await readFile(store.getResourcePath(bucket, key, 'tagging.xml'), 'utf8'),
        );
        if (Array.isArray(parsed)) tags = parsed;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
      ctx.status = 200;
      ctx.type = 'application/xml';
      ctx.body = taggingXml(tags);
      return;
    }
    // PutObject may tag the new object with `x-amz-tagging` (URL-encoded `k=v&k2=v2`): checked by
    // the same rules, and the object is not written when a tag is refused.
    const header =
      ctx.method === 'PUT' && isPlain(ctx) && !ctx.get('x-amz-copy-source') ? ctx.get('x-amz-tagging') : '';
    let headerTags: Array<{ key: string; value: string }> | undefined;
    if (header) {
      headerTags = [...new URLSearchParams(header)].map(([k, v]) => ({ key: k, value: v }));
      const problem = tagSetProblem(headerTags);
      if (problem) {
        ctx.req.resume();
        return refuse(problem);
      }
    }
    await next();
    // A new object under the key or its deletion drops the old object's tags.
    if (replacedObject(ctx)) {
      if (headerTags)
        await store.putSubresource(bucket, key, { type: 'tagging', toXML: () => taggingXml(headerTags) });
      else await store.deleteSubresource(bucket, key, 'tagging');
    }
  });
}
