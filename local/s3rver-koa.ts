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
 * Whether a request that succeeded put a new object under its key (PutObject, CopyObject,
 * CompleteMultipartUpload) or deleted it: either way, what S3 kept of the old object is gone.
 */
export function replacesObject(ctx: AnyContext): boolean {
  return (
    ((ctx.method === 'PUT' || ctx.method === 'DELETE') && isPlain(ctx)) ||
    (ctx.method === 'POST' && 'uploadId' in ctx.query)
  );
}
