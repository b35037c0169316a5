import type { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { RelayMetric } from './core/metrics.js';

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

/** Counts a delivery's outcome: delivered (with any follow-ups that failed after finalize) or failed. */
export function countDelivery(
  observability: Observability,
  outcome: { delivered: true; followUpFailures: string[] } | { delivered: false },
) {
  const metrics = observability.metrics;
  if (!outcome.delivered) {
    metrics?.addMetric(RelayMetric.deliveriesFailed, 'Count', 1);
    return;
  }
  metrics?.addMetric(RelayMetric.deliveriesSucceeded, 'Count', 1);
  if (outcome.followUpFailures.length > 0)
    metrics?.addMetric(RelayMetric.deliveryFollowUpFailures, 'Count', outcome.followUpFailures.length);
}
