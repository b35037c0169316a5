import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningEmulator, startEmulator } from '../../local/emulator/server.js';
import { call, rawTeamApi } from '../helpers/raw-masv.js';

/** The emulator's commit-point faults, package listing and state history, over raw HTTP only. */
let masv: RunningEmulator;
let now = Date.parse('2026-11-28T10:00:00.000Z');

beforeAll(async () => {
  masv = await startEmulator({ port: 0, now: () => now });
});
afterAll(() => masv.close());

const { key, packagesPath, listPath, packagePath, createPackage } = rawTeamApi(() => masv);

/** Adds a 10-byte file, uploads its one part and, if asked, finalizes it. */
async function uploadedFile(pkg: { id: string; access_token: string }, options: { finalize: boolean }) {
  const headers = { 'X-Package-Token': pkg.access_token };
  const added = await call(masv.url, 'POST', `/v1/packages/${pkg.id}/files`, {
    headers,
    json: { kind: 'file', name: 'a.bin', path: '', last_modified: '2026-11-28T10:00:00.000Z', size: 10 },
  });
  const create = added.body.create_blueprint as { url: string; headers: Record<string, string> };
  const xml = await (await fetch(create.url, { method: 'POST', headers: create.headers })).text();
  const uploadId = /<UploadId>([^<]+)</.exec(xml)![1]!;
  const fileId = added.body.file.id as string;
  const urls = await call(masv.url, 'POST', `/v1/packages/${pkg.id}/files/${fileId}?start=0&count=1`, {
    headers,
    json: { upload_id: uploadId },
  });
  const put = await fetch(urls.body[0].url, { method: 'PUT', body: Buffer.alloc(10, 1) });
  if (options.finalize) {
    const done = await call(masv.url, 'POST', `/v1/packages/${pkg.id}/files/${fileId}/finalize`, {
      headers,
      json: {
        chunk_extras: [{ partNumber: '1', etag: put.headers.get('etag') }],
        file_extras: { upload_id: uploadId },
        size: 10,
      },
    });
    expect(done.status).toBe(204);
  }
  return { putStatus: put.status, fileId };
}

async function addFaults(rules: unknown[]) {
  const res = await call(masv.url, 'POST', '/_emulator/faults', { json: { rules } });
  expect(res.status).toBe(201);
}

describe('answers lost after the request committed', () => {
  it('reset-after-commit creates the package, then cuts the connection before any answer', async () => {
    await addFaults([
      { target: `route:POST /v1/teams/{team_id}/packages`, kind: 'reset-after-commit', times: 1 },
    ]);
    const before = masv.inspect.packages().length;
    await expect(
      call(masv.url, 'POST', packagesPath(), {
        headers: key(),
        json: { name: 'Lost answer', description: '', recipients: ['editor@example.com'] },
      }),
    ).rejects.toThrow();
    const created = masv.inspect.packages().slice(before);
    expect(created.map((p) => [p.name, p.state])).toEqual([['Lost answer', 'new']]);
  });

  it('status-after-commit finalizes the package, then a gateway answers 502; a repeat can answer 409', async () => {
    const pkg = await createPackage('Gateway');
    await uploadedFile(pkg, { finalize: true });
    masv.faults.add({
      target: 'route:POST /v1/packages/{package_id}/finalize',
      kind: 'status-after-commit',
      times: 1,
    });
    const finalize = () =>
      call(masv.url, 'POST', `/v1/packages/${pkg.id}/finalize`, {
        headers: { 'X-Package-Token': pkg.access_token },
      });
    const lost = await finalize();
    expect(lost.status).toBe(502);
    expect(lost.text).toMatch(/Bad Gateway/);
    expect(masv.inspect.package(pkg.id)?.state).toBe('finalized');
    masv.inspect.updateSettings({ repeatFinalize: 'conflict' });
    try {
      const repeat = await finalize();
      expect(repeat.status).toBe(409);
      expect(repeat.body.message).toMatch(/already finalized/);
    } finally {
      masv.inspect.updateSettings({ repeatFinalize: 'idempotent' });
    }
  });

  it('passes a refusal through unchanged: nothing committed, nothing lost', async () => {
    const pkg = await createPackage('Refused');
    masv.faults.add({
      target: 'route:POST /v1/packages/{package_id}/finalize',
      kind: 'status-after-commit',
      times: 1,
    });
    const refused = await call(masv.url, 'POST', `/v1/packages/${pkg.id}/finalize`, {
      headers: { 'X-Package-Token': pkg.access_token },
    });
    expect(refused.status).toBe(400);
    expect(masv.inspect.package(pkg.id)?.state).toBe('new');
    masv.faults.clear();
  });

  it('applies to storage part uploads: the part is stored, the answer is a 504', async () => {
    const pkg = await createPackage('Storage');
    masv.faults.add({ target: 'storage-part', kind: 'status-after-commit', status: 504, times: 1 });
    const { putStatus } = await uploadedFile(pkg, { finalize: false });
    expect(putStatus).toBe(504);
    expect(masv.inspect.package(pkg.id)?.files[0]?.partsStored).toBe(1);
  });

  it('refuses a gateway status that is not 502, 503 or 504', async () => {
    const res = await call(masv.url, 'POST', '/_emulator/faults', {
      json: { target: 'api', kind: 'status-after-commit', status: 500 },
    });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/502, 503 or 504/);
  });
});

