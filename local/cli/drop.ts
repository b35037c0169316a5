import '../workflow/polyfills.js';
import { createReadStream, readdirSync, statSync } from 'node:fs';
import { basename, join, relative, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { DEFAULT_FOLDER_MARKER } from '../../functions/core/config.js';
import { createS3Client } from '../../functions/core/source/s3-source.js';
import { LOCAL_S3_CREDENTIALS } from '../s3/server.js';
import { SOURCE_BUCKET } from '../workflow/local-deps.js';

const USAGE = `Usage: npm run drop -- <file | directory> [options]

Uploads into the source bucket of a running \`npm start\` (default endpoint http://127.0.0.1:4568).
A file goes to incoming/<name> and becomes one package. A directory goes to folders/<name>/ with
its structure, file by file, and then its ${DEFAULT_FOLDER_MARKER} marker: the whole folder becomes one
package (hidden files such as .DS_Store are left out).

Options:
  --key KEY               object key of a single file (default incoming/<name>)
  --folder NAME           folder name under folders/ (default: the directory's name)
  --name TEXT             package name, written into the marker
  --recipients A,B        recipients, written into the marker
  --endpoint URL          local S3 endpoint`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    key: { type: 'string' },
    folder: { type: 'string' },
    name: { type: 'string' },
    recipients: { type: 'string' },
    endpoint: { type: 'string', default: 'http://127.0.0.1:4568' },
  },
});
const path = positionals[0];
if (!path) {
  console.error(USAGE);
  process.exit(2);
}
let isDirectory: boolean;
try {
  isDirectory = statSync(path).isDirectory();
} catch {
  console.error(`Cannot read "${path}": check the path.\n\n${USAGE}`);
  process.exit(2);
}
const s3 = createS3Client({
  endpoint: values.endpoint,
  region: 'us-east-1',
  forcePathStyle: true,
  credentials: LOCAL_S3_CREDENTIALS,
});

async function upload(file: string, key: string) {
  await new Upload({
    client: s3,
    params: { Bucket: SOURCE_BUCKET, Key: key, Body: createReadStream(file) },
  }).done();
  return statSync(file).size;
}

/** Files under a directory, relative paths with `/`, hidden files and stray markers left out. */
function filesOf(directory: string): string[] {
  return readdirSync(directory, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(directory, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .filter(
      (p) => !p.split('/').some((part) => part.startsWith('.')) && basename(p) !== DEFAULT_FOLDER_MARKER,
    )
    .sort();
}

try {
  if (!isDirectory) {
    const key = values.key ?? `incoming/${basename(path)}`;
    const size = await upload(path, key);
    console.log(
      `Uploaded ${size} bytes to s3://${SOURCE_BUCKET}/${key}; watch the \`npm start\` window for the delivery.`,
    );
  } else {
    const folder = `folders/${values.folder ?? basename(join(path))}/`;
    const files = filesOf(path);
    if (files.length === 0) {
      console.error(`"${path}" holds no files to deliver (hidden files are left out).`);
      process.exit(2);
    }
    let bytes = 0;
    for (const file of files) bytes += await upload(join(path, file), `${folder}${file}`);
    const overrides = {
      ...(values.name ? { name: values.name } : {}),
      ...(values.recipients ? { recipients: values.recipients.split(',').map((r) => r.trim()) } : {}),
    };
    // The marker goes last: the relay lists the folder when it sees the marker.
    const marker = `${folder}${DEFAULT_FOLDER_MARKER}`;
    const body = Object.keys(overrides).length > 0 ? JSON.stringify(overrides) : '';
    await s3.send(new PutObjectCommand({ Bucket: SOURCE_BUCKET, Key: marker, Body: Buffer.from(body) }));
    console.log(
      `Uploaded ${files.length} files (${bytes} bytes) to s3://${SOURCE_BUCKET}/${folder}, then ${DEFAULT_FOLDER_MARKER}; watch the \`npm start\` window for the folder's delivery.`,
    );
  }
} catch (error) {
  console.error(
    `Upload to ${values.endpoint} failed: ${(error as Error).message}. Is \`npm start\` running?`,
  );
  process.exit(1);
}
