import type { MasvClient } from '../../functions/core/masv/client.js';
import type { PackageAccess } from '../../functions/core/masv/types.js';
import type { RunningEmulator } from '../../local/emulator/server.js';

/** A new package of the emulator's team, made through our MasvClient, that refreshes its own token. */
export async function newTeamPackage(client: MasvClient, masv: RunningEmulator): Promise<PackageAccess> {
  const { teamId, apiKey } = masv.accounts;
  const pkg = await client.createTeamPackage(teamId, apiKey, {
    name: 'n',
    description: 'd',
    recipients: ['a@example.com'],
  });
  return {
    packageId: pkg.id,
    token: pkg.token,
    refresh: () => client.refreshPackageToken(teamId, apiKey, pkg.id),
  };
}

/** Adds a file `a.bin` to the package and begins its multipart upload, for tests of the parts. */
export async function beginFileUpload(
  client: MasvClient,
  access: PackageAccess,
  size: number,
  partSize = 4 * 1024,
) {
  const file = await client.addFile(access, {
    kind: 'file',
    name: 'a.bin',
    path: '',
    lastModified: new Date(),
    size,
    partSize,
  });
  const createBlueprint = file.createBlueprint!;
  const uploadId = await client.createUpload(createBlueprint);
  return { fileId: file.fileId, uploadId, createBlueprint };
}
