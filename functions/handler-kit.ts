import type { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';

/** Observability a handler is wrapped with: Powertools in AWS, a logger alone locally. */
export interface Observability {
  logger: PowertoolsLogger;
  metrics?: Metrics;
  tracer?: Tracer;
}

/**
 * Wraps a step in middy with Powertools: the same wrapper serves the Lambda entry points and the
 * local runner, which passes its own dependencies.
 */
export function wrapHandler<Event, Result>(
  observability: Observability,
  step: (event: Event, context: Context) => Promise<Result>,
) {
  const handler = middy<Event, Result, Error, Context>(step).use(injectLambdaContext(observability.logger));
  if (observability.metrics) handler.use(logMetrics(observability.metrics));
  if (observability.tracer) handler.use(captureLambdaHandler(observability.tracer));
  return handler;
}
