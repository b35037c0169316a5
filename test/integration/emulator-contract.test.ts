import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningEmulator, startEmulator } from '../../local/emulator/server.js';
import { KiB, md5, sha256 } from '../helpers/bytes.js';
import { call, decodeJwt, rawTeamApi } from '../helpers/raw-masv.js';

let masv: RunningEmulator;
let now = Date.now();

beforeAll(async () => {
  masv = await startEmulator({
    port: 0,
    spec: { min_chunk_size: 4 * KiB, max_chunk_size: 64 * KiB, max_chunk_count: 50 },
    settings: { maxBlueprintWindow: 20, tokenTtlSeconds: 600, urlTtlSeconds: 60 },
    now: () => now,
  });
});
afterAll(() => masv.close());

const { key, packagesPath, packagePath, createPackage } = rawTeamApi(() => masv);
const tokenHeader = (token: string) => ({ 'X-Package-Token': token });
const teamPackage = () => createPackage('Dailies', { description: 'Day 1' });

async function addFile(pkg: { id: string; access_token: string }, fields: Record<string, unknown> = {}) {
  return call(masv.url, 'POST', `/v1/packages/${pkg.id}/files`, {
    headers: tokenHeader(pkg.access_token),
    json: {
      kind: 'file',
      name: 'clip.mov',
      path: 'day1/',
      last_modified: '2026-11-27T10:00:00.000Z',
      size: 10 * KiB,
      chunk_size: 4 * KiB,
      ...fields,
    },
  });
}

async function createUpload(bp: { url: string; method: string; headers: Record<string, string> }) {
  const res = await fetch(bp.url, { method: bp.method, headers: bp.headers });
  return { status: res.status, text: await res.text() };
}

async function partUrls(
  pkg: { id: string; access_token: string },
  fileId: string,
  uploadId: string,
  start: number,
  count: number,
) {
  return call(masv.url, 'POST', `/v1/packages/${pkg.id}/files/${fileId}?start=${start}&count=${count}`, {
    headers: tokenHeader(pkg.access_token),
    json: { upload_id: uploadId },
  });
}

const put = async (url: string, data: Buffer) => {
  const res = await fetch(url, { method: 'PUT', body: data });
  return { status: res.status, etag: res.headers.get('etag'), text: await res.text() };
};

/** Adds a file, creates its upload and uploads `data` in 4 KiB parts; returns what finalize needs. */
async function uploadFile(pkg: { id: string; access_token: string }, data: Buffer, partSize = 4 * KiB) {
  const added = await addFile(pkg, { size: data.length, chunk_size: partSize });
  expect(added.status).toBe(201);
  const created = await createUpload(added.body.create_blueprint);
  const uploadId = /<UploadId>(.+)<\/UploadId>/.exec(created.text)![1]!;
  const count = Math.max(1, Math.ceil(data.length / partSize));
  const urls = await partUrls(pkg, added.body.file.id, uploadId, 0, count);
  const parts = [];
  for (let i = 0; i < count; i++) {
    const res = await put(urls.body[i].url, data.subarray(i * partSize, (i + 1) * partSize));
    parts.push({ partNumber: String(i + 1), etag: res.etag! });
  }
  return { fileId: added.body.file.id as string, uploadId, parts, urls: urls.body as Array<{ url: string }> };
}

const finalizeFile = (pkg: { id: string; access_token: string }, fileId: string, json: unknown) =>
  call(masv.url, 'POST', `/v1/packages/${pkg.id}/files/${fileId}/finalize`, {
    headers: tokenHeader(pkg.access_token),
    json,
  });

