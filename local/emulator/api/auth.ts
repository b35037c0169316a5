import type { EmulatorState, EmuPackage } from '../model.js';
import { signPackageToken, verifyPackageToken } from '../tokens.js';
import { type ApiContext, ApiError } from './http.js';

export function requireApiKey({ state, req }: ApiContext, teamId: string) {
  const key = req.headers['x-api-key'];
  if (typeof key !== 'string' || key === '') throw new ApiError(401, 'missing X-API-KEY header');
  if (key !== state.accounts.apiKey) throw new ApiError(401, 'invalid api key');
  if (teamId !== state.accounts.teamId) throw new ApiError(403, 'api key does not belong to this team');
}

export function mintToken(state: EmulatorState, pkg: EmuPackage): string {
  // iat never goes back below the revocation cut-off, so a token minted right after a
  // token-expiry fault is valid even within the same millisecond.
  const iat = Math.max(state.now() / 1000, pkg.tokensValidFrom);
  return signPackageToken(state.tokenSecret, {
    typ: 'package',
    sub: pkg.id,
    lvl: 'f',
    imp: false,
    iat,
    exp: Math.floor(state.now() / 1000 + state.settings.tokenTtlSeconds),
  });
}

/** Checks `X-Package-Token` for the package in the path; the token-expiry fault lands here. */
export function authorizePackage(ctx: ApiContext, expireNow: boolean): EmuPackage {
  const { state, req } = ctx;
  const packageId = ctx.params[0]!;
  const token = req.headers['x-package-token'];
  if (typeof token !== 'string' || token === '') throw new ApiError(401, 'missing X-Package-Token header');
  const check = verifyPackageToken(state.tokenSecret, token, state.now() / 1000);
  if (!check.ok) throw new ApiError(401, check.reason);
  if (check.claims.sub !== packageId) throw new ApiError(401, 'token does not belong to this package');
  if (check.claims.lvl !== 'f') throw new ApiError(403, 'token does not allow uploads');
  const pkg = state.packages.get(packageId);
  if (!pkg || pkg.state === 'deleted') throw new ApiError(404, 'package not found');
  if (state.now() > Date.parse(pkg.createdAt) + state.settings.packageTtlSeconds * 1000) {
    throw new ApiError(410, 'package has expired');
  }
  if (expireNow) pkg.tokensValidFrom = Math.max(state.now() / 1000, check.claims.iat + 0.001);
  if (check.claims.iat < pkg.tokensValidFrom) throw new ApiError(401, 'token is expired');
  return pkg;
}

export function requireNotFinalized(pkg: EmuPackage) {
  if (pkg.state === 'finalized')
    throw new ApiError(409, 'package is finalized and can no longer be modified');
}
