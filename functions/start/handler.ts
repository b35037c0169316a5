import { observability } from '../runtime.js';
import { sfnStarter } from './sfn-starter.js';
import { createStartHandler } from './start-handler.js';

export const handler = createStartHandler(sfnStarter, observability('start'));
