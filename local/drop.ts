import './polyfills.js';
import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { Upload } from '@aws-sdk/lib-storage';
import { createS3Client } from '../functions/core/s3-source.js';
import { SOURCE_BUCKET } from './relay.js';
import { LOCAL_S3_CREDENTIALS } from './s3-server.js';

const USAGE = `Usage: npm run drop -- <file> [--key KEY] [--endpoint URL]

Uploads a file into the source bucket of a running \`npm start\` (default endpoint http://127.0.0.1:4568).`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { key: { type: 'string' }, endpoint: { type: 'string', default: 'http://127.0.0.1:4568' } },
});
const file = positionals[0];
if (!file) {
  console.error(USAGE);
  process.exit(2);
}
let size: number;
try {
  size = statSync(file).size;
} catch {
  console.error(`Cannot read "${file}": check the path.\n\n${USAGE}`);
  process.exit(2);
}
const key = values.key ?? `incoming/${basename(file)}`;
const s3 = createS3Client({
  endpoint: values.endpoint,
  region: 'us-east-1',
  forcePathStyle: true,
  credentials: LOCAL_S3_CREDENTIALS,
});
try {
  await new Upload({
    client: s3,
    params: { Bucket: SOURCE_BUCKET, Key: key, Body: createReadStream(file) },
  }).done();
  console.log(
    `Uploaded ${size} bytes to s3://${SOURCE_BUCKET}/${key}; watch the \`npm start\` window for the delivery.`,
  );
} catch (error) {
  console.error(
    `Upload to ${values.endpoint} failed: ${(error as Error).message}. Is \`npm start\` running?`,
  );
  process.exit(1);
}
