import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import {
  MasvAuthError,
  MasvOutcomeUnknownError,
  MasvThrottledError,
  MasvValidationError,
  NetworkError,
  PartUrlExpiredError,
} from '../../functions/core/errors.js';
import { MasvClient } from '../../functions/core/masv/client.js';
import type { RetryClock } from '../../functions/core/retry.js';
import { json, startScriptedServer } from '../helpers/http-server.js';

const servers: Array<{ close: () => Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(...args: Parameters<typeof startScriptedServer>) {
  const s = await startScriptedServer(...args);
  servers.push(s);
  return s;
}

function clock(): RetryClock & { sleeps: number[] } {
  const sleeps: number[] = [];
  return { sleeps, sleep: async (ms) => void sleeps.push(ms), random: () => 0.5 };
}

const fastRetry = (c: RetryClock) => ({
  clock: c,
  policy: { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 10_000 },
});

describe('MasvClient against a real HTTP server', () => {
  it('retries 5xx with backoff, then succeeds', async () => {
    const s = await server((_req, res, i) =>
      i < 2
        ? json(res, 503, { code: 1, message: 'unavailable' })
        : json(res, 200, { max_chunk_count: 10000, max_chunk_size: 5368709120, min_chunk_size: 5242880 }),
    );
    const c = clock();
    const client = new MasvClient({ baseUrl: s.url, retry: fastRetry(c) });
    await expect(client.getSpec()).resolves.toEqual({
      maxPartCount: 10000,
      maxPartSize: 5368709120,
      minPartSize: 5242880,
    });
    expect(s.requests).toHaveLength(3);
    expect(c.sleeps).toEqual([50, 100]);
  });

  it('caches the spec after the first fetch', async () => {
    const s = await server((_req, res) =>
      json(res, 200, { max_chunk_count: 3, max_chunk_size: 10485760, min_chunk_size: 5242880 }),
    );
    const client = new MasvClient({ baseUrl: s.url });
    await client.getSpec();
    await client.getSpec();
    expect(s.requests).toHaveLength(1);
  });

  it('honours Retry-After in seconds and as an HTTP date on 429', async () => {
    const s = await server((_req, res, i) => {
      if (i === 0) return json(res, 429, { code: 429, message: 'slow down' }, { 'retry-after': '2' });
      if (i === 1)
        return json(
          res,
          429,
          { message: 'slow down' },
          { 'retry-after': new Date(Date.now() + 60_000).toUTCString() },
        );
      json(res, 201, { id: '01ENX9B1J68NT9Y4QHXD7T0X6S', access_token: 'tok' });
    });
    const c = clock();
    const client = new MasvClient({ baseUrl: s.url, retry: fastRetry(c) });
    await client.createTeamPackage('team', 'key', { name: 'n', description: 'd', recipients: ['a@b.co'] });
    expect(c.sleeps[0]).toBe(2000);
    expect(c.sleeps[1]).toBe(10_000);
  });

  it('gives up on 429 after the attempt cap with a throttling error', async () => {
    const s = await server((_req, res) => json(res, 429, { message: 'slow down' }));
    const client = new MasvClient({ baseUrl: s.url, retry: fastRetry(clock()) });
    await expect(client.getSpec()).rejects.toBeInstanceOf(MasvThrottledError);
    expect(s.requests).toHaveLength(4);
  });

  it('never retries other 4xx, and the message names route, status, MASV message and a fix', async () => {
    const s = await server((_req, res) => json(res, 400, { code: 400, message: 'recipients is required' }));
    const client = new MasvClient({ baseUrl: s.url, retry: fastRetry(clock()) });
    const error = await client
      .createTeamPackage('team', 'sk-secret-key', { name: 'n', description: 'd', recipients: [] })
      .catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(MasvValidationError);
    expect(s.requests).toHaveLength(1);
    expect((error as Error).message).toContain('POST /v1/teams/{team_id}/packages answered 400');
    expect((error as Error).message).toContain('recipients is required');
    expect((error as Error).message).toMatch(/Fix the request/);
    expect((error as Error).message).not.toContain('sk-secret-key');
  });

  it('sends the team package request with X-API-KEY and every field', async () => {
    const s = await server((_req, res) => json(res, 201, { id: 'P1', access_token: 'tok' }));
    const client = new MasvClient({ baseUrl: s.url });
    await client.createTeamPackage('T1', 'k1', {
      name: 'n',
      description: 'd',
      recipients: ['a@b.co'],
      password: 'pw',
      accessLimit: 3,
      unlimitedStorage: true,
      partSize: 5242880,
    });
    const [req] = s.requests;
    expect(req?.url).toBe('/v1/teams/T1/packages');
    expect(req?.headers['x-api-key']).toBe('k1');
    expect(JSON.parse(req!.body.toString())).toEqual({
      name: 'n',
      description: 'd',
      recipients: ['a@b.co'],
      password: 'pw',
      access_limit: 3,
      unlimited_storage: true,
      chunk_size: 5242880,
    });
  });

  it('URI-encodes the portal access code and omits the API key', async () => {
    const s = await server((_req, res) => json(res, 201, { id: 'P1', access_token: 'tok' }));
    const client = new MasvClient({ baseUrl: s.url });
    await client.createPortalPackage('PORTAL', {
      name: 'n',
      description: 'd',
      sender: 's@b.co',
      formDataId: 'F1',
      accessCode: 'a b/ç',
    });
    const [req] = s.requests;
    expect(req?.headers['x-access-code']).toBe('a%20b%2F%C3%A7');
    expect(req?.headers['x-api-key']).toBeUndefined();
    expect(JSON.parse(req!.body.toString())).toMatchObject({ sender: 's@b.co', form_data_id: 'F1' });
  });

  it('adds a file with last_modified in ISO 8601 UTC with milliseconds', async () => {
    const s = await server((_req, res) =>
      json(res, 201, {
        file: { id: 'F1' },
        create_blueprint: { url: 'http://x/u?uploads', method: 'POST', headers: { a: 'b' }, body: '' },
      }),
    );
    const client = new MasvClient({ baseUrl: s.url });
    const added = await client.addFile(
      { packageId: 'P1', token: 'tok' },
      {
        kind: 'file',
        name: 'a.mov',
        path: 'x/',
        lastModified: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)),
        size: 9,
        partSize: 5242880,
      },
    );
    expect(added.fileId).toBe('F1');
    expect(added.createBlueprint?.headers).toEqual({ a: 'b' });
    const body = JSON.parse(s.requests[0]!.body.toString());
    expect(body).toEqual({
      kind: 'file',
      name: 'a.mov',
      path: 'x/',
      last_modified: '2026-01-02T03:04:05.000Z',
      size: 9,
      chunk_size: 5242880,
    });
    expect(s.requests[0]?.headers['x-package-token']).toBe('tok');
  });

  it('runs the create blueprint verbatim (method, raw URL, headers, no body) and parses UploadId', async () => {
    const s = await server((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/xml' });
      res.end(
        '<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>b</Bucket><Key>k</Key><UploadId>U-1</UploadId></InitiateMultipartUploadResult>',
      );
    });
    const client = new MasvClient({ baseUrl: 'http://unused.invalid' });
    const rawUrl = `${s.url}/store/a%2Fb%20c?uploads&X-Sig=a%2Bb`;
    const uploadId = await client.createUpload({
      url: rawUrl,
      method: 'POST',
      headers: { 'x-amz-acl': 'private', 'X-Custom': 'Yes' },
      body: '',
    });
    expect(uploadId).toBe('U-1');
    const [req] = s.requests;
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/store/a%2Fb%20c?uploads&X-Sig=a%2Bb');
    expect(req?.headers['x-amz-acl']).toBe('private');
    expect(req?.headers['x-custom']).toBe('Yes');
    expect(req?.body.length).toBe(0);
  });

  it('streams a part with an exact Content-Length and never chunked encoding', async () => {
    const s = await server((req, res) => {
      res.writeHead(200, { etag: `"${createHash('md5').update(req.body).digest('hex')}"` });
      res.end();
    });
    const client = new MasvClient({ baseUrl: 'http://unused.invalid' });
    const bytes = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    const pieces = [bytes.subarray(0, 1_000_000), bytes.subarray(1_000_000)];
    const etag = await client.uploadPart(
      { url: `${s.url}/store/u?partNumber=1`, method: 'PUT', headers: {}, body: '' },
      { stream: Readable.from(pieces), contentLength: bytes.length },
    );
    const [req] = s.requests;
    expect(req?.headers['content-length']).toBe(String(bytes.length));
    expect(req?.headers['transfer-encoding']).toBeUndefined();
    expect(req?.body.equals(bytes)).toBe(true);
    expect(etag).toBe(`"${createHash('md5').update(bytes).digest('hex')}"`);
  });

  it('refuses to send a part whose stream is shorter than its Content-Length', async () => {
    const s = await server((_req, res) => res.end());
    const client = new MasvClient({ baseUrl: 'http://unused.invalid' });
    await expect(
      client.uploadPart(
        { url: `${s.url}/p`, method: 'PUT', headers: {}, body: '' },
        { stream: Readable.from([Buffer.alloc(10)]), contentLength: 11 },
      ),
    ).rejects.toBeInstanceOf(NetworkError);
  });

  it('maps a 403 from storage to PartUrlExpiredError without leaking the signature', async () => {
    const s = await server((_req, res) => {
      res.writeHead(403, { 'content-type': 'application/xml' });
      res.end('<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>');
    });
    const client = new MasvClient({ baseUrl: 'http://unused.invalid' });
    const error = await client
      .uploadPart(
        { url: `${s.url}/p?X-Signature=topsecret`, method: 'PUT', headers: {}, body: '' },
        { stream: Readable.from([Buffer.alloc(1)]), contentLength: 1 },
      )
      .then(() => new Error('resolved'))
      .catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(PartUrlExpiredError);
    expect(error.message).toContain('Request has expired');
    expect(error.message).not.toContain('topsecret');
  });

  it('finalizes a file with parts in order, both part-number keys as strings, ETags as received', async () => {
    const s = await server((_req, res) => {
      res.writeHead(204);
      res.end();
    });
    const client = new MasvClient({ baseUrl: s.url });
    await client.finalizeFile({ packageId: 'P', token: 't' }, 'F', {
      uploadId: 'U',
      size: 12,
      partSize: 5,
      parts: [
        { partNumber: 2, etag: '"b"' },
        { partNumber: 1, etag: '"a"' },
      ],
    });
    expect(s.requests[0]?.url).toBe('/v1/packages/P/files/F/finalize');
    expect(JSON.parse(s.requests[0]!.body.toString())).toEqual({
      chunk_extras: [
        { part_number: '1', partNumber: '1', etag: '"a"' },
        { part_number: '2', partNumber: '2', etag: '"b"' },
      ],
      file_extras: { upload_id: 'U' },
      size: 12,
      chunk_size: 5,
    });
  });

  it('asks for a window of part blueprints with start, count and upload_id', async () => {
    const s = await server((_req, res) =>
      json(res, 200, [
        { url: 'http://s/p?partNumber=3', method: 'PUT', headers: {}, body: '' },
        { url: 'http://s/p?partNumber=4', method: 'PUT', headers: {}, body: '' },
      ]),
    );
    const client = new MasvClient({ baseUrl: s.url });
    const bps = await client.getPartBlueprints({ packageId: 'P', token: 't' }, 'F', 'U', 2, 2);
    expect(bps.map((b) => b.url)).toEqual(['http://s/p?partNumber=3', 'http://s/p?partNumber=4']);
    expect(s.requests[0]?.url).toBe('/v1/packages/P/files/F?start=2&count=2');
    expect(JSON.parse(s.requests[0]!.body.toString())).toEqual({ upload_id: 'U' });
  });

  it('refreshes an expired package token once on 401 and retries the call', async () => {
    const s = await server((req, res) => {
      if (req.headers['x-package-token'] === 'old')
        return json(res, 401, { code: 401, message: 'token expired' });
      res.writeHead(204);
      res.end();
    });
    const client = new MasvClient({ baseUrl: s.url });
    const access = { packageId: 'P', token: 'old', refresh: async () => 'new' };
    await client.finalizePackage(access);
    expect(access.token).toBe('new');
    expect(s.requests.map((r) => r.headers['x-package-token'])).toEqual(['old', 'new']);
  });

  it('refreshes the token through the team route with the API key', async () => {
    const s = await server((_req, res) => json(res, 200, { id: 'P', access_token: 'fresh' }));
    const client = new MasvClient({ baseUrl: s.url });
    await expect(client.refreshPackageToken('T', 'k', 'P')).resolves.toBe('fresh');
    expect(s.requests[0]?.url).toBe('/v1.1/teams/T/packages/P');
    expect(s.requests[0]?.headers['x-api-key']).toBe('k');
  });

  it('lists Team packages with repeated status parameters and follows pages until the total', async () => {
    const record = (id: string) => ({
      id,
      name: 'n',
      description: '',
      recipients: [],
      state: 'new',
      created_at: '',
    });
    const s = await server((req, res) => {
      const page = Number(new URL(req.url!, 'http://x').searchParams.get('page'));
      const records = page === 1 ? Array.from({ length: 50 }, (_, i) => record(`A${i}`)) : [record('B')];
      json(res, 200, { metadata: { total: 51 }, records });
    });
    const client = new MasvClient({ baseUrl: s.url });
    const found = await client.listTeamPackages('T', 'k', {
      states: ['new', 'finalized'],
      name: 'Dailies & more',
      createdAtStart: new Date('2026-11-28T10:00:00.000Z'),
    });
    expect(found).toHaveLength(51);
    const first = new URL(s.requests[0]!.url!, 'http://x');
    expect(first.pathname).toBe('/v1.1/teams/T/packages');
    expect(first.searchParams.getAll('status')).toEqual(['new', 'finalized']);
    expect(first.searchParams.get('name')).toBe('Dailies & more');
    expect(first.searchParams.get('created_at_start')).toBe('2026-11-28T10:00:00.000Z');
    expect(first.searchParams.get('page')).toBe('1');
    expect(s.requests).toHaveLength(2);
  });

  it('takes a finalize answered 409, or 400 "already finalized", as already done; other 400s fail', async () => {
    const answers = [
      [409, 'package is already finalized'],
      [400, 'file is already finalized'],
      [400, 'file 01X is not finalized'],
    ] as const;
    const s = await server((_req, res, i) => json(res, answers[i]![0], { code: 1, message: answers[i]![1] }));
    const client = new MasvClient({ baseUrl: s.url });
    const access = { packageId: 'P', token: 't' };
    await expect(client.finalizePackage(access)).resolves.toBe('already-finalized');
    await expect(
      client.finalizeFile(access, 'F', { uploadId: 'U', size: 1, partSize: 1, parts: [] }),
    ).resolves.toBe('already-finalized');
    await expect(client.finalizePackage(access)).rejects.toThrow(MasvValidationError);
  });

  it('never repeats create package after a reset that may hide a commit', async () => {
    const s = await server((_req, res) => res.socket?.destroy());
    const client = new MasvClient({ baseUrl: s.url, retry: fastRetry(clock()) });
    await expect(
      client.createTeamPackage('T', 'k', { name: 'n', description: 'd', recipients: ['a@b.co'] }),
    ).rejects.toThrow(MasvOutcomeUnknownError);
    expect(s.requests).toHaveLength(1);
  });

  it('checks every answer against its schema and names what was off', async () => {
    const answers: unknown[] = [
      { max_chunk_count: 10000, max_chunk_size: '5368709120', min_chunk_size: 5242880 },
      { file: {}, create_blueprint: { url: 'http://s/x', method: 'POST' } },
      [{ url: 'http://s/p1', method: 'PUT' }],
      { metadata: { total: 1 }, records: [{ id: 'P' }] },
    ];
    const s = await server((_req, res, i) => json(res, 200, answers[i]));
    const client = new MasvClient({ baseUrl: s.url });
    const access = { packageId: 'P', token: 't' };
    await expect(client.getSpec()).rejects.toThrow(
      /spec answered with an unexpected body \(max_chunk_size: /,
    );
    await expect(
      client.addFile(access, { kind: 'file', name: 'a', path: '', lastModified: new Date(), size: 1 }),
    ).rejects.toThrow(/files answered with an unexpected body \(file\.id: /);
    await expect(client.getPartBlueprints(access, 'F', 'U', 0, 2)).rejects.toThrow(
      /returned 1 blueprints for count=2/,
    );
    await expect(client.listTeamPackages('T', 'k', { states: ['new'] })).rejects.toThrow(
      /records\.0\.state: /,
    );
  });

  it('counts a delete answered 404 as deleted', async () => {
    const s = await server((_req, res) => json(res, 404, { code: 404, message: 'package not found' }));
    const client = new MasvClient({ baseUrl: s.url });
    await expect(client.deletePackage({ packageId: 'P', token: 't' })).resolves.toBeUndefined();
  });

  it('reports 401 as MasvAuthError when no refresh is possible', async () => {
    const s = await server((_req, res) => json(res, 401, { code: 401, message: 'invalid api key' }));
    const client = new MasvClient({ baseUrl: s.url });
    await expect(
      client.createTeamPackage('T', 'bad', { name: 'n', description: 'd', recipients: ['a@b.co'] }),
    ).rejects.toThrow(MasvAuthError);
  });

  it('retries a connection reset on API calls', async () => {
    const s = await server((req, res, i) => {
      if (i === 0) return req.headers && res.socket?.destroy();
      json(res, 200, { max_chunk_count: 1, max_chunk_size: 5242880, min_chunk_size: 5242880 });
    });
    const client = new MasvClient({ baseUrl: s.url, retry: fastRetry(clock()) });
    await expect(client.getSpec()).resolves.toMatchObject({ maxPartCount: 1 });
    expect(s.requests).toHaveLength(2);
  });
});
