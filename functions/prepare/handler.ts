import { awsDeps, observability } from '../runtime.js';
import { createPrepareHandler } from './prepare-handler.js';

const obs = observability('prepare');
export const handler = createPrepareHandler(() => awsDeps(obs.logger), obs);
