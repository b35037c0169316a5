import { parseConfig } from '../core/config.js';
import type { TriggerContext } from '../core/triggers/triggers.js';
import { requiredEnv } from '../env.js';

/** The trigger context from the environment the stack sets (configuration, source bucket, topics). */
export function triggerContextFromEnvironment(): TriggerContext {
  const config = parseConfig(JSON.parse(requiredEnv('RELAY_CONFIG')));
  // Topics the embedding app passed to the construct (`triggerTopics`), beside the configured ones.
  const appTopics = JSON.parse(process.env.TRIGGER_TOPIC_ARNS || '[]') as string[];
  return {
    config,
    sourceBucket: requiredEnv('SOURCE_BUCKET_NAME'),
    snsTopicArns: [...config.triggers.snsTopicArns, ...appTopics],
    requestQueueArn: requiredEnv('REQUEST_QUEUE_ARN'),
  };
}
