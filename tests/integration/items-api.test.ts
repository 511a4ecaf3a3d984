/**
 * The items API contract (query and write flows), against the emulator: status codes,
 * bodies, tenant isolation, versions, pagination and filters.
 */
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { handler as queryHandler } from '../../functions/query/handler.ts';
import { handler as writeHandler } from '../../functions/write/handler.ts';
import { dynamo, sqs } from '../../functions/shared/aws-clients.ts';
import { DEFAULT_ITEM_SHARDS } from '../../functions/shared/config.ts';
import { collectionPartitions } from '../../functions/shared/items/keys.ts';
import type { ProvisionedStack } from '../../scripts/local/provision.ts';
import { apiEvent, invoke, type Claims } from '../support/invoke.ts';
import { provisionTestStack } from '../support/stack.ts';

const alice: Claims = { sub: 'alice', tenant: 'acme' };
const mallory: Claims = { sub: 'mallory', tenant: 'evil' };

let stack: ProvisionedStack;
beforeAll(async () => {
  stack = await provisionTestStack();
});

const itemPath = (collection: string, id: string) => ({ path: `/items/${collection}/${id}`, pathParameters: { collection, id } });

function putItem(claims: Claims | undefined, collection: string, id: string, body: string | object, headers: Record<string, string> = {}) {
  return invoke(writeHandler, apiEvent({ routeKey: 'PUT /items/{collection}/{id}', ...itemPath(collection, id), ...(claims ? { claims } : {}), body, headers }));
}
function patchItem(claims: Claims, collection: string, id: string, body: string | object, headers: Record<string, string> = {}) {
  return invoke(writeHandler, apiEvent({ routeKey: 'PATCH /items/{collection}/{id}', ...itemPath(collection, id), claims, body, headers }));
}
function deleteItem(claims: Claims, collection: string, id: string, headers: Record<string, string> = {}) {
  return invoke(writeHandler, apiEvent({ routeKey: 'DELETE /items/{collection}/{id}', ...itemPath(collection, id), claims, headers }));
}
function getItem(claims: Claims, collection: string, id: string) {
  return invoke(queryHandler, apiEvent({ routeKey: 'GET /items/{collection}/{id}', ...itemPath(collection, id), claims }));
}
function listItems(claims: Claims, collection: string, query: Record<string, string> = {}) {
  return invoke(queryHandler, apiEvent({ routeKey: 'GET /items/{collection}', path: `/items/${collection}`, pathParameters: { collection }, claims, query }));
}

async function countItemsInTable(): Promise<number> {
  const { Count = 0 } = await dynamo().send(new ScanCommand({ TableName: stack.tableName('data'), Select: 'COUNT' }));
  return Count;
}

