import type { TriggerContext } from '../core/triggers/triggers.js';
import { observability } from '../env.js';
import { sfnStarter } from './sfn-starter.js';
import { createStartHandler } from './start-handler.js';
import { triggerContextFromEnvironment } from './trigger-context.js';

let context: TriggerContext | undefined;
/** Parsed once per container. */
const fromEnvironment = async () => {
  context ??= triggerContextFromEnvironment();
  return context;
};

export const handler = createStartHandler(sfnStarter, observability('start'), fromEnvironment);