describe('the reference curl flow for a Team package', () => {
  it('goes spec → package → file → blueprint → parts → finalize file → finalize package', async () => {
    const spec = await call(masv.url, 'GET', '/v1/system/packages/spec');
    expect(spec.status).toBe(200);
    expect(spec.body).toEqual({ max_chunk_count: 50, max_chunk_size: 64 * KiB, min_chunk_size: 4 * KiB });

    const pkg = await teamPackage();
    expect(pkg.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    const jwt = decodeJwt(pkg.access_token);
    expect(jwt.header.alg).toBe('HS256');
    expect(jwt.claims).toMatchObject({ typ: 'package', sub: pkg.id, lvl: 'f', imp: false });
    // tokenTtlSeconds is 600 (beforeAll) on the emulator's pinned clock.
    expect(jwt.claims.exp).toBe(Math.floor(now / 1000 + 600));

    const added = await addFile(pkg);
    expect(added.status).toBe(201);
    expect(added.body.file).toMatchObject({ kind: 'file', name: 'clip.mov', path: 'day1/', size: 10 * KiB });
    expect(added.body).toMatchObject({
      max_chunks_count: 50,
      max_chunk_size: 64 * KiB,
      min_chunk_size: 4 * KiB,
    });
    const bp = added.body.create_blueprint;
    expect(bp.method).toBe('POST');
    expect(bp.url).toContain('?uploads');
    // Storage encrypts with SSE-S3 by default; the file id travels as object metadata.
    expect(bp.headers).toEqual({
      'x-amz-server-side-encryption': 'AES256',
      'x-amz-meta-masv-file-id': added.body.file.id,
    });
    expect(bp.body).toBe('');
    expect(new URL(bp.url).origin).not.toBe(masv.url);

    const created = await createUpload(bp);
    expect(created.status).toBe(200);
    expect(created.text).toMatch(
      /<InitiateMultipartUploadResult xmlns="http:\/\/s3\.amazonaws\.com\/doc\/2006-03-01\/"><Bucket>.+<\/Bucket><Key>.+<\/Key><UploadId>.+<\/UploadId>/,
    );
    const uploadId = /<UploadId>(.+)<\/UploadId>/.exec(created.text)![1]!;

    const urls = await partUrls(pkg, added.body.file.id, uploadId, 0, 3);
    expect(urls.status).toBe(200);
    expect(urls.body).toHaveLength(3);
    urls.body.forEach((b: { url: string; method: string; headers: object; body: string }, i: number) => {
      expect(b).toMatchObject({ method: 'PUT', headers: {}, body: '' });
      const q = new URL(b.url).searchParams;
      expect(q.get('partNumber')).toBe(String(i + 1));
      expect(q.get('uploadId')).toBe(uploadId);
      expect(q.get('X-Amz-Expires')).toBe('60');
      expect(q.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    });

    const data = Buffer.alloc(10 * KiB);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 251;
    const etags = [];
    for (let i = 0; i < 3; i++) {
      const part = data.subarray(i * 4 * KiB, (i + 1) * 4 * KiB);
      const res = await put(urls.body[i].url, part);
      expect(res.status).toBe(200);
      expect(res.etag).toBe(`"${md5(part)}"`);
      etags.push(res.etag!);
    }

    const fin = await finalizeFile(pkg, added.body.file.id, {
      chunk_extras: etags.map((etag, i) => ({ part_number: String(i + 1), etag })),
      file_extras: { upload_id: uploadId },
      size: data.length,
      chunk_size: 4 * KiB,
    });
    expect(fin.status).toBe(204);
    expect(fin.text).toBe('');

    const finPkg = await call(masv.url, 'POST', `/v1/packages/${pkg.id}/finalize`, {
      headers: tokenHeader(pkg.access_token),
    });
    expect(finPkg.status).toBe(204);
    expect(masv.inspect.package(pkg.id)?.state).toBe('finalized');
    await expect(masv.inspect.fileSha256(added.body.file.id)).resolves.toBe(sha256(data));

    const files = await call(masv.url, 'GET', `/v1/packages/${pkg.id}/files`, {
      headers: tokenHeader(pkg.access_token),
    });
    expect(files.body).toEqual([
      expect.objectContaining({ id: added.body.file.id, kind: 'file', virus_detected: false }),
    ]);

    const late = await addFile(pkg);
    expect(late.status).toBeGreaterThanOrEqual(400);
    expect(late.status).toBeLessThan(500);
  });

  it('accepts partNumber (MASV uploader spelling) as well as part_number, as number or string', async () => {
    const pkg = await teamPackage();
    const up = await uploadFile(pkg, Buffer.alloc(5 * KiB, 1));
    const fin = await finalizeFile(pkg, up.fileId, {
      chunk_extras: up.parts.map((p, i) =>
        i === 0
          ? { partNumber: 1, etag: p.etag }
          : { partNumber: p.partNumber, etag: p.etag.replace(/"/g, '') },
      ),
      file_extras: { upload_id: up.uploadId },
      size: 5 * KiB,
    });
    expect(fin.status).toBe(204);
  });

  it('refuses finalize when partNumber and part_number disagree', async () => {
    const pkg = await teamPackage();
    const up = await uploadFile(pkg, Buffer.alloc(5 * KiB, 1));
    const fin = await finalizeFile(pkg, up.fileId, {
      chunk_extras: up.parts.map((p, i) => ({
        partNumber: String(i + 1),
        part_number: String(i + 2),
        etag: p.etag,
      })),
      file_extras: { upload_id: up.uploadId },
      size: 5 * KiB,
    });
    expect(fin.status).toBe(400);
    expect(fin.body.message).toMatch(/disagree/);
  });

  it('replaces a part that is uploaded again (S3 semantics)', async () => {
    const pkg = await teamPackage();
    const up = await uploadFile(pkg, Buffer.alloc(8 * KiB, 1));
    const replacement = Buffer.alloc(4 * KiB, 9);
    const again = await put(up.urls[1]!.url, replacement);
    const data = Buffer.concat([Buffer.alloc(4 * KiB, 1), replacement]);
    const fin = await finalizeFile(pkg, up.fileId, {
      chunk_extras: [up.parts[0], { partNumber: '2', etag: again.etag }],
      file_extras: { upload_id: up.uploadId },
      size: 8 * KiB,
    });
    expect(fin.status).toBe(204);
    await expect(masv.inspect.fileSha256(up.fileId)).resolves.toBe(sha256(data));
  });
});

describe('the portal flows', () => {
  const portalPackage = (
    portalId: string,
    json: Record<string, unknown>,
    headers: Record<string, string> = {},
  ) =>
    call(masv.url, 'POST', `/v1/portals/${portalId}/packages`, {
      headers,
      json: { name: 'n', description: 'd', sender: 'me@example.com', ...json },
    });

  it('creates a package on an open portal without an API key', async () => {
    const res = await portalPackage(masv.accounts.portalId, {});
    expect(res.status).toBe(201);
    expect(decodeJwt(res.body.access_token).claims).toMatchObject({ typ: 'package', sub: res.body.id });
  });

  it('resolves a portal by subdomain', async () => {
    const res = await call(
      masv.url,
      'GET',
      `/v1/subdomains/portals/${masv.accounts.protectedPortalSubdomain}`,
    );
    expect(res.body).toMatchObject({ id: masv.accounts.protectedPortalId, has_access_code: true });
  });

  it('requires the access code of a protected portal, URI-encoded', async () => {
    const id = masv.accounts.protectedPortalId;
    expect((await portalPackage(id, {})).status).toBe(401);
    expect((await portalPackage(id, {}, { 'X-Access-Code': 'wrong' })).status).toBe(401);
    const ok = await portalPackage(id, {}, { 'X-Access-Code': encodeURIComponent(masv.accounts.accessCode) });
    expect(ok.status).toBe(201);
  });

  it('requires form_data_id on a portal with a custom form', async () => {
    const missing = await portalPackage(masv.accounts.formPortalId, {});
    expect(missing.status).toBe(400);
    expect(missing.body.message).toMatch(/form_data_id/);
    expect((await portalPackage(masv.accounts.formPortalId, { form_data_id: 'F1' })).status).toBe(201);
  });

  it('requires a valid sender', async () => {
    expect((await portalPackage(masv.accounts.portalId, { sender: undefined })).body.message).toMatch(
      /sender is required/,
    );
    expect((await portalPackage(masv.accounts.portalId, { sender: 'nobody' })).status).toBe(400);
  });
});

describe('validation rules, one negative case each', () => {
  it.each([
    ['name missing', { name: undefined }, /name is required/],
    ['description missing', { description: undefined }, /description is required/],
    ['recipients missing', { recipients: undefined }, /recipients is required/],
    ['recipients empty', { recipients: [] }, /non-empty/],
    ['recipient invalid', { recipients: ['not-an-email'] }, /not a valid email/],
    ['chunk_size below min', { chunk_size: 1 }, /outside the allowed range/],
  ])('team package: %s → 400 {code, message}', async (_label, override, message) => {
    const res = await call(masv.url, 'POST', packagesPath(), {
      headers: key(),
      json: { name: 'n', description: 'd', recipients: ['a@example.com'], ...override },
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ code: 400, message: expect.stringMatching(message) });
  });

  it('team package: missing or wrong API key → 401, other team → 403', async () => {
    const json = { name: 'n', description: 'd', recipients: ['a@example.com'] };
    expect((await call(masv.url, 'POST', packagesPath(), { json })).status).toBe(401);
    expect(
      (await call(masv.url, 'POST', packagesPath(), { json, headers: { 'X-API-KEY': 'nope' } })).status,
    ).toBe(401);
    expect((await call(masv.url, 'POST', '/v1/teams/OTHER/packages', { json, headers: key() })).status).toBe(
      403,
    );
  });

  it('header names are case-insensitive', async () => {
    const res = await call(masv.url, 'POST', packagesPath(), {
      headers: { 'x-api-key': masv.accounts.apiKey },
      json: { name: 'n', description: 'd', recipients: ['a@example.com'] },
    });
    expect(res.status).toBe(201);
  });

  it.each([
    ['kind invalid', { kind: 'folder' }, /kind must be/],
    ['name missing', { name: undefined }, /name is required/],
    ['name with a slash', { name: 'a/b' }, /must not contain/],
    ['path missing', { path: undefined }, /path is required/],
    ['last_modified not ISO', { last_modified: '27/11/2026' }, /ISO 8601/],
    ['last_modified without zone', { last_modified: '2026-11-27T10:00:00' }, /ISO 8601/],
    ['chunk_size above max', { chunk_size: 65 * KiB }, /outside the allowed range/],
    ['too many chunks', { size: 51 * 4 * KiB, chunk_size: 4 * KiB }, /max_chunk_count/],
  ])('add file: %s → 400', async (_label, override, message) => {
    const pkg = await teamPackage();
    const res = await addFile(pkg, override);
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(message);
  });

  it('a directory entry is metadata-only', async () => {
    const pkg = await teamPackage();
    const res = await addFile(pkg, { kind: 'directory', name: 'empty', size: 0 });
    expect(res.status).toBe(201);
    expect(res.body.create_blueprint).toBeUndefined();
  });

  it('package token: missing, invalid, other package, expired → 401', async () => {
    const a = await teamPackage();
    const b = await teamPackage();
    const path = `/v1/packages/${a.id}/files`;
    expect((await call(masv.url, 'GET', path)).status).toBe(401);
    expect((await call(masv.url, 'GET', path, { headers: tokenHeader(`${a.access_token}x`) })).status).toBe(
      401,
    );
    const other = await call(masv.url, 'GET', path, { headers: tokenHeader(b.access_token) });
    expect(other.status).toBe(401);
    expect(other.body.message).toMatch(/does not belong/);
    now += 601_000;
    const expired = await call(masv.url, 'GET', path, { headers: tokenHeader(a.access_token) });
    expect(expired.body).toEqual({ code: 401, message: 'token is expired' });
  });

  it('an expired package refuses further uploads with 410', async () => {
    const pkg = await teamPackage();
    const { body } = await call(masv.url, 'GET', packagePath(pkg.id), {
      headers: key(),
    });
    const expiry = Date.parse(body.expiry);
    expect(expiry - now).toBe(10 * 24 * 3600 * 1000);
    now = expiry + 1;
    const fresh = await call(masv.url, 'GET', packagePath(pkg.id), {
      headers: key(),
    });
    const late = await addFile({ id: pkg.id, access_token: fresh.body.access_token });
    expect(late.status).toBe(410);
    expect(late.body.message).toBe('package has expired');
  });

  it('the team route returns a fresh token after expiry', async () => {
    const pkg = await teamPackage();
    now += 601_000;
    const fresh = await call(masv.url, 'GET', packagePath(pkg.id), {
      headers: key(),
    });
    expect(fresh.status).toBe(200);
    const files = await call(masv.url, 'GET', `/v1/packages/${pkg.id}/files`, {
      headers: tokenHeader(fresh.body.access_token),
    });
    expect(files.status).toBe(200);
  });

  it('part blueprints: wrong upload_id, window outside the file, count over the cap → 400', async () => {
    const pkg = await teamPackage();
    const up = await uploadFile(pkg, Buffer.alloc(10 * KiB));
    expect((await partUrls(pkg, up.fileId, 'bogus', 0, 1)).body.message).toMatch(/upload_id does not match/);
    expect((await partUrls(pkg, up.fileId, up.uploadId, 2, 2)).body.message).toMatch(
      /outside this file's 3 chunks/,
    );
    expect((await partUrls(pkg, up.fileId, up.uploadId, 0, 21)).body.message).toMatch(/exceeds the maximum/);
    expect((await partUrls(pkg, up.fileId, up.uploadId, -1, 1)).status).toBe(400);
  });

  it('storage: create blueprint without its signed header → 403', async () => {
    const pkg = await teamPackage();
    const added = await addFile(pkg);
    const res = await fetch(added.body.create_blueprint.url, { method: 'POST' });
    expect(res.status).toBe(403);
  });

  it('storage: a tampered URL → 403 SignatureDoesNotMatch; an expired one → 403 AccessDenied', async () => {
    const pkg = await teamPackage();
    const up = await uploadFile(pkg, Buffer.alloc(4 * KiB));
    const tampered = up.urls[0]!.url.replace('partNumber=1', 'partNumber=2');
    const t = await put(tampered, Buffer.alloc(4 * KiB));
    expect(t.status).toBe(403);
    expect(t.text).toContain('<Code>SignatureDoesNotMatch</Code>');
    now += 61_000;
    const e = await put(up.urls[0]!.url, Buffer.alloc(4 * KiB));
    expect(e.status).toBe(403);
    expect(e.text).toContain('<Message>Request has expired</Message>');
  });

  it('storage: a chunked part upload without Content-Length → 411', async () => {
    const pkg = await teamPackage();
    const up = await uploadFile(pkg, Buffer.alloc(4 * KiB));
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(up.urls[0]!.url, { method: 'PUT' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write(Buffer.alloc(100));
      req.end(Buffer.alloc(100));
    });
    expect(status).toBe(411);
  });

  it.each([
    ['a gap in part numbers', (p: any[]) => [p[0], p[2]], /InvalidPartOrder/],
    [
      'a wrong ETag',
      (p: any[]) => [p[0], { ...p[1], etag: '"00000000000000000000000000000000"' }, p[2]],
      /InvalidPart/,
    ],
    ['an empty chunk_extras', () => [], /InvalidPart/],
  ])('finalize file: %s → 400', async (_label, mutate, message) => {
    const pkg = await teamPackage();
    const up = await uploadFile(pkg, Buffer.alloc(10 * KiB, 3));
    const res = await finalizeFile(pkg, up.fileId, {
      chunk_extras: mutate(up.parts),
      file_extras: { upload_id: up.uploadId },
      size: 10 * KiB,
    });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(message);
  });

  it('finalize file: a part below the minimum that is not the last → 400 EntityTooSmall', async () => {
    const pkg = await teamPackage();
    const added = await addFile(pkg, { size: 6 * KiB, chunk_size: 4 * KiB });
    const created = await createUpload(added.body.create_blueprint);
    const uploadId = /<UploadId>(.+)<\/UploadId>/.exec(created.text)![1]!;
    const urls = await partUrls(pkg, added.body.file.id, uploadId, 0, 2);
    const a = await put(urls.body[0].url, Buffer.alloc(2 * KiB));
    const b = await put(urls.body[1].url, Buffer.alloc(4 * KiB));
    const res = await finalizeFile(pkg, added.body.file.id, {
      chunk_extras: [
        { partNumber: '1', etag: a.etag },
        { partNumber: '2', etag: b.etag },
      ],
      file_extras: { upload_id: uploadId },
      size: 6 * KiB,
    });
    expect(res.body.message).toMatch(/EntityTooSmall/);
  });

  it('finalize file: parts that do not add up to size → 400 size mismatch', async () => {
    const pkg = await teamPackage();
    const up = await uploadFile(pkg, Buffer.alloc(10 * KiB));
    const res = await finalizeFile(pkg, up.fileId, {
      chunk_extras: up.parts.slice(0, 2),
      file_extras: { upload_id: up.uploadId },
      size: 10 * KiB,
    });
    expect(res.body.message).toMatch(/size mismatch/);
  });

  it('finalize file: missing upload_id or size → 400', async () => {
    const pkg = await teamPackage();
    const up = await uploadFile(pkg, Buffer.alloc(4 * KiB));
    expect((await finalizeFile(pkg, up.fileId, { chunk_extras: up.parts, size: 4 * KiB })).status).toBe(400);
    expect(
      (
        await finalizeFile(pkg, up.fileId, {
          chunk_extras: up.parts,
          file_extras: { upload_id: up.uploadId },
        })
      ).status,
    ).toBe(400);
  });

  it('finalize package: with no finalized file → 400; with an unfinished file → 400', async () => {
    const pkg = await teamPackage();
    const empty = await call(masv.url, 'POST', `/v1/packages/${pkg.id}/finalize`, {
      headers: tokenHeader(pkg.access_token),
    });
    expect(empty.body.message).toMatch(/no finalized file/);
    await uploadFile(pkg, Buffer.alloc(4 * KiB));
    const pending = await call(masv.url, 'POST', `/v1/packages/${pkg.id}/finalize`, {
      headers: tokenHeader(pkg.access_token),
    });
    expect(pending.status).toBe(400);
  });

  it('delete package → 204, its parts purged, later calls → 404', async () => {
    const pkg = await teamPackage();
    await uploadFile(pkg, Buffer.alloc(4 * KiB));
    const del = await call(masv.url, 'DELETE', `/v1/packages/${pkg.id}`, {
      headers: tokenHeader(pkg.access_token),
    });
    expect(del.status).toBe(204);
    expect(masv.inspect.package(pkg.id)?.state).toBe('deleted');
    expect((await addFile(pkg)).status).toBe(404);
  });

  it('creates a download link (201) with the documented shape', async () => {
    const pkg = await teamPackage();
    const res = await call(masv.url, 'POST', `/v1/packages/${pkg.id}/links`, {
      headers: tokenHeader(pkg.access_token),
      json: { email: 'viewer@example.com' },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ email: 'viewer@example.com', active: false, password: '' });
    const bad = await call(masv.url, 'POST', `/v1/packages/${pkg.id}/links`, {
      headers: tokenHeader(pkg.access_token),
      json: { email: 'x' },
    });
    expect(bad.status).toBe(400);
  });

  it('the request log carries routes and statuses, never tokens or signatures', async () => {
    const log = JSON.stringify(masv.inspect.requests());
    expect(log).toContain('POST /v1/teams/{team_id}/packages');
    expect(log).not.toMatch(/eyJ|X-Amz-Signature|emulator-api-key/);
  });
});
