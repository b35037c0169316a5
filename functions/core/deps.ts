import type { S3Client } from '@aws-sdk/client-s3';
import type { RelayConfig } from './config.js';
import type { EventPublisher } from './events.js';
import type { ExecutionLookup } from './executions.js';
import type { MasvClient } from './masv/client.js';
import type { RetryClock } from './retry.js';
import type { StateBucket } from './state/state-bucket.js';

export interface Logger {
  info(message: string, ...extra: Array<Record<string, unknown>>): void;
  warn(message: string, ...extra: Array<Record<string, unknown>>): void;
  error(message: string, ...extra: Array<Record<string, unknown>>): void;
}

/** Everything the workflow steps need, passed in so tests and the local runner wire their own. */
export interface RelayDeps {
  config: RelayConfig;
  masv: MasvClient;
  /** Client for the source buckets (reads and tags). */
  s3: S3Client;
  stateBucket: StateBucket;
  /** Reads a secret by name (Secrets Manager in AWS). */
  secret: (name: string) => Promise<string>;
  events: EventPublisher;
  /** Reads an execution's input and failure; Abort needs it for the sweep's status-change events. */
  executions?: ExecutionLookup;
  log: Logger;
  clock?: RetryClock;
  now?: () => Date;
}
