import { observability, sfnStarter } from '../runtime.js';
import { createStartHandler } from './start-handler.js';

export const handler = createStartHandler(sfnStarter, observability('start'));
