import type { Logger } from '@aws-lambda-powertools/logger';
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { parseConfig } from './core/config.js';
import type { RelayDeps } from './core/deps.js';
import { EventBridgePublisher } from './core/events.js';
import { MasvClient } from './core/masv/client.js';
import { createS3Client } from './core/s3-source.js';
import { StateBucket } from './core/state-bucket.js';
import { requiredEnv } from './env.js';

/* Wiring for the Lambda runtime: configuration and clients from the environment the stack sets. */
export { observability, requiredEnv } from './env.js';

let deps: Promise<RelayDeps> | undefined;

/** How long a Lambda container keeps a secret before reading it again (a rotated key takes effect). */
const SECRET_MAX_AGE_SECONDS = 300;

/** A secret's text by name or ARN, cached per container for `SECRET_MAX_AGE_SECONDS`. */
export async function readSecret(name: string): Promise<string> {
  const value = await getSecret(name, { maxAge: SECRET_MAX_AGE_SECONDS });
  if (typeof value !== 'string' || value.trim() === '')
    throw new Error(`Secret ${name} has no string value; store the value as plain text.`);
  return value.trim();
}

/** Dependencies built once per Lambda container. */
export function awsDeps(log: Logger): Promise<RelayDeps> {
  deps ??= (async () => {
    const config = parseConfig(JSON.parse(requiredEnv('RELAY_CONFIG')));
    const s3 = createS3Client();
    return {
      config,
      masv: new MasvClient({ baseUrl: config.masv.apiUrl }),
      s3,
      stateBucket: new StateBucket(s3, requiredEnv('STATE_BUCKET')),
      secret: readSecret,
      events: new EventBridgePublisher(new EventBridgeClient({}), process.env.EVENT_BUS_NAME ?? 'default'),
      log,
    };
  })();
  return deps as Promise<RelayDeps>;
}
