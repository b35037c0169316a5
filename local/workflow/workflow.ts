import type { Logger } from '@aws-lambda-powertools/logger';
import { StateMachine } from 'aws-local-stepfunctions';
import { createAbortHandler } from '../../functions/abort/abort-handler.js';
import type { RelayDeps } from '../../functions/core/deps.js';
import { createFinalizeHandler } from '../../functions/finalize/finalize-handler.js';
import type { Observability } from '../../functions/handler-kit.js';
import { createPrepareHandler } from '../../functions/prepare/prepare-handler.js';
import { createTransferHandler } from '../../functions/transfer/transfer-handler.js';
import { LAMBDA_TIMEOUT_SECONDS, renderDefinition, substituteArns } from '../../statemachines/definition.js';
import { LocalLambda } from './lambda.js';
import { scaleWaits } from './limited-execution.js';

const timeoutMs = (step: keyof typeof LAMBDA_TIMEOUT_SECONDS) => LAMBDA_TIMEOUT_SECONDS[step] * 1000;

/** The workflow's four functions as Lambda runs them: payload quota, timeout, reserved concurrency. */
export type LocalFunctions = Record<'prepare' | 'transfer' | 'finalize' | 'abort', LocalLambda>;

export interface LocalFunctionOptions {
  /** Shortens the transfer Lambda's timeout (its context deadline and the `Sandbox.Timedout` cut-off). */
  transferTimeoutMs?: number;
  /** Replaces the transfer context's remaining-time clock, made anew per invocation. */
  transferRemainingMs?: () => () => number;
  /** Runs before each transfer invocation; throwing here fails it as a Lambda that dies. */
  beforeTransfer?: (event: unknown) => void | Promise<void>;
}

/** The real handlers of Prepare, Transfer, Finalize and Abort bound to `deps`, each as a local Lambda. */
export function createLocalFunctions(
  deps: RelayDeps,
  logger: Logger,
  options: LocalFunctionOptions = {},
): LocalFunctions {
  const observability: Observability = { logger };
  const getDeps = async () => deps;
  const prepare = createPrepareHandler(getDeps, observability);
  const transfer = createTransferHandler(getDeps, observability);
  const finalize = createFinalizeHandler(getDeps, observability);
  const abort = createAbortHandler(getDeps, observability);
  return {
    prepare: new LocalLambda(
      { name: 'masv-relay-prepare', timeoutMs: timeoutMs('prepare') },
      (event, context) => prepare(event as never, context),
    ),
    transfer: new LocalLambda(
      {
        name: 'masv-relay-transfer',
        timeoutMs: options.transferTimeoutMs ?? timeoutMs('transfer'),
        reservedConcurrency: deps.config.transfer.transferReservedConcurrency,
        remainingMs: options.transferRemainingMs,
      },
      async (event, context) => {
        await options.beforeTransfer?.(event);
        return transfer(event as never, context);
      },
    ),
    finalize: new LocalLambda(
      { name: 'masv-relay-finalize', timeoutMs: timeoutMs('finalize') },
      (event, context) => finalize(event as never, context),
    ),
    abort: new LocalLambda({ name: 'masv-relay-abort', timeoutMs: timeoutMs('abort') }, (event, context) =>
      abort(event as never, context),
    ),
  };
}

/**
 * The real state machine definition for the local engine, its Retry and Wait seconds multiplied
 * by `waitScale` (attempts, backoff and jitter kept).
 */
export function createLocalStateMachine(mapConcurrency: number, waitScale: number): StateMachine {
  const definition = substituteArns(renderDefinition({ MapConcurrency: mapConcurrency }), {
    PrepareFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:masv-relay-prepare',
    TransferFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:masv-relay-transfer',
    FinalizeFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:masv-relay-finalize',
    AbortFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:masv-relay-abort',
  });
  // Validated as deployed; the copy that runs may have its waits scaled to fractions of a second.
  const deployed = new StateMachine(JSON.parse(definition));
  if (waitScale === 1) return deployed;
  return new StateMachine(scaleWaits(JSON.parse(definition), waitScale), {
    validationOptions: { noValidate: true },
  });
}
