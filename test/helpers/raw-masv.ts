import { createHash } from 'node:crypto';

/** Raw HTTP calls for the emulator contract suite: deliberately not our MasvClient. */
export async function call(
  base: string,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; json?: unknown } = {},
) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...options.headers },
    body: options.json === undefined ? undefined : JSON.stringify(options.json),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // keep text (XML from storage)
  }
  return { status: response.status, headers: response.headers, body: body as any, text };
}

export const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');
export const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

export function decodeJwt(token: string) {
  const [header, payload] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(header!, 'base64url').toString()),
    claims: JSON.parse(Buffer.from(payload!, 'base64url').toString()),
  };
}
