import '../workflow/polyfills.js';
import { parseArgs } from 'node:util';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { LOCAL_S3_CREDENTIALS } from '../s3/server.js';
import { type DeliveryRun, LocalRelay, SOURCE_BUCKET } from '../workflow/relay.js';
import { uploadRandomObject } from './demo-upload.js';
import { ProgressDisplay } from './progress.js';
import { deliveredBytesMatch } from './verify.js';

const USAGE = `Usage: npm start -- [options]

Runs masv-relay end to end on local stand-ins (s3rver as the source bucket, the MASV emulator,
the real state machine and handlers), relays a demo file, then relays every object dropped into
the local bucket until Ctrl-C.

Options:
  --once               exit after the demo delivery (status 0 only if the bytes verified)
  --json               one JSON object per line instead of progress bars
  --size-mib N         size of the demo file (default 256)
  --part-size-mib N    part size (default 16; MASV's own default is 100)
  --s3-port N          port of the local S3 endpoint (default 4568; 0 = any free port)
  --masv-port N        port of the MASV emulator (default 4590; 0 = any free port)
  --help               this text

Environment: MASV_API_URL, MASV_API_KEY, MASV_TEAM_ID and MASV_RECIPIENTS (comma-separated)
send the deliveries to a real MASV team instead of the emulator.`;

const OPTIONS = {
  once: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  'size-mib': { type: 'string', default: '256' },
  'part-size-mib': { type: 'string', default: '16' },
  's3-port': { type: 'string', default: '4568' },
  'masv-port': { type: 'string', default: '4590' },
  help: { type: 'boolean', default: false },
} as const;

function fail(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

let args: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];
try {
  ({ values: args } = parseArgs({ options: OPTIONS }));
} catch (error) {
  fail((error as Error).message);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
const whole = (name: string, value: string, min: number) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be a whole number ≥ ${min}; got "${value}".`);
  return n;
};
const sizeMiB = whole('size-mib', args['size-mib'], 1);
const partSizeMiB = whole('part-size-mib', args['part-size-mib'], 5);
const s3Port = whole('s3-port', args['s3-port'], 0);
const masvPort = whole('masv-port', args['masv-port'], 0);

const realMasv = process.env.MASV_API_URL
  ? {
      url: process.env.MASV_API_URL,
      apiKey: process.env.MASV_API_KEY ?? fail('MASV_API_URL is set, so MASV_API_KEY must be set too.'),
      teamId: process.env.MASV_TEAM_ID ?? fail('MASV_API_URL is set, so MASV_TEAM_ID must be set too.'),
      recipients: (
        process.env.MASV_RECIPIENTS ?? fail('MASV_API_URL is set, so MASV_RECIPIENTS must be set too.')
      )
        .split(',')
        .map((r) => r.trim()),
    }
  : undefined;

const json = args.json;
const display = new ProgressDisplay(json);
const say = (text: string) => display.say(text);

let relay: LocalRelay;
try {
  relay = await LocalRelay.start({
    emulator: realMasv ? false : { port: masvPort },
    masv: realMasv,
    s3Port,
    config: {
      transfer: { partSizeMiB, mapConcurrency: 4, partConcurrency: 2, partsPerBatch: 4 },
      // Keys under folders/ are folder deliveries: one package when the folder's marker arrives.
      prefixRules: [{ prefix: 'folders/', delivery: 'folder' }],
    },
    onPart: (deliveryId) => display.partRecorded(deliveryId),
  });
} catch (error) {
  const e = error as NodeJS.ErrnoException;
  const hint =
    e.code === 'EADDRINUSE'
      ? ' A port is taken (another `npm start`?): pass --s3-port 0 --masv-port 0 for free ports.'
      : '';
  console.error(`Could not start the local stand-ins: ${e.message}.${hint}`);
  process.exit(1);
}

/** Shows a delivery until it ends; true when it succeeded and its bytes did not mismatch. */
async function follow(run: DeliveryRun, demoSha256?: string): Promise<boolean> {
  const progress = display.follow(run);
  const outcome = await run.result;
  progress.ended();
  const sha256Match =
    outcome.status === 'SUCCEEDED'
      ? await deliveredBytesMatch(relay.sourceClient, relay.emulator, run.prepared, demoSha256)
      : null;
  progress.report(outcome, sha256Match);
  return outcome.status === 'SUCCEEDED' && sha256Match !== false;
}

const followers = new Set<Promise<boolean>>();
async function triggerAndFollow(payload: unknown, expectedSha256?: string) {
  const summary = (await relay.trigger(payload)) as { started: string[]; skipped: string[] };
  for (const reason of summary.skipped) say(`skipped: ${reason}`);
  const results = await Promise.all(
    summary.started.map((name) => {
      const f = follow(relay.deliveries.get(name)!, expectedSha256);
      followers.add(f);
      return f;
    }),
  );
  return results.every(Boolean) && summary.started.length > 0;
}

let demoKey = '';
relay.s3.server!.on(
  'event',
  (event: {
    Records: Array<{
      eventName: string;
      s3: {
        bucket: { name: string };
        object: { key: string; eTag?: string; size?: number; sequencer?: string };
      };
    }>;
  }) => {
    for (const record of event.Records) {
      const { bucket, object } = record.s3;
      if (
        bucket.name !== SOURCE_BUCKET ||
        !record.eventName.startsWith('ObjectCreated') ||
        object.key === demoKey
      )
        continue;
      const payload = relay.objectCreatedEvent(
        object.key,
        object.eTag ?? '',
        object.size ?? 0,
        object.sequencer,
      );
      triggerAndFollow(payload).catch((error: unknown) =>
        say(`could not relay ${object.key}: ${(error as Error).message}`),
      );
    }
  },
);

const ready = {
  type: 'ready',
  s3Endpoint: relay.s3.endpoint,
  bucket: SOURCE_BUCKET,
  region: 'us-east-1',
  accessKeyId: LOCAL_S3_CREDENTIALS.accessKeyId,
  secretAccessKey: LOCAL_S3_CREDENTIALS.secretAccessKey,
  masvUrl: relay.masvUrl,
  emulator: relay.emulator !== undefined,
};
if (json) display.emit(ready);
else {
  say(`masv-relay local run`);
  say(`  source bucket  s3://${SOURCE_BUCKET} at ${relay.s3.endpoint} (s3rver)`);
  say(`  MASV           ${relay.masvUrl}${relay.emulator ? ' (emulator)' : ''}`);
  say(`  workflow       statemachines/relay.asl.json on aws-local-stepfunctions, real handlers\n`);
  say(`Uploading a ${sizeMiB} MiB demo file of random bytes…`);
}

