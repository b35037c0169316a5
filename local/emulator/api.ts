import { authorizePackage } from './api/auth.js';
import { addFile, deleteFile, finalizeFile, listFiles, partBlueprints } from './api/files.js';
import type { Handler } from './api/http.js';
import {
  createLink,
  createTeamPackage,
  deletePackage,
  finalizePackage,
  getSpec,
  getTeamPackage,
  listTeamPackages,
} from './api/packages.js';
import { createPortalPackage, getPortalBySubdomain } from './api/portals.js';

export { type ApiContext, ApiError, type ApiReply } from './api/http.js';
export { authorizePackage };

export interface Route {
  method: string;
  pattern: RegExp;
  /** `METHOD template` for logs, counters and faults; carries no ids or secrets. */
  name: string;
  /** Needs `X-Package-Token` for the package in the path. */
  packageScoped: boolean;
  handler: Handler;
}

/** One route: `{param}` segments of the template match one path segment each. */
function route(method: string, template: string, handler: Handler, packageScoped = false): Route {
  return {
    method,
    pattern: new RegExp(`^${template.replace(/\{[a-z_]+\}/g, '([^/]+)')}$`),
    name: `${method} ${template}`,
    packageScoped,
    handler,
  };
}

/** MASV's API as the emulator serves it: one table, handlers by resource in `api/`. */
export const routes: Route[] = [
  route('GET', '/v1/system/packages/spec', getSpec),
  route('POST', '/v1/teams/{team_id}/packages', createTeamPackage),
  route('GET', '/v1.1/teams/{team_id}/packages', listTeamPackages),
  route('GET', '/v1.1/teams/{team_id}/packages/{package_id}', getTeamPackage),
  route('GET', '/v1/subdomains/portals/{subdomain}', getPortalBySubdomain),
  route('POST', '/v1/portals/{portal_id}/packages', createPortalPackage),
  route('POST', '/v1/packages/{package_id}/files', addFile, true),
  route('GET', '/v1/packages/{package_id}/files', listFiles, true),
  route('POST', '/v1/packages/{package_id}/files/{file_id}', partBlueprints, true),
  route('POST', '/v1/packages/{package_id}/files/{file_id}/finalize', finalizeFile, true),
  route('DELETE', '/v1/packages/{package_id}/files/{file_id}', deleteFile, true),
  route('POST', '/v1/packages/{package_id}/finalize', finalizePackage, true),
  route('DELETE', '/v1/packages/{package_id}', deletePackage, true),
  route('POST', '/v1/packages/{package_id}/links', createLink, true),
];
