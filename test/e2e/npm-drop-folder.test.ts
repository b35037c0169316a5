import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';

describe('npm start + npm run drop -- <directory>', () => {
  it('relays a dropped directory as one folder delivery, bytes verified', async () => {
    const directory = join(mkdtempSync(join(tmpdir(), 'masv-drop-')), 'shoot');
    mkdirSync(join(directory, 'day1', 'cam-a'), { recursive: true });
    writeFileSync(join(directory, 'day1', 'cam-a', 'A001.mov'), randomBytes(300 * 1024));
    writeFileSync(join(directory, 'notes.txt'), 'slate 1');
    writeFileSync(join(directory, '.DS_Store'), 'junk');

    const start = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'local/cli/run.ts',
        '--json',
        '--size-mib',
        '1',
        '--part-size-mib',
        '5',
        '--s3-port',
        '0',
        '--masv-port',
        '0',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const lines = createInterface({ input: start.stdout! });
    const seen: Array<Record<string, unknown>> = [];
    try {
      let endpoint = '';
      for await (const line of lines) {
        const event = JSON.parse(line) as Record<string, unknown>;
        seen.push(event);
        if (event.type === 'ready') endpoint = event.s3Endpoint as string;
        if (event.type === 'delivery' && String(event.key).startsWith('demo/')) {
          const drop = spawnSync(
            process.execPath,
            [
              '--import',
              'tsx',
              'local/cli/drop.ts',
              directory,
              '--endpoint',
              endpoint,
              '--name',
              'Shoot day 1',
            ],
            { encoding: 'utf8', timeout: 60_000 },
          );
          expect(drop.stderr).toBe('');
          expect(drop.stdout).toContain('Uploaded 2 files');
        }
        if (event.type === 'delivery' && event.key === 'folders/shoot/') break;
      }
    } finally {
      start.kill('SIGINT');
    }
    const deliveries = seen.filter((e) => e.type === 'delivery');
    expect(deliveries).toHaveLength(2); // the demo file and the folder: its files started nothing alone
    expect(deliveries[1]).toMatchObject({
      key: 'folders/shoot/',
      status: 'SUCCEEDED',
      bytes: 300 * 1024 + 7,
      sha256Match: true,
    });
  }, 180_000);
});
