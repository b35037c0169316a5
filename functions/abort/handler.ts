import { awsDeps, observability } from '../runtime.js';
import { createAbortHandler } from './abort-handler.js';

const obs = observability('abort');
export const handler = createAbortHandler(() => awsDeps(obs.logger), obs);
