import type S3rver from 's3rver';

/**
 * The part of s3rver's Koa request context the local S3 shims use; `Store` names the calls a shim
 * makes on s3rver's own store.
 */
export interface S3rverContext<Store> {
  method: string;
  path: string;
  query: Record<string, string | undefined>;
  status: number;
  type: string;
  body: unknown;
  /** The request body; a shim that reads it hands s3rver a replacement (see `s3-server.ts`). */
  req: NodeJS.ReadableStream & { resume(): unknown };
  get(name: string): string;
  set(name: string, value: string): void;
  app: { store: Store };
}

type AnyContext = S3rverContext<unknown>;

/** Runs `middleware` before s3rver's own handlers (s3rver offers no hook for it). */
export function prependMiddleware<Store>(
  server: S3rver,
  middleware: (ctx: S3rverContext<Store>, next: () => Promise<void>) => Promise<void>,
) {
  (server as unknown as { middleware: unknown[] }).middleware.unshift(middleware);
}

/**
 * Runs `handler` before s3rver's own handlers on every request that names an object (see
 * `objectOf`); a request on a bucket itself goes straight on.
 */
export function onObjectRequests<Store>(
  server: S3rver,
  handler: (
    ctx: S3rverContext<Store>,
    object: { bucket: string; key: string },
    next: () => Promise<void>,
  ) => Promise<void>,
) {
  prependMiddleware<Store>(server, async (ctx, next) => {
    const object = objectOf(ctx);
    return object ? handler(ctx, object, next) : next();
  });
}

export const escapeXml = (value: string) =>
  value.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!,
  );

export async function readBody(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

export const MALFORMED_XML =
  'The XML you provided was not well-formed or did not validate against our published schema';

/** The `<RequestId>` S3 puts last in an error; the shims that always sent one keep it. */
export const REQUEST_ID = '<RequestId>LOCAL</RequestId>';

/**
 * Answers with S3's XML error: `Code`, `Message` (escaped), then `extra` as given (elements such
 * as `<Key>…</Key>`, already escaped).
 */
export function s3Error(ctx: AnyContext, status: number, code: string, message: string, extra = '') {
  ctx.status = status;
  ctx.type = 'application/xml';
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${escapeXml(message)}</Message>${extra}</Error>`;
}

/** S3's 404 for a key that holds no object; `extra` follows the `<Key>` element. */
export function noSuchKey(ctx: AnyContext, key: string, extra = '') {
  s3Error(ctx, 404, 'NoSuchKey', 'The specified key does not exist.', `<Key>${escapeXml(key)}</Key>${extra}`);
}

/** S3's 400 for a request body that is not the XML document the operation takes. */
export function malformedXml(ctx: AnyContext) {
  s3Error(ctx, 400, 'MalformedXML', MALFORMED_XML, REQUEST_ID);
}

/**
 * The bucket and key a path-style request names, or undefined for a request on the bucket itself.
 * The key is kept exactly (empty segments and a trailing slash included), as S3 and s3rver keep it.
 */
export function objectOf(ctx: AnyContext): { bucket: string; key: string } | undefined {
  const match = /^\/([^/]+)\/(.+)$/s.exec(ctx.path);
  if (!match) return undefined;
  return { bucket: match[1]!, key: decodeURIComponent(match[2]!) };
}

/**
 * Whether the request names no subresource: the SDK adds `x-id=PutObject` and the like, and
 * `versionId` picks a version of the object itself (only `null` gets this far; see `s3-server.ts`).
 */
export function isPlain(ctx: AnyContext): boolean {
  return Object.keys(ctx.query).every((name) => name === 'x-id' || name === 'versionId');
}

/**
 * Whether the request, once s3rver has answered it, put a new object under its key (PutObject,
 * CopyObject, CompleteMultipartUpload) or deleted it: either way, what S3 kept of the old object is
 * gone.
 */
export function replacedObject(ctx: AnyContext): boolean {
  const replaces =
    ((ctx.method === 'PUT' || ctx.method === 'DELETE') && isPlain(ctx)) ||
    (ctx.method === 'POST' && 'uploadId' in ctx.query);
  return replaces && ctx.status < 300;
}
