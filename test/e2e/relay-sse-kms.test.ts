import { afterEach, describe, expect, it } from 'vitest';
import type { StorageEncryption } from '../../local/emulator/storage-encryption.js';
import { LocalRelay } from '../../local/workflow/relay.js';
import { md5, sha256 } from '../helpers/bytes.js';
import { deliveredPackage, KiB, relayObject, TINY_SPEC, testRelayOptions } from '../helpers/local-relay.js';

let relay: LocalRelay | undefined;
afterEach(async () => {
  await relay?.close();
  relay = undefined;
});

async function deliverWith(storageEncryption: StorageEncryption, key: string) {
  const etags = new Map<number, string>();
  relay = await LocalRelay.start(
    testRelayOptions({
      emulator: { spec: TINY_SPEC, settings: { storageEncryption } },
      onPart: (_delivery, _file, part) => etags.set(part.partNumber, part.etag.replace(/"/g, '')),
    }),
  );
  const { outcome, body, run } = await relayObject(relay, key, 900 * KiB);
  expect(outcome.status).toBe('SUCCEEDED');
  const pkg = deliveredPackage(relay, (outcome as { output: { packageId: string } }).output.packageId);
  await expect(relay.emulator!.inspect.fileSha256(pkg.files[0]!.id)).resolves.toBe(sha256(body));
  // Storage's part ETags were not MD5s, so the relay could not have verified the bytes by ETag.
  const { partSize, partCount } = run.prepared!.files[0]!;
  expect(etags.size).toBe(partCount);
  for (const [n, etag] of etags) expect(etag).not.toBe(md5(body.subarray((n - 1) * partSize, n * partSize)));
  return { run };
}

describe('MASV storage encrypting with SSE-KMS (part ETags are not MD5s)', () => {
  it('delivers byte-exact when the create blueprint says aws:kms: parts carry Content-MD5 from the start', async () => {
    const { run } = await deliverWith('SSE-KMS', 'kms/clip.mov');
    expect(run.prepared!.files[0]!.partCheck).toBe('content-md5');
  });

  it('delivers byte-exact when KMS is only the bucket default: the first ETag mismatch switches to Content-MD5', async () => {
    const { run } = await deliverWith('SSE-KMS-bucket-default', 'kms/default.mov');
    expect(run.prepared!.files[0]!.partCheck).toBeUndefined();
  });
});
