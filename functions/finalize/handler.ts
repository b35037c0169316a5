import { awsDeps, observability } from '../runtime.js';
import { createFinalizeHandler } from './finalize-handler.js';

const obs = observability('finalize');
export const handler = createFinalizeHandler(() => awsDeps(obs.logger), obs);
