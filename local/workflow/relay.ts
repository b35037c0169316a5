import './polyfills.js';
import { createHash } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { S3Client } from '@aws-sdk/client-s3';
import { ExecutionDoesNotExist } from '@aws-sdk/client-sfn';
import type { StateMachine } from 'aws-local-stepfunctions';
import type { RelayConfig, RelayConfigInput } from '../../functions/core/config.js';
import type { DeliveryRequest, PreparedDelivery } from '../../functions/core/delivery/request.js';
import type { RelayDeps } from '../../functions/core/deps.js';
import type { RetryClock } from '../../functions/core/retry.js';
import {
  deliveryConflict,
  type StartExecution,
  sameDeliveryRequest,
} from '../../functions/core/steps/start.js';
import { createStartHandler } from '../../functions/start/start-handler.js';
import { type EmulatorOptions, type RunningEmulator, startEmulator } from '../emulator/server.js';
import { type LocalS3, startLocalS3 } from '../s3/server.js';
import { AWS_LIMITS, type AwsLimits, executionInputTooLarge } from './aws-limits.js';
import type { LocalEventSink } from './event-sink.js';
import { lambdaContext } from './lambda-context.js';
import {
  type EventLog,
  type ExecutionOutcome,
  type ExecutionUsage,
  runWithLimits,
} from './limited-execution.js';
import { createLocalDeps, type PartObserver, SOURCE_BUCKET, STATE_BUCKET } from './local-deps.js';
import { createLocalFunctions, createLocalStateMachine, type LocalFunctions } from './workflow.js';

export { API_KEY_SECRET, SOURCE_BUCKET, STATE_BUCKET } from './local-deps.js';

/** `fastRetries`: each deployed second of a Retry or Wait becomes half a millisecond. */
export const FAST_WAIT_SCALE = 0.0005;

export interface LocalRelayOptions {
  /** Options of the embedded MASV emulator, or `false` to use `masv` below. */
  emulator?: EmulatorOptions | false;
  /** A real (or already running) MASV API instead of the embedded emulator. */
  masv?: { url: string; apiKey: string; teamId: string; recipients?: string[] };
  /** Overrides of the relay configuration (transfer settings, package defaults, prefix rules…). */
  config?: Partial<RelayConfigInput>;
  /** Directory for the source and state buckets' files (temporary by default). */
  s3Directory?: string;
  s3Port?: number;
  /** An S3 endpoint already running (with the source and state buckets) instead of starting s3rver. */
  s3Endpoint?: string;
  /** Shrink the workflow's Retry and Wait seconds to half-milliseconds (tests); same as `waitScale: FAST_WAIT_SCALE`. */
  fastRetries?: boolean;
  /**
   * Multiplies every Retry interval/maximum delay and Wait duration of the definition (e.g. 0.001:
   * seconds become milliseconds); attempts, backoff and jitter are kept. Wins over `fastRetries`.
   */
  waitScale?: number;
  /** Lower AWS quotas than the real ones (tests that make a quota trip cheaply). */
  limits?: Partial<AwsLimits>;
  /** Retry clock of the MASV client and the part retries (tests zero the waits). */
  clock?: RetryClock;
  /** Shortens the transfer Lambda's timeout (its context deadline and the `Sandbox.Timedout` cut-off). */
  transferTimeoutMs?: number;
  /** Replaces the transfer context's remaining-time clock, made anew per invocation (early-stop tests). */
  transferRemainingMs?: () => () => number;
  /** Runs before each transfer invocation; throwing here simulates a Lambda that dies. */
  beforeTransfer?: (event: unknown, invocation: number) => void | Promise<void>;
  /** Called after each recorded part. */
  onPart?: PartObserver;
  /** Where the handlers' JSON logs go; silent by default. */
  logSink?: (line: string) => void;
  /** Extra local secrets by name (portal access codes, passwords). */
  secrets?: Record<string, string>;
  /**
   * Whether the state machine encrypts with a customer managed key, as the deployed one always
   * does (default): its status-change events then carry no input, output, error or cause.
   */
  customerManagedKey?: boolean;
}

/** The local state machine's ARN, in the form Step Functions gives it. */
export const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:masv-relay';
const executionArn = (name: string) =>
  `${STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:${name}`;

export type { EventLog } from './limited-execution.js';

export interface DeliveryRun {
  deliveryId: string;
  /** Set once the execution has ended (after the sweep of a failed one). */
  finished?: boolean;
  /** How the execution ended, as soon as it has (before the sweep). */
  outcome?: ExecutionOutcome;
  input: DeliveryRequest;
  prepared?: PreparedDelivery;
  result: Promise<ExecutionOutcome>;
  events: EventLog[];
  /** History events and peak state size so far, as Step Functions counts them. */
  usage: ExecutionUsage;
  /** When the execution started and when its first part was recorded (ms since the epoch). */
  startedAt: number;
  firstPartAt?: number;
}

