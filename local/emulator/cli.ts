import { parseArgs } from 'node:util';
import { DEFAULT_EMULATOR_PORT, startEmulator } from './server.js';

const USAGE = `Usage: npm run emulator -- [options]

Starts the MASV API emulator on 127.0.0.1 and prints one JSON line with its URL and credentials.

  --port N               API port (default ${DEFAULT_EMULATOR_PORT}; 0 = any free port)
  --storage-port N       storage port (default: any free port)
  --min-part-size BYTES  spec min_chunk_size (default 5 MiB)
  --max-part-size BYTES  spec max_chunk_size (default 5 GiB)
  --max-part-count N     spec max_chunk_count (default 10000)
  --token-ttl SECONDS    lifetime of package tokens (default 7 days)
  --url-ttl SECONDS      lifetime of presigned storage URLs (default 1 hour)
  --storage-encryption M SSE-S3 (default), SSE-KMS or SSE-KMS-bucket-default (opaque part ETags)
  --seed N               seed of the fault schedule (default 1)
  --quiet                no request log on stderr`;

const OPTIONS = {
  port: { type: 'string', default: String(DEFAULT_EMULATOR_PORT) },
  'storage-port': { type: 'string', default: '0' },
  'min-part-size': { type: 'string' },
  'max-part-size': { type: 'string' },
  'max-part-count': { type: 'string' },
  'token-ttl': { type: 'string' },
  'url-ttl': { type: 'string' },
  'storage-encryption': { type: 'string' },
  seed: { type: 'string', default: '1' },
  quiet: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;

let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];
try {
  ({ values } = parseArgs({ options: OPTIONS }));
} catch (error) {
  console.error(`${(error as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const number = (name: string, value: string | undefined) => {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`--${name} must be a whole number ≥ 0; got "${value}".\n\n${USAGE}`);
    process.exit(2);
  }
  return n;
};

const port = number('port', values.port);
const spec = Object.fromEntries(
  [
    ['min_chunk_size', number('min-part-size', values['min-part-size'])],
    ['max_chunk_size', number('max-part-size', values['max-part-size'])],
    ['max_chunk_count', number('max-part-count', values['max-part-count'])],
  ].filter(([, v]) => v !== undefined),
);
const encryption = values['storage-encryption'];
if (encryption !== undefined && !['SSE-S3', 'SSE-KMS', 'SSE-KMS-bucket-default'].includes(encryption)) {
  console.error(
    `--storage-encryption must be SSE-S3, SSE-KMS or SSE-KMS-bucket-default; got "${encryption}".\n\n${USAGE}`,
  );
  process.exit(2);
}
const settings = Object.fromEntries(
  [
    ['tokenTtlSeconds', number('token-ttl', values['token-ttl'])],
    ['urlTtlSeconds', number('url-ttl', values['url-ttl'])],
    ['storageEncryption', encryption],
  ].filter(([, v]) => v !== undefined),
);
const emulator = await startEmulator({
  port,
  storagePort: number('storage-port', values['storage-port']),
  seed: number('seed', values.seed),
  spec,
  settings,
  log: values.quiet ? undefined : (line) => process.stderr.write(`${line}\n`),
}).catch((error: NodeJS.ErrnoException) => {
  const hint = error.code === 'EADDRINUSE' ? ` Port ${port} is taken: pass --port 0 for any free port.` : '';
  console.error(`The MASV emulator could not start: ${error.message}.${hint}`);
  process.exit(1);
});
const a = emulator.accounts;
console.log(
  JSON.stringify({
    url: emulator.url,
    apiKey: a.apiKey,
    teamId: a.teamId,
    portalId: a.portalId,
    protectedPortalId: a.protectedPortalId,
    accessCode: a.accessCode,
    formPortalId: a.formPortalId,
    storageUrl: emulator.storageUrl,
    inspectUrl: `${emulator.url}/_emulator`,
  }),
);
const stop = () => {
  emulator.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
