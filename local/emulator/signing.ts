import { createHmac, timingSafeEqual } from 'node:crypto';

/** S3's compact ISO time (`20261127T232000Z`). */
export function amzDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

function parseAmzDate(value: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return Number.NaN;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

function sign(key: Buffer, method: string, path: string, unsignedQuery: string): string {
  return createHmac('sha256', key).update(`${method}\n${path}\n${unsignedQuery}`).digest('hex');
}

/**
 * Presigns a storage URL the way S3 query auth does in spirit: an expiry and an HMAC over method,
 * path and query. Any change to one of them, or use after expiry, is refused.
 */
export function presign(
  key: Buffer,
  origin: string,
  method: string,
  path: string,
  params: Array<[string, string]>,
  nowMs: number,
  ttlSeconds: number,
): string {
  const query = [
    ...params.map(([k, v]) =>
      v === '' ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`,
    ),
    `X-Amz-Date=${amzDate(nowMs)}`,
    `X-Amz-Expires=${ttlSeconds}`,
  ].join('&');
  return `${origin}${path}?${query}&X-Amz-Signature=${sign(key, method, path, query)}`;
}

export type SignatureCheck = { ok: true } | { ok: false; code: string; message: string };

export function verifyPresigned(key: Buffer, method: string, rawUrl: string, nowMs: number): SignatureCheck {
  const q = rawUrl.indexOf('?');
  if (q === -1) return { ok: false, code: 'AccessDenied', message: 'Request is not signed' };
  const path = rawUrl.slice(0, q);
  const pairs = rawUrl.slice(q + 1).split('&');
  const sigPair = pairs.find((p) => p.startsWith('X-Amz-Signature='));
  if (!sigPair) return { ok: false, code: 'AccessDenied', message: 'Request is not signed' };
  const unsigned = pairs.filter((p) => p !== sigPair).join('&');
  const expected = Buffer.from(sign(key, method, path, unsigned), 'hex');
  const given = Buffer.from(sigPair.slice('X-Amz-Signature='.length), 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return {
      ok: false,
      code: 'SignatureDoesNotMatch',
      message: 'The request signature we calculated does not match the signature you provided',
    };
  }
  const params = new URLSearchParams(unsigned);
  const issued = parseAmzDate(params.get('X-Amz-Date') ?? '');
  const ttl = Number(params.get('X-Amz-Expires'));
  if (!Number.isFinite(issued) || !Number.isFinite(ttl) || nowMs > issued + ttl * 1000) {
    return { ok: false, code: 'AccessDenied', message: 'Request has expired' };
  }
  return { ok: true };
}
