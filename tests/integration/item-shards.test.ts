/**
 * A collection's items spread over several partition keys (functions/shared/items/shards.ts),
 * against the emulator: where items land, that every route finds them, that a list merged
 * across the shards is exactly the list of all items in order (cursors walked to the end,
 * with writes between pages), that old collections (STATS without a count) stay on one key,
 * and that two first writes deciding different counts cannot both record theirs.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler as queryHandler } from '../../functions/query/handler.ts';
import { handler as writeHandler } from '../../functions/write/handler.ts';
import { handler as importApiHandler } from '../../functions/import-api/handler.ts';
import { dynamo } from '../../functions/shared/aws-clients.ts';
import { config } from '../../functions/shared/config.ts';
import { transactWrite } from '../../functions/shared/imports/transact.ts';
import { toItemRecord } from '../../functions/shared/items/item.ts';
import { collectionPartition, itemPartition, STATS_SORT_KEY } from '../../functions/shared/items/keys.ts';
import { listItems, MAX_ITEMS_EVALUATED, type ListOptions } from '../../functions/shared/items/repository.ts';
import { forgetCollectionShards, reserveImportShards } from '../../functions/shared/items/shards.ts';
import { itemCountUpdate } from '../../functions/shared/items/stats.ts';
import type { ProvisionedStack } from '../../scripts/local/provision.ts';
import { apiEvent, invoke, type Claims } from '../support/invoke.ts';
import { provisionTestStack } from '../support/stack.ts';
import { recordedShards, storedItem, storedItems } from '../support/stored-items.ts';

const alice: Claims = { sub: 'alice', tenant: 'shards' };
const admin: Claims = { sub: 'root', tenant: 'shards', scope: 'admin' };
let stack: ProvisionedStack;
const table = () => stack.tableName('data');

beforeAll(async () => {
  stack = await provisionTestStack();
});
afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

const itemPath = (collection: string, id: string) => ({ path: `/items/${collection}/${id}`, pathParameters: { collection, id } });
const put = (collection: string, id: string, body: object, headers: Record<string, string> = {}) =>
  invoke(writeHandler, apiEvent({ routeKey: 'PUT /items/{collection}/{id}', ...itemPath(collection, id), claims: alice, body, headers }));
const patch = (collection: string, id: string, body: object) => invoke(writeHandler, apiEvent({ routeKey: 'PATCH /items/{collection}/{id}', ...itemPath(collection, id), claims: alice, body }));
const remove = (collection: string, id: string) => invoke(writeHandler, apiEvent({ routeKey: 'DELETE /items/{collection}/{id}', ...itemPath(collection, id), claims: alice }));
const get = (collection: string, id: string) => invoke(queryHandler, apiEvent({ routeKey: 'GET /items/{collection}/{id}', ...itemPath(collection, id), claims: alice }));
const list = (collection: string, query: Record<string, string>) =>
  invoke(queryHandler, apiEvent({ routeKey: 'GET /items/{collection}', path: `/items/${collection}`, pathParameters: { collection }, claims: alice, query }));
const stats = (collection: string) => invoke(queryHandler, apiEvent({ routeKey: 'GET /collections/{collection}/stats', path: `/collections/${collection}/stats`, pathParameters: { collection }, claims: alice }));

type Listed = { id: string; version: number; createdAt: string; updatedAt: string; data: Record<string, unknown> };

/** Every page of a list, following cursors; `between` runs after each page (writes between pages). */
async function walk(collection: string, query: Record<string, string>, between?: (page: number, lastId: string) => Promise<void>): Promise<Listed[]> {
  const seen: Listed[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 500; page++) {
    const response = await list(collection, { ...query, ...(cursor ? { cursor } : {}) });
    expect(response.statusCode, JSON.stringify(response.body)).toBe(200);
    seen.push(...(response.body.items as Listed[]));
    cursor = response.body.nextCursor ?? undefined;
    if (!cursor) return seen;
    await between?.(page, seen[seen.length - 1]?.id ?? '');
  }
  throw new Error('the list did not end');
}

/** The reference: the collection's items read straight from every shard, filtered and ordered here. */
async function expected(collection: string, sort: 'id' | 'createdAt' | 'updatedAt', order: 'asc' | 'desc', filter?: [string, unknown]): Promise<string[]> {
  const all = await storedItems(dynamo(), table(), alice.tenant, collection);
  const key = (item: Record<string, unknown>) => (sort === 'id' ? String(item.sk) : `${String(item[sort])}#${String(item.id)}`);
  const kept = filter ? all.filter((item) => (item.data as Record<string, unknown>)[filter[0]] === filter[1]) : all;
  const ordered = kept.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0)).map((item) => String(item.id));
  return order === 'asc' ? ordered : ordered.reverse();
}

