import cliProgress from 'cli-progress';
import type { PreparedDelivery } from '../../functions/core/delivery/request.js';
import type { ExecutionOutcome } from '../workflow/limited-execution.js';
import type { DeliveryRun } from '../workflow/relay.js';

const MiB = 1048576;

const packageBytes = (prepared: PreparedDelivery | undefined) =>
  prepared?.files.reduce((n, f) => n + f.size, 0) ?? 0;

/**
 * What `npm start` shows of its deliveries: a bar of recorded parts per delivery on a terminal,
 * plain lines otherwise, or one JSON object per line with `--json`.
 */
export class ProgressDisplay {
  private readonly bars?: cliProgress.MultiBar;
  private readonly shown = new Map<string, DeliveryProgress>();
  private stopped = false;

  constructor(readonly json: boolean) {
    this.bars =
      json || !process.stdout.isTTY
        ? undefined
        : new cliProgress.MultiBar(
            {
              format: ' {key} |{bar}| {value}/{total} parts | {mibps} MiB/s | {status}',
              hideCursor: true,
              clearOnComplete: false,
              noTTYOutput: false,
            },
            cliProgress.Presets.shades_classic,
          );
  }

  /** A line for a person: above the bars on a terminal, nothing with `--json`. */
  say(text: string) {
    if (this.json) return;
    if (this.bars && !this.stopped) this.bars.log(`${text}\n`);
    else console.log(text);
  }

  /** One JSON line on stdout. */
  emit(line: Record<string, unknown>) {
    console.log(JSON.stringify(line));
  }

  /** Counts a part the parts ledger recorded toward its delivery's bar. */
  partRecorded(deliveryId: string) {
    const delivery = this.shown.get(deliveryId);
    if (delivery) delivery.partsDone++;
  }

  /** Starts showing a delivery; its bar appears once Prepare has planned its parts. */
  follow(run: DeliveryRun): DeliveryProgress {
    const delivery = new DeliveryProgress(run, this, this.bars);
    this.shown.set(run.deliveryId, delivery);
    return delivery;
  }

  /**
   * Ends the bars. MultiBar writes logged lines only when it redraws, so the last ones (a result,
   * the Ctrl-C notice) are drawn first and later lines go straight to the console.
   */
  stop() {
    if (!this.bars || this.stopped) return;
    this.stopped = true;
    this.bars.update();
    this.bars.stop();
  }
}

/** One delivery on the display, from its start to the line that tells how it ended. */
export class DeliveryProgress {
  partsDone = 0;
  /** The delivery as a person knows it: its file's key, or its folder. */
  readonly key: string;
  private readonly startedAt = Date.now();
  private endedAt?: number;
  private bar?: cliProgress.SingleBar;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly run: DeliveryRun,
    private readonly display: ProgressDisplay,
    bars: cliProgress.MultiBar | undefined,
  ) {
    const file = run.input.files?.[0];
    this.key = file ? file.key : (run.input.prefix?.prefix ?? run.deliveryId);
    if (!bars) display.say(`relaying ${this.key} …`);
    this.timer = setInterval(() => {
      const prepared = run.prepared;
      if (!prepared || !bars) return;
      const total = prepared.files.reduce((n, f) => n + f.partCount, 0);
      const bytes = Math.min(packageBytes(prepared), this.partsDone * prepared.files[0]!.partSize);
      const mibps = (bytes / MiB / ((Date.now() - this.startedAt) / 1000)).toFixed(0);
      this.bar ??= bars.create(total, 0, { key: this.key.slice(-40), mibps: '0', status: 'relaying' });
      this.bar.update(Math.min(this.partsDone, total), { mibps, status: 'relaying' });
    }, 200);
  }

  /** Stops the clock when the execution ends, so the time shown leaves out the verification. */
  ended() {
    clearInterval(this.timer);
    this.endedAt ??= Date.now();
  }

  /**
   * Completes the bar and tells how the delivery ended: package, size, time, throughput and
   * whether the delivered bytes matched the source (`null`: not checked).
   */
  report(outcome: ExecutionOutcome, sha256Match: boolean | null) {
    this.ended();
    const seconds = (this.endedAt! - this.startedAt) / 1000;
    const bytes = packageBytes(this.run.prepared);
    const mibps = bytes / MiB / seconds;
    const packageId =
      outcome.status === 'SUCCEEDED' ? (outcome.output as { packageId: string }).packageId : undefined;
    this.bar?.update(this.bar.getTotal(), {
      mibps: mibps.toFixed(0),
      status: outcome.status === 'SUCCEEDED' ? 'delivered' : 'FAILED',
    });
    this.bar?.stop();
    if (this.display.json) {
      this.display.emit({
        type: 'delivery',
        key: this.key,
        status: outcome.status,
        packageId: packageId ?? this.run.prepared?.package.id ?? null,
        bytes,
        seconds: Number(seconds.toFixed(3)),
        sha256Match,
        ...(outcome.status === 'FAILED' ? { error: outcome.error, reason: outcome.cause } : {}),
      });
    } else if (outcome.status === 'SUCCEEDED') {
      const verified =
        sha256Match === null
          ? 'bytes not verifiable against a real MASV'
          : sha256Match
            ? 'sha256 verified: source = bytes stored by the MASV emulator'
            : 'SHA256 MISMATCH between source and stored bytes';
      this.display.say(
        `✔ ${this.key} → MASV package ${packageId}: ${(bytes / MiB).toFixed(1)} MiB in ${seconds.toFixed(1)} s (${mibps.toFixed(0)} MiB/s); ${verified}`,
      );
    } else {
      this.display.say(`✘ ${this.key}: ${outcome.error}: ${outcome.cause}`);
    }
  }
}
