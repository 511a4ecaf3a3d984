/**
 * The in-process local stack (tests/support/local-stack.ts) the e2e API-contract tests use:
 * it serves the real handlers on a free port, accepts its own tokens and refuses broken ones.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../support/local-stack.ts';

let local: LocalStack;
beforeAll(async () => {
  local = await startLocalStack();
});
afterAll(() => local?.stop());

describe('startLocalStack', () => {
  it('serves the API on a free loopback port with its own prefix', async () => {
    expect(local.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(local.stack.tableName('data')).toMatch(/^t[0-9a-f]{8}-data$/);
    expect(process.env.EVENT_FLOWS_LOCAL_RUNTIME).toBe('1');
    expect(process.env.DATA_TABLE_NAME).toBe(local.stack.tableName('data'));
    const res = await fetch(`${local.baseUrl}/health`);
    expect([200, 501]).toContain(res.status);
  });

  it('accepts token() and refuses broken tokens', async () => {
    const ok = await fetch(`${local.baseUrl}/items/notes`, { headers: { authorization: `Bearer ${await local.token()}` } });
    expect(ok.status).not.toBe(401);
    for (const broken of ['expired', 'wrong-signature', 'alg-none'] as const) {
      const res = await fetch(`${local.baseUrl}/items/notes`, { headers: { authorization: `Bearer ${await local.token({ broken })}` } });
      expect(res.status).toBe(401);
    }
  });
});
