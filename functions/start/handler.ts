import { parseConfig } from '../core/config.js';
import type { TriggerContext } from '../core/triggers.js';
import { observability, requiredEnv } from '../runtime.js';
import { sfnStarter } from './sfn-starter.js';
import { createStartHandler } from './start-handler.js';

let context: TriggerContext | undefined;
/** Parsed once per container: the configuration and the source bucket the stack set. */
const fromEnvironment = async () => {
  context ??= {
    config: parseConfig(JSON.parse(requiredEnv('RELAY_CONFIG'))),
    sourceBucket: requiredEnv('SOURCE_BUCKET_NAME'),
  };
  return context;
};

export const handler = createStartHandler(sfnStarter, observability('start'), fromEnvironment);
