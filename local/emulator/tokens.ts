import { createHmac, timingSafeEqual } from 'node:crypto';

export interface PackageTokenClaims {
  typ: 'package';
  sub: string;
  lvl: 'f' | 'd';
  imp: boolean;
  iat: number;
  exp: number;
}

const b64url = (input: Buffer | string) => Buffer.from(input).toString('base64url');

/** Mints an HS256 JWT shaped like MASV's package tokens. */
export function signPackageToken(secret: Buffer, claims: PackageTokenClaims): string {
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = b64url(JSON.stringify(claims));
  const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

export type TokenCheck = { ok: true; claims: PackageTokenClaims } | { ok: false; reason: string };

/** Verifies signature, type and expiry of a package token. */
export function verifyPackageToken(secret: Buffer, token: string, nowSeconds: number): TokenCheck {
  const parts = token.split('.');
  if (parts.length !== 3) return { ok: false, reason: 'token is malformed' };
  const [header, payload, signature] = parts as [string, string, string];
  const expected = createHmac('sha256', secret).update(`${header}.${payload}`).digest();
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'token signature is invalid' };
  }
  let claims: PackageTokenClaims;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as PackageTokenClaims;
  } catch {
    return { ok: false, reason: 'token is malformed' };
  }
  if (claims.typ !== 'package') return { ok: false, reason: 'token is not a package token' };
  if (typeof claims.exp !== 'number' || claims.exp <= nowSeconds)
    return { ok: false, reason: 'token is expired' };
  return { ok: true, claims };
}
