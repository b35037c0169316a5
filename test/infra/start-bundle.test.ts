import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

describe('start bundle', () => {
  // Start never calls MASV: the client (undici, fast-xml-parser) would only slow its cold starts.
  it('holds none of the MASV client', async () => {
    const { metafile } = await build({
      entryPoints: ['functions/start/handler.ts'],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      mainFields: ['module', 'main'],
      external: ['@aws-sdk/*'],
      write: false,
      metafile: true,
      logLevel: 'error',
    });
    const inputs = Object.keys(metafile.inputs);
    expect(inputs).toContain('functions/start/handler.ts');
    expect(
      inputs.filter((input) =>
        /node_modules\/(undici|fast-xml-parser)\/|functions\/core\/masv\/(client|transport)\.ts$/.test(input),
      ),
    ).toEqual([]);
  });
});
