/** The build: one zip per function, byte-identical across builds, loadable as ESM. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error build.mjs is plain JavaScript without type declarations.
import { buildAll, functionNames } from '../../build.mjs';

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('build.mjs', () => {
  it('writes one byte-identical zip per function across two builds', async () => {
    const first = (await buildAll({ quiet: true })) as { name: string }[];
    const names = functionNames() as string[];
    expect(first.map((r) => r.name)).toEqual(names);
    expect(names).toEqual(expect.arrayContaining(['query', 'write']));
    const hashes = names.map((name) => sha256(`dist/${name}.zip`));
    await buildAll({ quiet: true });
    expect(names.map((name) => sha256(`dist/${name}.zip`))).toEqual(hashes);
  }, 120_000);

  it('bundles a handler that Node can import and run', async () => {
    const module = (await import(`${process.cwd()}/dist/query/handler.mjs`)) as { handler: (...args: unknown[]) => Promise<{ statusCode: number; body: string }> };
    const context = { functionName: 'q', functionVersion: '$LATEST', memoryLimitInMB: '128', awsRequestId: 'r', getRemainingTimeInMillis: () => 1000 };
    process.env.ANALYTICS_ENABLED = 'false';
    try {
      const response = await module.handler({ routeKey: 'GET /health', rawPath: '/health', headers: {}, requestContext: { http: { method: 'GET' }, requestId: 'x' } }, context);
      expect(response.statusCode).toBe(200);
      expect(JSON.parse(response.body)).toEqual({ status: 'ok' });
    } finally {
      delete process.env.ANALYTICS_ENABLED;
    }
  }, 60_000);
});