/**
 * The whole relay on local stand-ins: s3rver as the source and state buckets, the MASV emulator
 * (or a real MASV API), and the real state machine definition run by aws-local-stepfunctions
 * with every Task bound to the real handler.
 */
export class LocalRelay {
  readonly deliveries = new Map<string, DeliveryRun>();
  readonly events: LocalEventSink;
  readonly config: RelayConfig;
  transferInvocations = 0;

  private constructor(
    readonly s3: { endpoint: string; server?: LocalS3['server']; close(): Promise<void> },
    readonly sourceClient: S3Client,
    readonly emulator: RunningEmulator | undefined,
    readonly masvUrl: string,
    private readonly deps: RelayDeps,
    private readonly options: LocalRelayOptions,
    private readonly machine: StateMachine,
    /** The four functions as Lambda runs them: payload quota, timeout, reserved concurrency. */
    readonly lambdas: LocalFunctions,
  ) {
    this.events = deps.events as LocalEventSink;
    this.config = deps.config;
  }

  static async start(options: LocalRelayOptions = {}): Promise<LocalRelay> {
    const s3: LocalS3 | { endpoint: string; server?: undefined; close(): Promise<void> } = options.s3Endpoint
      ? { endpoint: options.s3Endpoint, close: async () => undefined }
      : await startLocalS3({
          buckets: [SOURCE_BUCKET, STATE_BUCKET],
          port: options.s3Port,
          directory: options.s3Directory,
        });
    const emulator =
      options.emulator === false ? undefined : await startEmulator({ port: 0, ...options.emulator });
    const masv = options.masv ?? {
      url: emulator!.url,
      apiKey: emulator!.accounts.apiKey,
      teamId: emulator!.accounts.teamId,
    };
    const onPart: PartObserver = (deliveryId, fileIndex, part) => {
      const run = relay.deliveries.get(deliveryId);
      if (run && run.firstPartAt === undefined) run.firstPartAt = Date.now();
      options.onPart?.(deliveryId, fileIndex, part);
    };
    const { deps, logger } = createLocalDeps({
      s3Endpoint: s3.endpoint,
      masv,
      config: options.config,
      clock: options.clock,
      onPart,
      logSink: options.logSink,
      secrets: options.secrets,
    });
    // Fast retries keep a sliver of each wait (2 s → 1 ms, 300 s → 150 ms) rather than none, so a
    // throttled batch cannot spin through its attempts before a slot frees.
    const waitScale = options.waitScale ?? (options.fastRetries ? FAST_WAIT_SCALE : 1);
    const machine = createLocalStateMachine(deps.config.transfer.mapConcurrency, waitScale);
    let relay: LocalRelay;
    const lambdas = createLocalFunctions(deps, logger, {
      transferTimeoutMs: options.transferTimeoutMs,
      transferRemainingMs: options.transferRemainingMs,
      beforeTransfer: (event) => {
        const invocation = ++relay.transferInvocations;
        return options.beforeTransfer?.(event, invocation);
      },
    });
    relay = new LocalRelay(s3, deps.s3, emulator, masv.url, deps, options, machine, lambdas);
    deps.executions = { describe: async (arn) => relay.describeExecution(arn) };
    return relay;
  }

  /** StartExecution against the local engine: `false` when the name was already used. */
  readonly startExecution: StartExecution = async (name, input) => {
    const limits = { ...AWS_LIMITS, ...this.options.limits };
    // As Step Functions: an input over the quota is refused before anything starts.
    const inputJson = JSON.stringify(input);
    const inputBytes = Buffer.byteLength(inputJson, 'utf8');
    if (inputBytes > limits.stateBytes) throw executionInputTooLarge(inputBytes, limits.stateBytes);
    // As Step Functions: a name reused with other input is refused, not taken for a duplicate.
    const existing = this.deliveries.get(name);
    if (existing) {
      if (!sameDeliveryRequest(existing.input, input)) throw deliveryConflict(name, input);
      return false;
    }
    const run: DeliveryRun = {
      deliveryId: name,
      input,
      events: [],
      result: undefined as never,
      usage: undefined as never,
      startedAt: Date.now(),
    };
    const execution = runWithLimits(this.machine, input, {
      lambdas: {
        Prepare: this.lambdas.prepare,
        'Transfer Batch': this.lambdas.transfer,
        Finalize: this.lambdas.finalize,
        Abort: this.lambdas.abort,
      },
      limits: this.options.limits,
      context: { Execution: { Name: name, Input: input as never, StartTime: new Date().toISOString() } },
      onEvent: (entry, raw) => {
        if (entry.type === 'StateExited' && entry.state?.name === 'Prepare') {
          const output = (raw as { state: { output?: { prepared?: PreparedDelivery } } }).state.output;
          run.prepared = output?.prepared;
        }
      },
    });
    run.events = execution.events;
    run.usage = execution.usage;
    run.result = execution.result.then(async (outcome) => {
      run.outcome = outcome;
      try {
        // As the stack's sweep rule does on AWS: an execution that failed or timed out runs Abort
        // from its status change (a no-op when the workflow's own Abort ran).
        if (outcome.status !== 'SUCCEEDED')
          await this.lambdas.abort
            .invoke(this.statusChangeEvent(name, inputJson, outcome))
            .catch(() => undefined);
      } finally {
        // Ended on every path, even when the sweep itself throws before its promise exists.
        run.finished = true;
      }
      return outcome;
    });
    this.deliveries.set(name, run);
    return true;
  };

