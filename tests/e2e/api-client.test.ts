/**
 * The typed client against the local stack (every answer also checked against
 * docs/openapi.json by the stack's contract proxy): typed calls, ETag and If-Match, and
 * `updateItem` keeping a write that lands between its read and its write.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient, ok, updateItem, type ApiClient } from '../../client/index.ts';
import { startLocalStack, type LocalStack } from '../support/local-stack.ts';

let local: LocalStack;
let api: ApiClient;

beforeAll(async () => {
  local = await startLocalStack({ pollQueues: false });
  const token = await local.token();
  api = createApiClient({ baseUrl: local.baseUrl, token });
});
afterAll(() => local.stop());

const address = { collection: 'counters', id: 'visits' };
const path = { params: { path: address } };

describe('the typed client on the local stack', () => {
  it('writes with If-Match from the ETag it read; a stale ETag is a 412', async () => {
    const created = await api.PUT('/items/{collection}/{id}', { ...path, body: { n: 0 } });
    expect(created.response.status).toBe(201);
    const etag = created.response.headers.get('etag')!;
    expect(etag).toBe(`"${ok(created).version}"`);

    const replaced = await api.PUT('/items/{collection}/{id}', { params: { path: address, header: { 'If-Match': etag } }, body: { n: 1 } });
    expect(ok(replaced).version).toBe(2);
    const stale = await api.PATCH('/items/{collection}/{id}', { params: { path: address, header: { 'If-Match': etag } }, body: { n: 99 } });
    expect(stale.response.status).toBe(412);
    expect(stale.error).toMatchObject({ error: { code: 'PRECONDITION_FAILED' } });
  });

  it('updateItem re-reads and re-applies its change after a write that landed in between', async () => {
    let calls = 0;
    const item = await updateItem(api, address, async (data) => {
      // The first time round, someone else writes after our read: our If-Match is stale.
      if (calls++ === 0) ok(await api.PUT('/items/{collection}/{id}', { ...path, body: { n: 10 } }));
      return { ...data, n: Number(data.n) + 1 };
    });
    expect(calls).toBe(2);
    expect(item.data).toEqual({ n: 11 });
    expect(ok(await api.GET('/items/{collection}/{id}', path))).toMatchObject({ data: { n: 11 }, version: item.version });
  });
});
