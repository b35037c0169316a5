import type { RelayConfig } from '../config.js';

/**
 * What start knows about the deployment. Without it (unit tests of the shapes alone) every
 * object event is a per-object delivery and no policy applies.
 */
export interface TriggerContext {
  config: RelayConfig;
  /** The source bucket's name: S3 events and Batch Operations tasks from other buckets are refused. */
  sourceBucket?: string;
  /** Topics whose SNS envelopes are accepted; defaults to `config.triggers.snsTopicArns`. */
  snsTopicArns?: string[];
  /** The request queue (only the bus rule may send to it): the one queue relay requests may come from. */
  requestQueueArn?: string;
}