demoKey = `demo/sample-${sizeMiB}MiB-${Date.now()}.bin`;
const demo = await uploadRandomObject(relay.sourceClient, SOURCE_BUCKET, demoKey, sizeMiB);
const head = await relay.sourceClient.send(new HeadObjectCommand({ Bucket: SOURCE_BUCKET, Key: demoKey }));
const demoOk = await triggerAndFollow(
  relay.objectCreatedEvent(demoKey, head.ETag ?? '', demo.size),
  demo.sha256,
);

let stopping = false;
const shutdown = async (code: number) => {
  if (stopping) process.exit(130);
  stopping = true;
  display.stop();
  const running = [...relay.deliveries.values()].filter((d) => !d.finished).length;
  if (running > 0) say(`Waiting for ${running} delivery(ies) to finish (Ctrl-C again to quit now)…`);
  await Promise.allSettled([...followers]);
  await relay.close();
  process.exit(code);
};

if (args.once) await shutdown(demoOk ? 0 : 1);

say(`
Drop files into the local bucket and each one is relayed the same way:
  npm run drop -- ./my-footage.mov                  (uploads to ${relay.s3.endpoint})
  npm run drop -- ./DCP_01                          (a folder: its files, then folders/DCP_01/_MASV_READY → one package)
  aws --endpoint-url ${relay.s3.endpoint} s3 cp ./my-footage.mov s3://${SOURCE_BUCKET}/incoming/
     (credentials: AWS_ACCESS_KEY_ID=${ready.accessKeyId} AWS_SECRET_ACCESS_KEY=${ready.secretAccessKey} AWS_REGION=us-east-1)
Press Ctrl-C to stop.`);
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