describe('health', () => {
  it('answers ok without a token', async () => {
    const response = await invoke(queryHandler, apiEvent({ routeKey: 'GET /health', path: '/health' }));
    expect(response).toMatchObject({ statusCode: 200, body: { status: 'ok' } });
  });

  it('records no analytics event per call, only a HealthChecks count (an item read still records one)', async () => {
    // Metrics are EMF lines on stdout (shared/log.ts).
    const printed = vi.spyOn(process.stdout, 'write');
    try {
      for (let i = 0; i < 3; i++) await invoke(queryHandler, apiEvent({ routeKey: 'GET /health', path: '/health' }));
      // The control: an ordinary request's event does reach the analytics queue.
      await invoke(queryHandler, apiEvent({ routeKey: 'GET /items/{collection}/{id}', path: '/items/health-control/x', claims: alice, pathParameters: { collection: 'health-control', id: 'x' } }));
      const counts = printed.mock.calls.map(([line]) => String(line)).filter((line) => line.includes('"HealthChecks"'));
      printed.mockRestore();
      expect(counts.map((line) => (JSON.parse(line) as { HealthChecks: number }).HealthChecks)).toEqual([1, 1, 1]);
    } finally {
      printed.mockRestore();
    }
    const types: string[] = [];
    for (let empty = 0; empty < 2; ) {
      const { Messages = [] } = await (await sqs()).send(new ReceiveMessageCommand({ QueueUrl: stack.queueUrl('analytics'), MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      if (Messages.length === 0) empty++;
      for (const m of Messages) types.push((JSON.parse(m.Body!) as { detail: { detail: { type: string } } }).detail.detail.type);
    }
    expect(types).toContain('ITEM_GET');
    expect(types).not.toContain('HEALTH_CHECK');
  });
});

describe('PUT /items/{collection}/{id}', () => {
  it('creates with 201, then replaces with 200 and a new version, keeping createdAt', async () => {
    const created = await putItem(alice, 'books', 'dune', { title: 'Dune', year: 1965 });
    expect(created.statusCode).toBe(201);
    expect(created.body).toMatchObject({ collection: 'books', id: 'dune', data: { title: 'Dune', year: 1965 }, version: 1 });
    expect(created.headers.etag).toBe('"1"');

    const replaced = await putItem(alice, 'books', 'dune', { title: 'Dune Messiah' });
    expect(replaced.statusCode).toBe(200);
    expect(replaced.body).toMatchObject({ data: { title: 'Dune Messiah' }, version: 2, createdAt: created.body.createdAt });
    expect(replaced.body.data).not.toHaveProperty('year');
  });

  it('honours If-Match: 412 on another version, 200 on the current one', async () => {
    await putItem(alice, 'books', 'emma', { title: 'Emma' });
    const stale = await putItem(alice, 'books', 'emma', { title: 'x' }, { 'if-match': '"7"' });
    expect(stale.statusCode).toBe(412);
    expect(stale.body.error.code).toBe('PRECONDITION_FAILED');
    expect((await getItem(alice, 'books', 'emma')).body.data.title).toBe('Emma');

    const current = await putItem(alice, 'books', 'emma', { title: 'Emma (2nd ed.)' }, { 'if-match': '"1"' });
    expect(current).toMatchObject({ statusCode: 200, body: { version: 2 } });
  });

  it('answers 413 for a body over 350 KB and stores nothing', async () => {
    const before = await countItemsInTable();
    const response = await putItem(alice, 'books', 'huge', { text: 'x'.repeat(351 * 1024) });
    expect(response.statusCode).toBe(413);
    expect(response.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(await countItemsInTable()).toBe(before);
  });

  // Under 350 KB as JSON, over 400 KB as DynamoDB counts it (3 bytes a list, 1 an element, 2 a zero).
  const bodyOfAbout = (element: string, jsonBytes: number) => `{"a":[${Array.from({ length: Math.floor(jsonBytes / (element.length + 1)) }, () => element).join(',')}]}`;
  it.each([
    ['empty lists', bodyOfAbout('[]', 349 * 1024)],
    ['zeros', bodyOfAbout('0', 349 * 1024)],
  ])('answers 413 with the DynamoDB size for a body of %s under 350 KB that DynamoDB counts over 400 KB, and stores nothing', async (name, body) => {
    const grows = `grows-${name.replace(' ', '-')}`;
    expect(Buffer.byteLength(body)).toBeLessThan(350 * 1024);
    const before = await countItemsInTable();
    const response = await putItem(alice, 'books', 'dense', body);
    expect(response.statusCode).toBe(413);
    expect(response.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    const figure = Number(/would be (\d+) bytes/.exec(response.body.error.message)?.[1]);
    expect(figure).toBeGreaterThan(400 * 1024);
    expect(await countItemsInTable()).toBe(before);
    // A PATCH that would grow an item past the limit is refused the same way.
    expect((await putItem(alice, 'books', grows, { a: [] })).statusCode).toBe(201);
    const patched = await patchItem(alice, 'books', grows, body);
    expect(patched).toMatchObject({ statusCode: 413, body: { error: { code: 'PAYLOAD_TOO_LARGE' } } });
    expect((await getItem(alice, 'books', grows)).body).toMatchObject({ version: 1, data: { a: [] } });
  });

  it.each([
    ['malformed JSON', '{"title": ', 'INVALID_JSON', 'body'],
    ['a JSON array', '[1,2]', 'VALIDATION_FAILED', 'body'],
    ['JSON null', 'null', 'VALIDATION_FAILED', 'body'],
    ['an empty body', '', 'VALIDATION_FAILED', 'body'],
  ])('answers 400 for %s, naming the field', async (_name, body, code, field) => {
    const before = await countItemsInTable();
    const response = await putItem(alice, 'books', 'bad', body);
    expect(response.statusCode).toBe(400);
    expect(response.body.error).toMatchObject({ code, details: [expect.objectContaining({ field })] });
    expect(await countItemsInTable()).toBe(before);
  });

  it('answers 400 for ids and collections outside [A-Za-z0-9_.-]{1,128}', async () => {
    const badId = await putItem(alice, 'books', 'has space', { a: 1 });
    expect(badId.statusCode).toBe(400);
    expect(badId.body.error.details[0].field).toBe('path.id');
    const badCollection = await putItem(alice, 'x'.repeat(129), 'ok', { a: 1 });
    expect(badCollection.body.error.details[0].field).toBe('path.collection');
  });

  it('answers 400 for a malformed If-Match header', async () => {
    const response = await putItem(alice, 'books', 'dune', { a: 1 }, { 'if-match': 'yesterday' });
    expect(response.statusCode).toBe(400);
    expect(response.body.error.details[0].field).toBe('header.if-match');
  });

  it('answers 401 when no verified claims reach the function', async () => {
    const response = await putItem(undefined, 'books', 'anon', { a: 1 });
    expect(response.statusCode).toBe(401);
    expect(response.body.error.code).toBe('UNAUTHORIZED');
  });

  it('publishes ItemCreated and ItemUpdated with the version to the application bus', async () => {
    await putItem(alice, 'events', 'e1', { n: 1 });
    await putItem(alice, 'events', 'e1', { n: 2 });
    const { Messages = [] } = await (await sqs()).send(new ReceiveMessageCommand({ QueueUrl: stack.queueUrl('app-events'), MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    const details = Messages.map((m) => JSON.parse(m.Body ?? '{}')).filter((e) => e.detail.collection === 'events');
    expect(details.map((e) => [e['detail-type'], e.detail.id, e.detail.version])).toEqual(
      expect.arrayContaining([
        ['ItemCreated', 'e1', 1],
        ['ItemUpdated', 'e1', 2],
      ]),
    );
  });
});

describe('tenant isolation', () => {
  it('never shows or changes another tenant’s item: 404 for read, patch and delete', async () => {
    await putItem(alice, 'secrets', 'plan', { text: 'launch' });
    expect((await getItem(mallory, 'secrets', 'plan')).statusCode).toBe(404);
    expect((await patchItem(mallory, 'secrets', 'plan', { text: 'hacked' })).statusCode).toBe(404);
    expect((await deleteItem(mallory, 'secrets', 'plan')).statusCode).toBe(404);
    expect((await listItems(mallory, 'secrets')).body.items).toEqual([]);

    // Mallory's PUT creates Mallory's own item; Alice's stays as it was.
    expect((await putItem(mallory, 'secrets', 'plan', { text: 'mine' })).statusCode).toBe(201);
    expect((await getItem(alice, 'secrets', 'plan')).body.data.text).toBe('launch');
  });

  it('rejects a cursor made for another tenant', async () => {
    for (const id of ['a', 'b', 'c']) await putItem(alice, 'paged', id, { id });
    const page = await listItems(alice, 'paged', { limit: '1' });
    const stolen = await listItems(mallory, 'paged', { limit: '1', cursor: page.body.nextCursor });
    expect(stolen.statusCode).toBe(400);
    expect(stolen.body.error.details[0].field).toBe('query.cursor');
  });

  it('answers 403 for a token without a usable tenant claim', async () => {
    const response = await getItem({ sub: 'x', tenant: 'has#hash' }, 'books', 'dune');
    expect(response.statusCode).toBe(403);
  });
});

describe('PATCH /items/{collection}/{id}', () => {
  it('merges shallowly, removes fields set to null, and bumps the version', async () => {
    await putItem(alice, 'people', 'ann', { name: 'Ann', city: 'Oslo', tags: ['a'] });
    const patched = await patchItem(alice, 'people', 'ann', { city: 'Bergen', tags: null, age: 30 });
    expect(patched).toMatchObject({ statusCode: 200, body: { version: 2, data: { name: 'Ann', city: 'Bergen', age: 30 } } });
    expect(patched.body.data).not.toHaveProperty('tags');
  });

  it('answers 404 when missing and 412 on a stale If-Match', async () => {
    expect((await patchItem(alice, 'people', 'nobody', { a: 1 })).statusCode).toBe(404);
    await putItem(alice, 'people', 'bob', { name: 'Bob' });
    const stale = await patchItem(alice, 'people', 'bob', { name: 'Robert' }, { 'if-match': '"5"' });
    expect(stale.statusCode).toBe(412);
    expect((await getItem(alice, 'people', 'bob')).body.data.name).toBe('Bob');
  });
});

describe('DELETE /items/{collection}/{id}', () => {
  it('answers 204, then 404; If-Match guards it', async () => {
    await putItem(alice, 'tmp', 'x', { a: 1 });
    expect((await deleteItem(alice, 'tmp', 'x', { 'if-match': '"2"' })).statusCode).toBe(412);
    expect((await deleteItem(alice, 'tmp', 'x')).statusCode).toBe(204);
    expect((await deleteItem(alice, 'tmp', 'x')).statusCode).toBe(404);
    expect((await getItem(alice, 'tmp', 'x')).statusCode).toBe(404);
  });
});

describe('GET /items/{collection}', () => {
  const ids = Array.from({ length: 12 }, (_, i) => `item-${String(i).padStart(2, '0')}`);
  beforeAll(async () => {
    for (const [i, id] of ids.entries()) await putItem(alice, 'catalog', id, { colour: i % 3 === 0 ? 'red' : 'blue', rank: i, active: i % 2 === 0 });
  });

  async function collectAll(query: Record<string, string>): Promise<string[]> {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let guard = 0; guard < 50; guard++) {
      const page = await listItems(alice, 'catalog', { ...query, ...(cursor ? { cursor } : {}) });
      expect(page.statusCode).toBe(200);
      seen.push(...page.body.items.map((item: { id: string }) => item.id));
      cursor = page.body.nextCursor ?? undefined;
      if (!cursor) return seen;
    }
    throw new Error('pagination did not end');
  }

  it('pages through every item exactly once, with no cursor after the last page', async () => {
    expect(await collectAll({ limit: '5' })).toEqual(ids);
    const lastPage = await listItems(alice, 'catalog', { limit: '12' });
    expect(lastPage.body.items).toHaveLength(12);
    expect(lastPage.body.nextCursor).toBeNull();
  });

  it('defaults to 25 items and sorts by id ascending', async () => {
    const page = await listItems(alice, 'catalog');
    expect(page.body.items.map((i: { id: string }) => i.id)).toEqual(ids);
  });

  it('sorts by createdAt and updatedAt in both orders', async () => {
    expect(await collectAll({ sort: 'createdAt', order: 'desc', limit: '4' })).toEqual([...ids].reverse());
    await patchItem(alice, 'catalog', 'item-03', { touched: true });
    const byUpdate = await collectAll({ sort: 'updatedAt', order: 'desc', limit: '4' });
    expect(byUpdate[0]).toBe('item-03');
    expect([...byUpdate].sort()).toEqual(ids);
  });

  it('fills pages through equality filters on strings, numbers and booleans', async () => {
    const red = ids.filter((_, i) => i % 3 === 0);
    const firstPage = await listItems(alice, 'catalog', { 'filter.colour': 'red', limit: '3' });
    expect(firstPage.body.items).toHaveLength(3);
    expect(await collectAll({ 'filter.colour': 'red', limit: '3' })).toEqual(red);
    expect(await collectAll({ 'filter.rank': '7' })).toEqual(['item-07']);
    expect(await collectAll({ 'filter.active': 'true', 'filter.colour': 'red' })).toEqual(ids.filter((_, i) => i % 6 === 0));
  });

  it('lists sorted by time from indexes that hold keys only: whole items, filtered, paged', async () => {
    const { Table } = await new DynamoDBClient({}).send(new DescribeTableCommand({ TableName: stack.tableName('data') }));
    expect(Object.fromEntries((Table?.GlobalSecondaryIndexes ?? []).map((index) => [index.IndexName, index.Projection?.ProjectionType]))).toEqual({ byCreatedAt: 'KEYS_ONLY', byUpdatedAt: 'KEYS_ONLY' });
    const red = ids.filter((_, i) => i % 3 === 0);
    expect(await collectAll({ sort: 'createdAt', 'filter.colour': 'red', limit: '2' })).toEqual(red);
    expect(await collectAll({ sort: 'updatedAt', order: 'desc', 'filter.rank': '7' })).toEqual(['item-07']);
    const page = await listItems(alice, 'catalog', { sort: 'createdAt', limit: '1' });
    expect(page.body.items[0]).toMatchObject({ id: 'item-00', collection: 'catalog', version: 1, data: { colour: 'red', rank: 0, active: true } });
    expect(Object.keys(page.body.items[0]).sort()).toEqual(['collection', 'createdAt', 'data', 'id', 'updatedAt', 'version']);
  });

  it('treats filter names and values as data, not expression syntax', async () => {
    const injected = await listItems(alice, 'catalog', { 'filter.colour': "red' OR 1=1", limit: '5' });
    expect(injected).toMatchObject({ statusCode: 200, body: { items: [] } });
    const badField = await listItems(alice, 'catalog', { 'filter.colour) OR (#pk': 'x' });
    expect(badField.statusCode).toBe(400);
  });

  it.each([
    [{ limit: '0' }, 'query.limit'],
    [{ limit: '101' }, 'query.limit'],
    [{ limit: 'ten' }, 'query.limit'],
    [{ sort: 'price' }, 'query.sort'],
    [{ order: 'up' }, 'query.order'],
    [{ colour: 'red' }, 'query.colour'],
    [{ cursor: 'not-a-cursor' }, 'query.cursor'],
  ])('answers 400 for %o naming %s', async (query, field) => {
    const response = await listItems(alice, 'catalog', query);
    expect(response.statusCode).toBe(400);
    expect(response.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
  });

  it('rejects a cursor replayed against another sort order', async () => {
    const page = await listItems(alice, 'catalog', { limit: '2' });
    const replay = await listItems(alice, 'catalog', { limit: '2', order: 'desc', cursor: page.body.nextCursor });
    expect(replay.statusCode).toBe(400);
  });

  it('keeps list reads on the partition: a query never touches another collection', async () => {
    const found: Record<string, unknown>[] = [];
    for (const pk of collectionPartitions('acme', 'catalog', DEFAULT_ITEM_SHARDS)) {
      const { Items = [] } = await dynamo().send(new QueryCommand({ TableName: stack.tableName('data'), KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': pk } }));
      found.push(...Items);
    }
    expect(found.filter((i) => String(i.sk).startsWith('ITEM#'))).toHaveLength(ids.length);
  });
});
