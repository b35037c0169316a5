import type { RelayDeps } from '../core/deps.js';
import { awsDeps, observability } from '../runtime.js';
import { createAbortHandler } from './abort-handler.js';
import { sfnExecutions } from './sfn-executions.js';

const obs = observability('abort');
let deps: Promise<RelayDeps> | undefined;
// Only Abort reads executions (the sweep's status-change event carries no input with the relay's key).
export const handler = createAbortHandler(
  () => (deps ??= awsDeps(obs.logger).then((base) => ({ ...base, executions: sfnExecutions() }))),
  obs,
);
