import '../local/workflow/polyfills.js';
import { startEmulator } from '../local/emulator/server.js';
import { startLocalS3 } from '../local/s3/server.js';
import { SOURCE_BUCKET, STATE_BUCKET } from '../local/workflow/relay.js';

/**
 * The local stand-ins in a process of their own, as S3 and MASV are remote from a Lambda: the
 * relay's CPU work (MD5, streams) then competes with the servers no more than it would in AWS.
 * Prints one JSON line with the endpoints, then serves until killed.
 */
const s3 = await startLocalS3({ buckets: [SOURCE_BUCKET, STATE_BUCKET] });
const emulator = await startEmulator({ port: 0 });
console.log(
  JSON.stringify({
    s3Endpoint: s3.endpoint,
    masvUrl: emulator.url,
    apiKey: emulator.accounts.apiKey,
    teamId: emulator.accounts.teamId,
  }),
);
const stop = async () => {
  await emulator.close();
  await s3.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
