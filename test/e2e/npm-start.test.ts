import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('npm start', () => {
  it('relays the demo file through the real workflow and exits 0 with --once when verified', () => {
    const run = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'local/cli/run.ts',
        '--once',
        '--json',
        '--size-mib',
        '12',
        '--part-size-mib',
        '5',
        '--s3-port',
        '0',
        '--masv-port',
        '0',
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines[0]).toMatchObject({
      type: 'ready',
      bucket: 'source',
      accessKeyId: 'S3RVER',
      emulator: true,
    });
    expect(lines[0].s3Endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(lines[1]).toMatchObject({
      type: 'delivery',
      status: 'SUCCEEDED',
      bytes: 12 * 1024 * 1024,
      sha256Match: true,
    });
    expect(lines[1].packageId).toMatch(/^[0-9A-Z]{26}$/);
  }, 180_000);

  it('rejects a bad flag with a specific message and exit status 2', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'local/cli/run.ts', '--size-mib', 'lots'], {
      encoding: 'utf8',
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--size-mib must be a whole number');
  });
});
