import { build } from 'esbuild';

export const STEPS = ['start', 'prepare', 'transfer', 'finalize', 'abort'] as const;

/**
 * P5: each Lambda's minified bundle, built with the options the CDK stack's NodejsFunction uses
 * (ESM, node22, minified, the runtime's AWS SDK external).
 */
export async function benchBundles(): Promise<Record<string, number>> {
  const sizes: Record<string, number> = {};
  for (const step of STEPS) {
    const result = await build({
      entryPoints: [`functions/${step}/handler.ts`],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      minify: true,
      mainFields: ['module', 'main'],
      external: ['@aws-sdk/*'],
      write: false,
      logLevel: 'error',
    });
    sizes[step] = result.outputFiles[0]!.contents.byteLength;
  }
  return sizes;
}
