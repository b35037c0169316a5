import type { RelayDeps } from '../deps.js';
import type { PackageAccess } from '../masv/types.js';
import type { PackageRecord } from '../state/state-bucket.js';
import type { ResolvedPackage } from './package-settings.js';

/*
 * The lower layer of the package lifecycle: how a package is created on the configured Team or
 * Portal, and how a record becomes credentials. It records and decides nothing; only
 * package-lifecycle.ts imports it, and the steps reach both through the lifecycle.
 */

/** Creates the package on the configured Team or Portal. */
export async function createPackage(
  deps: RelayDeps,
  settings: ResolvedPackage,
  partSize: number,
): Promise<PackageRecord> {
  const target = deps.config.masv.target;
  const password = settings.passwordSecretName ? await deps.secret(settings.passwordSecretName) : undefined;
  if (target.kind === 'team') {
    const apiKey = await deps.secret(target.apiKeySecretName);
    const pkg = await deps.masv.createTeamPackage(target.teamId, apiKey, {
      name: settings.name,
      description: settings.description,
      recipients: settings.recipients,
      password,
      accessLimit: settings.accessLimit,
      unlimitedStorage: settings.unlimitedStorage,
      partSize,
    });
    return { packageId: pkg.id, owner: 'team', token: pkg.token };
  }
  const accessCode = target.accessCodeSecretName ? await deps.secret(target.accessCodeSecretName) : undefined;
  const pkg = await deps.masv.createPortalPackage(target.portalId, {
    name: settings.name,
    description: settings.description,
    sender: settings.sender!,
    formDataId: settings.formDataId,
    partSize,
    accessCode,
  });
  return { packageId: pkg.id, owner: 'portal', token: pkg.token };
}

/**
 * Package credentials for a step. Team package tokens can be refreshed with the API key. The
 * fresh token stays in memory: only Prepare writes the package record, so the transfer
 * function's write access stays limited to the parts ledger.
 */
export function packageAccess(deps: RelayDeps, deliveryId: string, record: PackageRecord): PackageAccess {
  const target = deps.config.masv.target;
  const access: PackageAccess = { packageId: record.packageId, token: record.token };
  if (record.owner === 'team' && target.kind === 'team') {
    access.refresh = async () => {
      const apiKey = await deps.secret(target.apiKeySecretName);
      const token = await deps.masv.refreshPackageToken(target.teamId, apiKey, record.packageId);
      deps.log.info('Refreshed the package token', { deliveryId, packageId: record.packageId });
      return token;
    };
  }
  return access;
}
