import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { METRICS_NAMESPACE } from './core/metrics.js';
import type { Observability } from './handler-kit.js';

/**
 * The environment the stack sets, and each Lambda's logger, metrics and tracer: apart from
 * runtime.ts so start, which never calls MASV, bundles none of the MASV client.
 */
export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value)
    throw new Error(
      `Environment variable ${name} is not set; deploy the function with the MasvRelay construct.`,
    );
  return value;
}

export function observability(step: string): Observability {
  const serviceName = `masv-relay-${step}`;
  return {
    logger: new Logger({ serviceName }),
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName }),
    tracer: new Tracer({ serviceName }),
  };
}
