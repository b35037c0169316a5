import { Logger } from '@aws-lambda-powertools/logger';
import type { S3Client } from '@aws-sdk/client-s3';
import { parseConfig, type RelayConfigInput } from '../../functions/core/config.js';
import type { RelayDeps } from '../../functions/core/deps.js';
import { MasvClient } from '../../functions/core/masv/client.js';
import type { UploadedPart } from '../../functions/core/masv/types.js';
import type { RetryClock } from '../../functions/core/retry.js';
import { createS3Client } from '../../functions/core/source/s3-source.js';
import { StateBucket } from '../../functions/core/state/state-bucket.js';
import { LOCAL_S3_CREDENTIALS } from '../s3/server.js';
import { LocalEventSink } from './event-sink.js';

export const SOURCE_BUCKET = 'source';
export const STATE_BUCKET = 'relay-state';
export const API_KEY_SECRET = 'local/masv-api-key';

/** Told of each part as the parts ledger records it. */
export type PartObserver = (deliveryId: string, fileIndex: number, part: UploadedPart) => void;

export interface LocalDepsOptions {
  s3Endpoint: string;
  masv: { url: string; apiKey: string; teamId: string; recipients?: string[] };
  config?: Partial<RelayConfigInput>;
  clock?: RetryClock;
  onPart?: PartObserver;
  logSink?: (line: string) => void;
  secrets?: Record<string, string>;
}

/**
 * The relay's dependencies wired to local stand-ins: s3rver for the source and state buckets, a
 * MASV API (the emulator or real), the API key as a local secret, events to a local sink.
 */
export function createLocalDeps(options: LocalDepsOptions): { deps: RelayDeps; logger: Logger } {
  const { masv } = options;
  const base = options.config ?? {};
  const config = parseConfig({
    ...base,
    masv: {
      apiUrl: masv.url,
      target: { kind: 'team', teamId: masv.teamId, apiKeySecretName: API_KEY_SECRET },
      ...base.masv,
    },
    package: { recipients: masv.recipients ?? ['recipient@example.com'], ...base.package },
  });
  const client = createS3Client({
    endpoint: options.s3Endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: LOCAL_S3_CREDENTIALS,
  });
  const logger = new Logger({
    serviceName: 'masv-relay-local',
    logLevel: options.logSink ? 'DEBUG' : 'SILENT',
  });
  if (options.logSink) {
    const sink = options.logSink;
    (logger as unknown as { console: unknown }).console = {
      ...console,
      info: sink,
      warn: sink,
      error: sink,
      debug: sink,
      log: sink,
    };
  }
  const secrets: Record<string, string> = { [API_KEY_SECRET]: masv.apiKey, ...options.secrets };
  const deps: RelayDeps = {
    config,
    masv: new MasvClient({ baseUrl: masv.url, retry: options.clock ? { clock: options.clock } : {} }),
    s3: client,
    stateBucket: new ObservedStateBucket(client, STATE_BUCKET, options.onPart),
    secret: async (name) => {
      const value = secrets[name];
      if (value === undefined) throw new Error(`No local secret named ${name}.`);
      return value;
    },
    events: new LocalEventSink(),
    log: logger,
    clock: options.clock,
  };
  return { deps, logger };
}

/** A parts ledger that also reports each part as it is recorded (progress). */
class ObservedStateBucket extends StateBucket {
  constructor(
    s3: S3Client,
    bucket: string,
    private readonly onPart?: PartObserver,
  ) {
    super(s3, bucket);
  }
  override async recordPart(deliveryId: string, fileIndex: number, part: UploadedPart, storedAt?: number) {
    await super.recordPart(deliveryId, fileIndex, part, storedAt);
    this.onPart?.(deliveryId, fileIndex, part);
  }
}
