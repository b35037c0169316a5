import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { LocalRelay } from '../local/workflow/relay.js';
import { SOURCE_BUCKET } from '../local/workflow/relay.js';
import { patternStream } from './lib.js';

/** Puts `size` bytes of a cheap pattern into the local source bucket; returns the unquoted ETag. */
export async function putSourceBytes(relay: LocalRelay, key: string, size: number): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of patternStream(size)) chunks.push(chunk as Buffer);
  const put = await relay.sourceClient.send(
    new PutObjectCommand({
      Bucket: SOURCE_BUCKET,
      Key: key,
      Body: Buffer.concat(chunks),
      ContentLength: size,
    }),
  );
  return (put.ETag ?? '').replace(/"/g, '');
}
