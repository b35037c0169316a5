import { parseConfig } from '../core/config.js';
import type { TriggerContext } from '../core/triggers.js';
import { requiredEnv } from '../runtime.js';

/** The trigger context from the environment the stack sets (configuration, source bucket, topics). */
export function triggerContextFromEnvironment(): TriggerContext {
  const topics = process.env.TRIGGER_TOPIC_ARNS;
  return {
    config: parseConfig(JSON.parse(requiredEnv('RELAY_CONFIG'))),
    sourceBucket: requiredEnv('SOURCE_BUCKET_NAME'),
    // The configured topics plus those the embedding app passed to the construct as `triggerTopics`.
    ...(topics ? { snsTopicArns: JSON.parse(topics) as string[] } : {}),
  };
}
