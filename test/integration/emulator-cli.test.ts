import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';

describe('npm run emulator', () => {
  it('prints one JSON line with its URL and credentials, serves the spec it was given, and logs requests on stderr', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'local/emulator/cli.ts',
        '--port',
        '0',
        '--min-part-size',
        '1024',
        '--max-part-count',
        '7',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
      const ready = JSON.parse(line);
      expect(Object.keys(ready)).toEqual(
        expect.arrayContaining(['url', 'apiKey', 'teamId', 'portalId', 'protectedPortalId', 'accessCode']),
      );
      expect(ready.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const spec = await (await fetch(`${ready.url}/v1/system/packages/spec`)).json();
      expect(spec).toMatchObject({ min_chunk_size: 1024, max_chunk_count: 7 });
      const created = await fetch(`${ready.url}/v1/portals/${ready.protectedPortalId}/packages`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-access-code': encodeURIComponent(ready.accessCode),
        },
        body: JSON.stringify({ name: 'n', description: 'd', sender: 's@example.com' }),
      });
      expect(created.status).toBe(201);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(stderr).toContain('GET /v1/system/packages/spec → 200');
      expect(stderr).toContain('POST /v1/portals/{portal_id}/packages → 201');
      expect(stderr).not.toMatch(/eyJ|let me in/);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });

  it('refuses a bad flag with a specific message and exit status 2', () => {
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'local/emulator/cli.ts', '--port', 'eighty'],
      { encoding: 'utf8' },
    );
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--port must be a whole number ≥ 0; got "eighty"');
  });
});
