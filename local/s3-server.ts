import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';

/** s3rver's built-in credentials: it refuses any other access key. */
export const LOCAL_S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface LocalS3 {
  endpoint: string;
  server: S3rver;
  close(): Promise<void>;
}

interface KoaContext {
  method: string;
  path: string;
  status: number;
  type: string;
  body: unknown;
  get(name: string): string;
  app: { store: { getMetadata(bucket: string, key: string): Promise<{ etag: string }> } };
}

/**
 * s3rver ignores `If-Match`; real S3 answers 412 when the ETag differs. The relay pins ranged
 * reads with If-Match, so without this a source overwritten mid-delivery would mix versions.
 */
function ifMatchShim(server: S3rver) {
  const middleware = (
    server as unknown as { middleware: Array<(ctx: KoaContext, next: () => Promise<void>) => Promise<void>> }
  ).middleware;
  middleware.unshift(async (ctx, next) => {
    const expected = ctx.get('if-match');
    if (expected && (ctx.method === 'GET' || ctx.method === 'HEAD')) {
      const [, bucket, ...rest] = ctx.path.split('/');
      let meta: { etag: string };
      try {
        meta = await ctx.app.store.getMetadata(bucket!, decodeURIComponent(rest.join('/')));
      } catch {
        return next();
      }
      if (!meta || (expected !== '*' && expected.replace(/"/g, '') !== meta.etag.replace(/"/g, ''))) {
        ctx.status = 412;
        ctx.type = 'application/xml';
        ctx.body =
          '<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>';
        return;
      }
    }
    return next();
  });
}

/** Starts s3rver on loopback with the given buckets (path-style, reached with the real AWS SDK). */
export async function startLocalS3(options: {
  buckets: string[];
  port?: number;
  directory?: string;
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
