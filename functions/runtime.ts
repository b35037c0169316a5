import type { Logger } from '@aws-lambda-powertools/logger';
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { parseConfig } from './core/config.js';
import type { RelayDeps } from './core/deps.js';
import { SecretFormatError } from './core/errors.js';
import { EventBridgePublisher } from './core/events.js';
import { MasvClient } from './core/masv/client.js';
import { createS3Client } from './core/source/s3-source.js';
import { StateBucket } from './core/state/state-bucket.js';
import { requiredEnv } from './env.js';

/* Wiring for the Lambda runtime: configuration and clients from the environment the stack sets. */
export { observability, requiredEnv } from './env.js';

let deps: Promise<RelayDeps> | undefined;

/** How long a Lambda container keeps a secret before reading it again (a rotated key takes effect). */
const SECRET_MAX_AGE_SECONDS = 300;

/** A secret's text by name or ARN, cached per container for `SECRET_MAX_AGE_SECONDS`. */
export async function readSecret(name: string): Promise<string> {
  const value = await getSecret(name, { maxAge: SECRET_MAX_AGE_SECONDS });
  const fix = `Fix: store the value alone as plain text, e.g. aws secretsmanager put-secret-value --secret-id ${name} --secret-string '<value>'.`;
  if (typeof value !== 'string' || value.trim() === '')
    throw new SecretFormatError(`Secret ${name} has no string value. ${fix}`);
  const text = value.trim();
  // The console's default "key/value" secret is JSON; sent verbatim it would fail as a bad API key.
  if (isJsonObject(text))
    throw new SecretFormatError(
      `Secret ${name} holds key/value pairs (JSON), but the relay uses the whole secret as one value (the MASV API key, access code or password). ${fix}`,
    );
  return text;
}

function isJsonObject(text: string): boolean {
  if (!text.startsWith('{')) return false;
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null;
  } catch {
    return false;
  }
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
