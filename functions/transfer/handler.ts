import { awsDeps, observability } from '../runtime.js';
import { createTransferHandler } from './transfer-handler.js';

const obs = observability('transfer');
export const handler = createTransferHandler(() => awsDeps(obs.logger), obs);