  /**
   * The "Step Functions Execution Status Change" event of an ended execution. With a customer
   * managed key Step Functions leaves the input, output, error and cause out (Step Functions
   * guide, "Data at rest encryption"); without one, it leaves the input out when its escaped form
   * is too large for EventBridge. A timed-out execution has no error or cause.
   */
  private statusChangeEvent(name: string, inputJson: string, outcome: ExecutionOutcome) {
    const encrypted = this.options.customerManagedKey ?? true;
    const limits = { ...AWS_LIMITS, ...this.options.limits };
    const included =
      !encrypted && Buffer.byteLength(JSON.stringify(inputJson), 'utf8') - 2 <= limits.statusChangeInputBytes;
    const failure = outcome.status === 'FAILED' && !encrypted;
    return {
      'detail-type': 'Step Functions Execution Status Change',
      source: 'aws.states',
      resources: [executionArn(name)],
      detail: {
        executionArn: executionArn(name),
        stateMachineArn: STATE_MACHINE_ARN,
        name,
        status: outcome.status,
        input: included ? inputJson : null,
        inputDetails: { included },
        output: null,
        outputDetails: encrypted ? { included: false } : null,
        error: failure ? outcome.error : null,
        cause: failure ? outcome.cause : null,
      },
    };
  }

  /** DescribeExecution on the local engine: the input, and the error and cause of a failed execution. */
  async describeExecution(arn: string) {
    const name = arn.slice(arn.lastIndexOf(':') + 1);
    const run = this.deliveries.get(name);
    if (!run || arn !== executionArn(name))
      throw new ExecutionDoesNotExist({ message: `Execution Does Not Exist: '${arn}'`, $metadata: {} });
    const outcome = run.outcome;
    return {
      status: outcome?.status ?? 'RUNNING',
      input: JSON.stringify(run.input),
      ...(outcome?.status === 'FAILED' ? { error: outcome.error, cause: outcome.cause } : {}),
    };
  }

  /**
   * Runs the real start handler on a trigger payload (S3 notification, SNS record, EventBridge
   * event, request, SQS batch or Batch Operations invocation), with the configuration and source
   * bucket as in AWS (folder rules, recipient domains, source checks).
   */
  async trigger(payload: unknown) {
    const start = createStartHandler(
      async () => this.startExecution,
      { logger: this.deps.log as Logger },
      async () => ({ config: this.config, sourceBucket: SOURCE_BUCKET }),
    );
    return start(payload, lambdaContext('masv-relay-start', 60_000));
  }

  /** An EventBridge "Object Created" event for an object in the local source bucket. */
  objectCreatedEvent(key: string, etag: string, size: number, sequencer = Date.now().toString(16)) {
    return {
      version: '0',
      id: createHash('sha256').update(`${key}${sequencer}`).digest('hex').slice(0, 36),
      'detail-type': 'Object Created',
      source: 'aws.s3',
      account: '000000000000',
      time: new Date().toISOString(),
      region: 'us-east-1',
      resources: [`arn:aws:s3:::${SOURCE_BUCKET}`],
      detail: {
        version: '0',
        bucket: { name: SOURCE_BUCKET },
        object: { key, size, etag: etag.replace(/"/g, ''), sequencer },
        'request-id': 'local',
        requester: 'local',
        reason: 'PutObject',
      },
    };
  }

  /** Waits for every started delivery to end. */
  async settle() {
    let count = -1;
    while (count !== this.deliveries.size) {
      count = this.deliveries.size;
      await Promise.all([...this.deliveries.values()].map((d) => d.result));
    }
  }

  async close() {
    await this.settle().catch(() => undefined);
    this.sourceClient.destroy();
    await this.emulator?.close();
    await this.s3.close();
  }
}
