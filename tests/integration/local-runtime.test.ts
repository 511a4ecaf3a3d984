/**
 * The runtime's wiring with stand-in handler modules (written to a temp functions/ dir):
 * missing handlers are skipped (501, queue not polled), the topology's queues feed their
 * consumers, after-response tasks run after queue invocations, and stop() waits for them.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { generateSigningKeys, mintToken } from '../../scripts/local/jwt.ts';
import { clientConfig } from '../../scripts/local/provision.ts';
import { repoRoot } from '../../scripts/local/python-env.ts';
import { startRuntime } from '../../scripts/local/runtime.ts';
import { awsEndpoint, provisionTestStack, region } from '../support/stack.ts';

interface Probe {
  calls: Array<{ name: string; records: number; functionName: string; remainingMs: number }>;
  afterTasks: number;
}
const probe: Probe = { calls: [], afterTasks: 0 };
(globalThis as { __localRuntimeProbe?: Probe }).__localRuntimeProbe = probe;

const dir = mkdtempSync(join(tmpdir(), 'event-flows-functions-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeHandler(name: string, body: string): void {
  mkdirSync(join(dir, name), { recursive: true });
  writeFileSync(
    join(dir, name, 'handler.ts'),
    `import { afterResponse } from ${JSON.stringify(join(repoRoot, 'functions/shared/after-response.ts'))};
const probe = (globalThis as any).__localRuntimeProbe; // any: a test-only global set by the test file
export async function handler(event: any, context: any) { // any: stand-in handler for several event types
${body}
}
`,
  );
}

describe('local runtime', () => {
  it('skips missing handlers, feeds queues to consumers and drains after-response tasks', async () => {
    writeHandler('query', `return { statusCode: 200, body: JSON.stringify({ fn: context.functionName, table: process.env.DATA_TABLE_NAME }) };`);
    writeHandler(
      'import',
      `probe.calls.push({ name: 'import', records: event.Records.length, functionName: context.functionName, remainingMs: context.getRemainingTimeInMillis() });
  afterResponse(async () => { await new Promise((r) => setTimeout(r, 1500)); probe.afterTasks++; });
  return { batchItemFailures: [] };`,
    );
    // A module that fails to load answers like Lambda's Runtime.ImportModuleError: 500, nothing else affected.
    mkdirSync(join(dir, 'write'), { recursive: true });
    writeFileSync(join(dir, 'write', 'handler.ts'), `throw new Error('broken at import');\n`);
    const stack = await provisionTestStack();
    const keys = await generateSigningKeys();
    const logs: string[] = [];
    const runtime = await startRuntime({ endpoint: awsEndpoint(), stack, port: 0, publicKey: keys.publicKey, functionsDir: dir, log: (l) => logs.push(l) });
    try {
      expect(runtime.skipped.sort()).toEqual(['analytics', 'analytics-api', 'app-events', 'auth-triggers', 'import-api']);
      expect(logs.filter((l) => l.startsWith('skipped '))).toHaveLength(5);
      expect(logs.some((l) => l.includes('could not load') && l.includes('broken at import'))).toBe(true);

      const health = await fetch(`${runtime.url}/health`);
      expect(await health.json()).toEqual({ fn: `${stack.prefix}-query`, table: stack.tableName('data') });
      const notBuilt = await fetch(`${runtime.url}/analytics/summary`, { headers: { authorization: 'Bearer x' } });
      expect(notBuilt.status).toBe(401); // the authorizer runs first, as in API Gateway
      expect(process.env.EVENT_FLOWS_LOCAL_RUNTIME).toBe('1');
      const broken = await fetch(`${runtime.url}/items/notes/1`, { method: 'DELETE', headers: { authorization: `Bearer ${await mintToken(keys, { sub: 'a', tenant: 't' })}` } });
      expect(broken.status).toBe(500);
      expect(await broken.json()).toEqual({ message: 'Internal Server Error' });

      const sqs = new SQSClient(clientConfig({ endpoint: awsEndpoint(), region }));
      await sqs.send(new SendMessageCommand({ QueueUrl: stack.queueUrl('import'), MessageBody: '{"chunk":1}' }));
      await expect.poll(() => probe.calls.length, { timeout: 10_000 }).toBe(1);
      expect(probe.calls[0]).toMatchObject({ name: 'import', records: 1, functionName: `${stack.prefix}-import` });
      expect(probe.calls[0]!.remainingMs).toBeLessThanOrEqual(60_000);
      expect(probe.calls[0]!.remainingMs).toBeGreaterThan(55_000);
    } finally {
      await runtime.stop();
    }
    // stop() returned only after the after-response task of the queue invocation had run.
    expect(probe.afterTasks).toBe(1);
  });
});