const colours = ['red', 'green', 'blue'];

describe('a collection spread over shards', () => {
  const collection = 'spread';
  const ids = Array.from({ length: 37 }, (_, i) => `item-${String(i).padStart(2, '0')}`);

  beforeAll(async () => {
    vi.stubEnv('ITEM_SHARDS', '5');
    for (const [i, id] of ids.entries()) expect((await put(collection, id, { n: i, colour: colours[i % 3] })).statusCode).toBe(201);
    vi.unstubAllEnvs();
  });

  it('records the count on the first write and puts items on several partition keys, each where its id says', async () => {
    expect(await recordedShards(dynamo(), table(), alice.tenant, collection)).toBe(5);
    const stored = await storedItems(dynamo(), table(), alice.tenant, collection);
    expect(stored.map((item) => item.id).sort()).toEqual(ids);
    const keys = new Set(stored.map((item) => String(item.pk)));
    expect(keys.size).toBeGreaterThanOrEqual(4);
    for (const item of stored) expect(item.pk).toBe(itemPartition(alice.tenant, collection, String(item.id), 5));
    expect((await stats(collection)).body.itemCount).toBe(ids.length);
  });

  it('GET, PUT (replace), PATCH and DELETE find every item on its shard', async () => {
    // Another deployment default must not move an existing collection's items.
    vi.stubEnv('ITEM_SHARDS', '7');
    forgetCollectionShards();
    for (const id of ids.slice(0, 8)) {
      expect((await get(collection, id)).body).toMatchObject({ id, version: 1 });
      const replaced = await put(collection, id, { n: -1, colour: 'red' }, { 'if-match': '"1"' });
      expect(replaced.statusCode).toBe(200);
      expect(replaced.body).toMatchObject({ version: 2 });
      expect((await patch(collection, id, { extra: true })).body).toMatchObject({ version: 3, data: { n: -1, colour: 'red', extra: true } });
    }
    expect((await put(collection, 'late', { colour: 'blue' })).statusCode).toBe(201);
    expect((await storedItem(dynamo(), table(), alice.tenant, collection, 'late'))?.pk).toBe(itemPartition(alice.tenant, collection, 'late', 5));
    expect((await remove(collection, 'late')).statusCode).toBe(204);
    expect((await get(collection, 'late')).statusCode).toBe(404);
    expect(await storedItem(dynamo(), table(), alice.tenant, collection, 'late')).toBeUndefined();
    expect((await stats(collection)).body.itemCount).toBe(ids.length);
  });

  it.each([
    ['id', 'asc'],
    ['id', 'desc'],
    ['createdAt', 'asc'],
    ['createdAt', 'desc'],
    ['updatedAt', 'asc'],
    ['updatedAt', 'desc'],
  ] as const)('a list by %s %s, walked in small pages, is every item once in order', async (sort, order) => {
    for (const limit of ['1', '3', '10', '100']) {
      const walked = await walk(collection, { sort, order, limit });
      expect(walked.map((item) => item.id), `limit ${limit}`).toEqual(await expected(collection, sort, order));
    }
  });

  it.each([
    ['id', 'asc'],
    ['id', 'desc'],
    ['createdAt', 'desc'],
    ['updatedAt', 'asc'],
  ] as const)('a filtered list by %s %s is the filtered items in order', async (sort, order) => {
    for (const limit of ['1', '4']) {
      const walked = await walk(collection, { sort, order, limit, 'filter.colour': 'green' });
      expect(walked.map((item) => item.id), `limit ${limit}`).toEqual(await expected(collection, sort, order, ['colour', 'green']));
    }
    expect(await walk(collection, { sort, order, limit: '5', 'filter.colour': 'purple' })).toEqual([]);
  });

  it('a page stopped by the evaluation budget resumes exactly where it stopped', async () => {
    vi.stubEnv('ITEM_SHARDS', '5');
    for (const [sort, order] of [['id', 'asc'], ['id', 'desc'], ['createdAt', 'asc'], ['updatedAt', 'desc']] as const) {
      const options: ListOptions = { limit: 3, sort, order, filters: { colour: 'blue' }, maxEvaluated: 4 };
      const found: string[] = [];
      let cursor: string | undefined;
      let budgetStops = 0;
      for (let page = 0; page < 200; page++) {
        const result = await listItems(alice.tenant, collection, { ...options, ...(cursor ? { cursor } : {}) });
        if (result.nextCursor && result.items.length < options.limit) budgetStops++;
        found.push(...result.items.map((item) => item.id));
        cursor = result.nextCursor ?? undefined;
        if (!cursor) break;
      }
      expect(cursor).toBeUndefined();
      expect(budgetStops, `${sort} ${order}: the budget never stopped a page, so this proves nothing`).toBeGreaterThan(0);
      expect(found, `${sort} ${order}`).toEqual(await expected(collection, sort, order, ['colour', 'blue']));
    }
    expect(MAX_ITEMS_EVALUATED).toBe(10_000);
  });

  it('items created and deleted between pages: no item twice, none that stayed skipped', async () => {
    const target = 'moving';
    vi.stubEnv('ITEM_SHARDS', '4');
    const initial = Array.from({ length: 20 }, (_, i) => `m${String(i * 5).padStart(3, '0')}`);
    for (const id of initial) await put(target, id, { id });
    // What must be listed: an item that exists when the walk passes its place (created ahead of the cursor, or never deleted before it).
    const mustAppear = new Set(initial);
    const mustNotAppear = new Set<string>();
    const walked = await walk(target, { sort: 'id', order: 'asc', limit: '3' }, async (page, last) => {
      for (const id of [`a${page}`, `m${String(page * 7 + 20).padStart(3, '0')}x`]) {
        await put(target, id, {});
        (id > last ? mustAppear : mustNotAppear).add(id);
      }
      const doomed = initial[page + 8];
      if (doomed && doomed > last) {
        await remove(target, doomed);
        mustAppear.delete(doomed);
        mustNotAppear.add(doomed);
      }
    });
    const ids = walked.map((item) => item.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual([...ids].sort());
    expect(mustNotAppear.size, 'no change landed behind the cursor: this proves less').toBeGreaterThan(3);
    expect(ids).toEqual([...mustAppear].sort());

    // By creation time, items created during the walk come after every earlier one: all are listed.
    const byTime: string[] = [];
    const during: string[] = [];
    for (const item of await walk(target, { sort: 'createdAt', order: 'asc', limit: '4' }, async (page) => {
      const id = `z${page}`;
      await put(target, id, {});
      during.push(id);
    })) byTime.push(item.id);
    expect(new Set(byTime).size).toBe(byTime.length);
    for (const id of during) expect(byTime).toContain(id);
  });

  it('cursors stay bound to their collection and order', async () => {
    const first = await list(collection, { limit: '2', sort: 'createdAt' });
    expect((await list('other', { limit: '2', sort: 'createdAt', cursor: first.body.nextCursor })).statusCode).toBe(400);
    expect((await list(collection, { limit: '2', sort: 'createdAt', order: 'desc', cursor: first.body.nextCursor })).statusCode).toBe(400);
    expect((await list(collection, { limit: '2', sort: 'updatedAt', cursor: first.body.nextCursor })).statusCode).toBe(400);
  });
});

describe('collections written before sharding', () => {
  it('a STATS item without itemShards is one shard: items stay under the collection key, and stay found', async () => {
    const collection = 'legacy';
    const at = '2026-01-01T00:00:00.000Z';
    // What the code wrote before sharding: items and STATS under TENANT#<t>#COLLECTION#<c>, no count recorded.
    await dynamo().send(new PutCommand({ TableName: table(), Item: { pk: collectionPartition(alice.tenant, collection), sk: STATS_SORT_KEY, tenant: alice.tenant, collection, itemCount: 6 } }));
    for (let i = 0; i < 6; i++) {
      const record = toItemRecord(alice.tenant, { collection, id: `old-${i}`, data: { i }, version: 1, createdAt: at, updatedAt: at }, 1);
      expect(record.pk).toBe(collectionPartition(alice.tenant, collection));
      await dynamo().send(new PutCommand({ TableName: table(), Item: record }));
    }
    expect((await get(collection, 'old-3')).body).toMatchObject({ id: 'old-3', data: { i: 3 } });
    expect((await walk(collection, { limit: '4' })).map((item) => item.id)).toEqual(['old-0', 'old-1', 'old-2', 'old-3', 'old-4', 'old-5']);
    expect((await put(collection, 'new-1', { fresh: true })).statusCode).toBe(201);
    expect((await storedItem(dynamo(), table(), alice.tenant, collection, 'new-1'))?.pk).toBe(collectionPartition(alice.tenant, collection));
    expect((await patch(collection, 'old-2', { more: 1 })).body).toMatchObject({ version: 2 });
    expect((await remove(collection, 'old-0')).statusCode).toBe(204);
    expect(await recordedShards(dynamo(), table(), alice.tenant, collection)).toBe(1);
    const { body } = await stats(collection);
    expect(body.itemCount).toBe(6);
    // An import into it keeps one shard too.
    expect(await reserveImportShards(alice.tenant, collection)).toBe(1);
    const created = await invoke(importApiHandler, apiEvent({ routeKey: 'POST /imports', path: '/imports', claims: admin, body: { collection: 'legacy' } }));
    expect(created.statusCode).toBe(201);
  });

  it('GET of a collection never written answers 404 after one read, and its list is empty', async () => {
    expect((await get('nothing-here', 'x')).statusCode).toBe(404);
    expect((await list('nothing-here', {})).body).toEqual({ items: [], nextCursor: null });
  });
});

describe('first writes racing', () => {
  it('two first writes with different counts cannot both record theirs', async () => {
    const tenant = alice.tenant;
    const collection = 'race-low-level';
    const first = itemCountUpdate(tenant, collection, 1, { shards: 4, state: 'new' });
    const second = itemCountUpdate(tenant, collection, 1, { shards: 8, state: 'new' });
    const results = await Promise.allSettled([transactWrite([first]), transactWrite([second])]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const recorded = await recordedShards(dynamo(), table(), tenant, collection);
    expect([4, 8]).toContain(recorded);
    // A later write that assumes the other count is refused too.
    const other = recorded === 4 ? 8 : 4;
    await expect(transactWrite([itemCountUpdate(tenant, collection, 1, { shards: other, state: 'recorded' })])).rejects.toThrow();
    await expect(transactWrite([itemCountUpdate(tenant, collection, 1, { shards: recorded!, state: 'recorded' })])).resolves.toBeUndefined();
  });

  it('two PUTs creating a collection with different counts: one count wins and both items are where it says', async () => {
    const collection = 'race';
    forgetCollectionShards();
    // Two containers deployed with different ITEM_SHARDS, both seeing no STATS item yet.
    vi.spyOn(config, 'itemShards').mockReturnValueOnce(3).mockReturnValueOnce(6);
    const [a, b] = await Promise.all([put(collection, 'a', { who: 'a' }), put(collection, 'b', { who: 'b' })]);
    expect([a.statusCode, b.statusCode]).toEqual([201, 201]);
    const recorded = await recordedShards(dynamo(), table(), alice.tenant, collection);
    expect([3, 6]).toContain(recorded);
    for (const id of ['a', 'b']) expect((await storedItem(dynamo(), table(), alice.tenant, collection, id))?.pk).toBe(itemPartition(alice.tenant, collection, id, recorded!));
    forgetCollectionShards();
    expect((await walk(collection, {})).map((item) => item.id)).toEqual(['a', 'b']);
    expect((await stats(collection)).body.itemCount).toBe(2);
  });

  it('an import into a collection that has a count keeps it, also in a container that has not read it', async () => {
    vi.stubEnv('ITEM_SHARDS', '6');
    expect(await reserveImportShards(alice.tenant, 'second-import')).toBe(6);
    vi.stubEnv('ITEM_SHARDS', '3');
    forgetCollectionShards();
    expect(await reserveImportShards(alice.tenant, 'second-import')).toBe(6);
  });

  it('an import created before the first PUT fixes the count the PUT then uses', async () => {
    const collection = 'import-first';
    vi.stubEnv('ITEM_SHARDS', '9');
    const created = await invoke(importApiHandler, apiEvent({ routeKey: 'POST /imports', path: '/imports', claims: admin, body: { collection } }));
    expect(created.statusCode).toBe(201);
    forgetCollectionShards();
    vi.stubEnv('ITEM_SHARDS', '2');
    expect((await put(collection, 'p', {})).statusCode).toBe(201);
    expect(await recordedShards(dynamo(), table(), alice.tenant, collection)).toBe(9);
    expect((await storedItem(dynamo(), table(), alice.tenant, collection, 'p'))?.pk).toBe(itemPartition(alice.tenant, collection, 'p', 9));
  });
});
