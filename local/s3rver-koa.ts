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
  req: NodeJS.ReadableStream & { resume(): unknown };
  get(name: string): string;
  set(name: string, value: string): void;
  app: { store: Store };
}

/** Runs `middleware` before s3rver's own handlers (s3rver offers no hook for it). */
export function prependMiddleware<Store>(
  server: S3rver,
  middleware: (ctx: S3rverContext<Store>, next: () => Promise<void>) => Promise<void>,
) {
  (server as unknown as { middleware: unknown[] }).middleware.unshift(middleware);
}