describe('GET /v1.1/teams/{team_id}/packages as MASV documents it', () => {
  it('matches part of the name, and lists only the documented fields (no recipients)', async () => {
    await createPackage('Rushes day 12');
    const found = await call(masv.url, 'GET', listPath('status=new&name=day%2012'), { headers: key() });
    expect(found.body.records.map((r: { name: string }) => r.name)).toEqual(['Rushes day 12']);
    expect(found.body.records[0].recipients).toBeUndefined();
  });

  it('lists finalized and expired packages by default, and new ones only when asked', async () => {
    const fresh = await createPackage('Listed new');
    const byDefault = await call(masv.url, 'GET', listPath('name=Listed%20new'), { headers: key() });
    expect(byDefault.status).toBe(200);
    expect(byDefault.body.records).toEqual([]);
    const asked = await call(masv.url, 'GET', listPath('status=new&name=Listed%20new'), { headers: key() });
    expect(asked.body.metadata.total).toBe(1);
    expect(asked.body.records[0]).toMatchObject({ id: fresh.id, state: 'new', total_files: 0 });
    expect(asked.body.records[0].access_token).toBeUndefined();
  });

  it('filters by creation time and pages with limit', async () => {
    now += 60_000;
    const since = new Date(now).toISOString();
    await createPackage('Paged');
    await createPackage('Paged');
    const page0 = await call(
      masv.url,
      'GET',
      listPath(`status=new&name=Paged&created_at_start=${since}&limit=1&page=1`),
      { headers: key() },
    );
    expect(page0.body.metadata.total).toBe(2);
    expect(page0.body.records).toHaveLength(1);
    const early = await call(
      masv.url,
      'GET',
      listPath(`status=new&name=Paged&created_at_end=${new Date(now - 1).toISOString()}`),
      { headers: key() },
    );
    expect(early.body.records).toEqual([]);
  });

  it('refuses unknown states, bad times and limits with a clear message', async () => {
    for (const [query, message] of [
      ['status=pending', /status "pending"/],
      ['created_at_start=yesterday', /created_at_start/],
      ['limit=0', /limit/],
      ['limit=51', /limit/],
      ['page=0', /first page is 1/],
    ] as const) {
      const res = await call(masv.url, 'GET', listPath(query), { headers: key() });
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(message);
    }
  });

  it('needs the API key, and GET of one package reports its state with a fresh token', async () => {
    expect((await call(masv.url, 'GET', listPath('status=new'))).status).toBe(401);
    const pkg = await createPackage('One');
    const one = await call(masv.url, 'GET', packagePath(pkg.id), {
      headers: key(),
    });
    expect(one.body).toMatchObject({ id: pkg.id, state: 'new', access_token: expect.any(String) });
  });
});

describe('package state history', () => {
  it('records every state change, so a test can prove nothing went from finalized to deleted', async () => {
    const pkg = await createPackage('History');
    const del = await call(masv.url, 'DELETE', `/v1/packages/${pkg.id}`, {
      headers: { 'X-Package-Token': pkg.access_token },
    });
    expect(del.status).toBe(204);
    const inspected = await call(masv.url, 'GET', `/_emulator/packages/${pkg.id}`);
    expect(inspected.body.stateChanges.map((c: { from: string; to: string }) => [c.from, c.to])).toEqual([
      [null, 'new'],
      ['new', 'deleted'],
    ]);
  });
});
