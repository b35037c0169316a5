import { fileURLToPath } from 'node:url';
import { Duration } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { ConfigError, type RelayConfig } from '../functions/core/config.js';
import { METRICS_NAMESPACE } from '../functions/core/metrics.js';
import { LAMBDA_TIMEOUT_SECONDS } from '../statemachines/definition.js';

/** The five functions of the relay. */
export interface RelayFunctions {
  readonly start: nodejs.NodejsFunction;
  readonly prepare: nodejs.NodejsFunction;
  readonly transfer: nodejs.NodejsFunction;
  readonly finalize: nodejs.NodejsFunction;
  readonly abort: nodejs.NodejsFunction;
}

/** Room left for the configuration in a function's 4 KB of environment variables. */
export const MAX_CONFIG_ENV_BYTES = 3400;

const FUNCTION_DIR = fileURLToPath(new URL('../functions/', import.meta.url));
const PROJECT_ROOT = fileURLToPath(new URL('../', import.meta.url));

export interface RelayFunctionsProps {
  readonly config: RelayConfig;
  readonly key: kms.IKey;
  readonly stateBucket: s3.IBucket;
  /** Where start and abort put the events they are invoked with asynchronously and cannot handle. */
  readonly deadLetterQueue: sqs.IQueue;
  readonly logRetention: logs.RetentionDays;
  /** See `MasvRelayProps.bundleAwsSdk`. */
  readonly bundleAwsSdk?: boolean;
}

/**
 * The five functions, each bundled from `functions/<name>/handler.ts` with its own encrypted log
 * group and the configuration in its environment. Permissions are granted elsewhere.
 */
export function createFunctions(relay: Construct, props: RelayFunctionsProps): RelayFunctions {
  const { config, deadLetterQueue } = props;
  const relayConfig = JSON.stringify(config);
  // Lambda allows 4 KB of environment variables per function; the rest of ours take ~0.5 KB.
  if (Buffer.byteLength(relayConfig) > MAX_CONFIG_ENV_BYTES) {
    throw new ConfigError([
      `(root): the configuration is ${Buffer.byteLength(relayConfig)} bytes as JSON, more than the ${MAX_CONFIG_ENV_BYTES} bytes a Lambda environment can carry. Fix: shorten descriptions and merge prefix rules.`,
    ]);
  }
  const env = {
    RELAY_CONFIG: relayConfig,
    STATE_BUCKET: props.stateBucket.bucketName,
    EVENT_BUS_NAME: 'default',
    POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  const fn = (
    name: keyof RelayFunctions,
    memoryMiB: number,
    timeout: Duration,
    extra: Partial<nodejs.NodejsFunctionProps> = {},
  ) =>
    new nodejs.NodejsFunction(relay, `${name[0]!.toUpperCase()}${name.slice(1)}Function`, {
      entry: `${FUNCTION_DIR}${name}/handler.ts`,
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: memoryMiB,
      timeout,
      tracing: lambda.Tracing.ACTIVE,
      loggingFormat: lambda.LoggingFormat.JSON,
      logGroup: new logs.LogGroup(relay, `${name}Logs`, {
        retention: props.logRetention,
        encryptionKey: props.key,
      }),
      environment: { ...env, POWERTOOLS_SERVICE_NAME: `masv-relay-${name}` },
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: 'node22',
        minify: true,
        sourceMap: true,
        mainFields: ['module', 'main'],
        banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
        externalModules: props.bundleAwsSdk ? [] : ['@aws-sdk/*'],
      },
      ...extra,
    });

  return {
    // SNS → Lambda and S3 → Lambda invoke start asynchronously: after Lambda's two retries a
    // refused event goes to the DLQ as it arrived (redrivable), instead of being discarded.
    start: fn('start', 256, Duration.seconds(LAMBDA_TIMEOUT_SECONDS.start), { deadLetterQueue }),
    prepare: fn('prepare', 512, Duration.seconds(LAMBDA_TIMEOUT_SECONDS.prepare)),
    transfer: fn(
      'transfer',
      config.transfer.transferMemoryMiB,
      Duration.seconds(LAMBDA_TIMEOUT_SECONDS.transfer),
      {
        reservedConcurrentExecutions: config.transfer.transferReservedConcurrency,
      },
    ),
    finalize: fn('finalize', 512, Duration.seconds(LAMBDA_TIMEOUT_SECONDS.finalize)),
    // The sweep rule invokes abort asynchronously: what it cannot handle lands in the DLQ.
    abort: fn('abort', 256, Duration.seconds(LAMBDA_TIMEOUT_SECONDS.abort), { deadLetterQueue }),
  };
}
