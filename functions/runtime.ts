import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { parseConfig } from './core/config.js';
import type { RelayDeps } from './core/deps.js';
import { EventBridgePublisher } from './core/events.js';
import { MasvClient } from './core/masv/client.js';
import { METRICS_NAMESPACE } from './core/metrics.js';
import { DeliveryStore } from './core/parts-ledger.js';
import { createS3Client } from './core/s3-source.js';
import type { Observability } from './handler-kit.js';

/** Wiring for the Lambda runtime: configuration and clients from the environment the stack sets. */
export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value)
    throw new Error(
      `Environment variable ${name} is not set; deploy the function with the MasvRelay construct.`,
    );
  return value;
}

export function observability(step: string): Observability {
  const serviceName = `masv-relay-${step}`;
  return {
    logger: new Logger({ serviceName }),
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName }),
    tracer: new Tracer({ serviceName }),
  };
}

let deps: Promise<RelayDeps> | undefined;

/** Dependencies built once per Lambda container; secrets are read once and cached. */
export function awsDeps(log: Logger): Promise<RelayDeps> {
  deps ??= (async () => {
    const config = parseConfig(JSON.parse(requiredEnv('RELAY_CONFIG')));
    const s3 = createS3Client();
    const secrets = new SecretsManagerClient({});
    const cache = new Map<string, Promise<string>>();
    const secret = (name: string) => {
      let value = cache.get(name);
      if (!value) {
        value = secrets.send(new GetSecretValueCommand({ SecretId: name })).then((r) => {
          if (!r.SecretString)
            throw new Error(`Secret ${name} has no string value; store the value as plain text.`);
          return r.SecretString.trim();
        });
        value.catch(() => cache.delete(name));
        cache.set(name, value);
      }
      return value;
    };
    return {
      config,
      masv: new MasvClient({ baseUrl: config.masv.apiUrl }),
      s3,
      store: new DeliveryStore(s3, requiredEnv('STATE_BUCKET')),
      secret,
      events: new EventBridgePublisher(new EventBridgeClient({}), process.env.EVENT_BUS_NAME ?? 'default'),
      log,
    };
  })();
  return deps as Promise<RelayDeps>;
}
