import { MasvClient } from '../functions/core/masv/client.js';
import { MiB, patternStream, peakRssMiB, spawnEmulator } from './lib.js';

/**
 * One streamed part upload of `sizeMiB` into the emulator's storage (run as its own process);
 * returns MiB/s and the emulator's peak RSS before and after.
 */
export async function benchStorage(sizeMiB: number) {
  const { child, ready } = await spawnEmulator();
  try {
    const client = new MasvClient({ baseUrl: ready.url });
    const pkg = await client.createTeamPackage(ready.teamId!, ready.apiKey!, {
      name: 'bench',
      description: 'storage bench',
      recipients: ['bench@example.com'],
    });
    const access = { packageId: pkg.id, token: pkg.token };
    const size = sizeMiB * MiB;
    const file = await client.addFile(access, {
      kind: 'file',
      name: 'one-part.bin',
      path: '',
      lastModified: new Date(),
      size,
      partSize: size,
    });
    const uploadId = await client.createUpload(file.createBlueprint!);
    const [blueprint] = await client.getPartBlueprints(access, file.fileId, uploadId, 0, 1);
    const rssBefore = peakRssMiB(child.pid!);
    const started = process.hrtime.bigint();
    await client.uploadPart(blueprint!, { stream: patternStream(size), contentLength: size });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return {
      mibps: sizeMiB / seconds,
      seconds,
      emulatorPeakRssBeforeMiB: rssBefore,
      emulatorPeakRssAfterMiB: peakRssMiB(child.pid!),
    };
  } finally {
    child.kill('SIGTERM');
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const sizeMiB = Number(process.argv[2] ?? 1024);
  console.log(await benchStorage(sizeMiB));
}
