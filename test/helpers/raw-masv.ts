import { expect } from 'vitest';
import type { RunningEmulator } from '../../local/emulator/server.js';

/** Raw HTTP calls for the emulator's contract suites: deliberately not our MasvClient. */
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

export function decodeJwt(token: string) {
  const [header, payload] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(header!, 'base64url').toString()),
    claims: JSON.parse(Buffer.from(payload!, 'base64url').toString()),
  };
}

/**
 * The Team routes of an emulator over raw HTTP. A getter, because suites start their emulator in
 * beforeAll.
 */
export function rawTeamApi(emulator: () => RunningEmulator) {
  const key = () => ({ 'X-API-KEY': emulator().accounts.apiKey });
  const packagesPath = () => `/v1/teams/${emulator().accounts.teamId}/packages`;
  const listPath = (query: string) => `/v1.1/teams/${emulator().accounts.teamId}/packages?${query}`;
  const packagePath = (packageId: string) =>
    `/v1.1/teams/${emulator().accounts.teamId}/packages/${packageId}`;
  /** Creates a Team package (answered 201); `fields` override the rest of a minimal valid body. */
  async function createPackage(name: string, fields: Record<string, unknown> = {}) {
    const res = await call(emulator().url, 'POST', packagesPath(), {
      headers: key(),
      json: { name, description: '', recipients: ['editor@example.com'], ...fields },
    });
    expect(res.status).toBe(201);
    return res.body as { id: string; access_token: string };
  }
  return { key, packagesPath, listPath, packagePath, createPackage };
}
