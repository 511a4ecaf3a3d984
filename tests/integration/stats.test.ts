/**
 * Collection stats: PUT/DELETE count an item created or deleted in the write's own
 * transaction, so neither copies of their events (with fresh envelope ids) nor events lost
 * after the write change the count; imports add only the items they created; the events
 * (ItemCreated/ItemUpdated/ItemDeleted) move lastWriteAt forward.
 */
import { randomUUID } from 'node:crypto';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as appEvents } from '../../functions/app-events/handler.ts';
import { handler as importApi } from '../../functions/import-api/handler.ts';
import { handler as importWorker } from '../../functions/import/handler.ts';
import { drainAfterResponseTasks } from '../../functions/shared/after-response.ts';
import { getCollectionStats } from '../../functions/shared/items/repository.ts';
import { handler as write } from '../../functions/write/handler.ts';
import { startEventSourceMapping, type EventSourceMapping } from '../../scripts/local/event-source-mapping.ts';
import { clientConfig, type ProvisionedStack } from '../../scripts/local/provision.ts';
import { apiEvent, invoke, lambdaContext, type Claims } from '../support/invoke.ts';
import { awsEndpoint, provisionTestStack, region } from '../support/stack.ts';

const admin: Claims = { sub: 'alice', tenant: 'acme', scope: 'items admin' };
let stack: ProvisionedStack;
let sqs: SQSClient;
const mappings: EventSourceMapping[] = [];
const processed: string[] = [];

beforeAll(async () => {
  stack = await provisionTestStack({ visibilityTimeoutSeconds: 2 });
  process.env.ANALYTICS_ENABLED = 'false';
  sqs = new SQSClient(clientConfig({ endpoint: awsEndpoint(), region }));
  const consumer = (queue: 'import' | 'app-events', fn: (event: SQSEvent) => Promise<unknown>) =>
    startEventSourceMapping({
      sqs,
      queueUrl: stack.queueUrl(queue),
      fn: { functionName: queue, memoryMb: 1024, timeoutSeconds: 30, handler: (event) => fn(event as SQSEvent) },
      batchSize: 10,
      batchingWindowSeconds: 0,
      maximumConcurrency: 1,
      idleWaitSeconds: 1,
      afterInvocation: () => void drainAfterResponseTasks(),
      log: () => undefined,
    });
  mappings.push(consumer('import', (event) => importWorker(event, lambdaContext('import'))));
  mappings.push(
    consumer('app-events', (event) => {
      for (const record of event.Records) processed.push(record.body);
      return appEvents(event, lambdaContext('app-events'));
    }),
  );
});
afterAll(async () => {
  await Promise.all(mappings.map((m) => m.stop()));
  delete process.env.ANALYTICS_ENABLED;
});

const put = (collection: string, id: string, data: object) =>
  invoke(write, apiEvent({ routeKey: 'PUT /items/{collection}/{id}', path: `/items/${collection}/${id}`, claims: admin, pathParameters: { collection, id }, body: data }));
const remove = (collection: string, id: string) =>
  invoke(write, apiEvent({ routeKey: 'DELETE /items/{collection}/{id}', path: `/items/${collection}/${id}`, claims: admin, pathParameters: { collection, id } }));

async function statsSettle(collection: string, expected: number, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  let stats = await getCollectionStats('acme', collection);
  while (stats.itemCount !== expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    stats = await getCollectionStats('acme', collection);
  }
  return stats;
}

describe('collection stats', () => {
  it('count creates and deletes, not replacements; lastWriteAt follows the latest write', async () => {
    for (let i = 0; i < 6; i++) expect((await put('notes', `n${i}`, { i })).statusCode).toBe(201);
    expect((await put('notes', 'n0', { i: 'again' })).statusCode).toBe(200);
    expect((await remove('notes', 'n5')).statusCode).toBe(204);
    const stats = await statsSettle('notes', 5);
    expect(stats.itemCount).toBe(5);
    // Let the rest of the events (the update) arrive, then it still holds.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await getCollectionStats('acme', 'notes')).itemCount).toBe(5);
    expect(stats.lastWriteAt).toEqual(expect.any(String));
  });

  it('an event delivered twice is counted once', async () => {
    expect((await put('twice', 'a', { x: 1 })).statusCode).toBe(201);
    await statsSettle('twice', 1);
    const delivered = processed.find((body) => /"collection":\s*"twice"/.test(body));
    expect(delivered).toBeDefined();
    await sqs.send(new SendMessageCommand({ QueueUrl: stack.queueUrl('app-events'), MessageBody: delivered! }));
    // Wait until the app-events function has seen the copy, then the count is unchanged.
    const seen = () => processed.filter((body) => body === delivered).length;
    const deadline = Date.now() + 10_000;
    while (seen() < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(seen()).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await getCollectionStats('acme', 'twice')).itemCount).toBe(1);
  });

  it('copies of an event with fresh envelope ids (publisher retries, DLQ fallback) do not change the count', async () => {
    // Created: count 1; three copies of its ItemCreated.  Deleted: count 1; three copies of its ItemDeleted.
    expect((await put('copies-created', 'a', { x: 1 })).statusCode).toBe(201);
    expect((await put('copies-deleted', 'a', { x: 1 })).statusCode).toBe(201);
    expect((await put('copies-deleted', 'b', { x: 1 })).statusCode).toBe(201);
    expect((await remove('copies-deleted', 'b')).statusCode).toBe(204);
    await statsSettle('copies-created', 1);
    await statsSettle('copies-deleted', 1);
    const envelopeOf = async (collection: string, type: string) => {
      const matches = (body: string) => new RegExp(`"collection":\\s*"${collection}"`).test(body) && new RegExp(`"detail-type":\\s*"${type}"`).test(body);
      const deadline = Date.now() + 10_000;
      while (!processed.some(matches) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      const body = processed.find(matches);
      expect(body, `${type} of ${collection} was delivered`).toBeDefined();
      return JSON.parse(body!) as Record<string, unknown>;
    };
    const originals = [await envelopeOf('copies-created', 'ItemCreated'), await envelopeOf('copies-deleted', 'ItemDeleted')];
    const copies = originals.flatMap((envelope) => Array.from({ length: 3 }, () => JSON.stringify({ ...envelope, id: randomUUID() })));
    for (const copy of copies) await sqs.send(new SendMessageCommand({ QueueUrl: stack.queueUrl('app-events'), MessageBody: copy }));
    const deadline = Date.now() + 10_000;
    while (copies.some((copy) => !processed.includes(copy)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(copies.filter((copy) => processed.includes(copy))).toHaveLength(copies.length);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const counts = { created: (await getCollectionStats('acme', 'copies-created')).itemCount, deleted: (await getCollectionStats('acme', 'copies-deleted')).itemCount };
    expect(counts).toEqual({ created: 1, deleted: 1 });
  });

  it('writes whose events are lost after the write (function died, nothing delivered) are still counted', async () => {
    // No bus and no fallback queue: every event of these writes ends as a log line, nowhere else.
    const saved = { bus: process.env.APP_BUS_NAME, dlq: process.env.APP_EVENTS_DLQ_URL };
    process.env.APP_BUS_NAME = 'no-such-bus';
    delete process.env.APP_EVENTS_DLQ_URL;
    try {
      expect((await put('lost-events', 'a', { x: 1 })).statusCode).toBe(201);
      expect((await put('lost-events', 'b', { x: 1 })).statusCode).toBe(201);
      expect((await put('lost-events', 'c', { x: 1 })).statusCode).toBe(201);
      expect((await remove('lost-events', 'c')).statusCode).toBe(204);
    } finally {
      process.env.APP_BUS_NAME = saved.bus;
      if (saved.dlq) process.env.APP_EVENTS_DLQ_URL = saved.dlq;
    }
    expect((await getCollectionStats('acme', 'lost-events')).itemCount).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await getCollectionStats('acme', 'lost-events')).itemCount).toBe(2);
    expect(processed.some((body) => body.includes('"collection":"lost-events"'))).toBe(false);
  });

  it('match after writes, deletes and imports together', async () => {
    for (let i = 0; i < 5; i++) await put('mixed', `m${i}`, { i });
    await remove('mixed', 'm4');
    // Import 30 items of which 3 (m0..m2) exist already: 27 new.
    const items = [...[0, 1, 2].map((i) => ({ id: `m${i}`, data: { imported: true } })), ...Array.from({ length: 27 }, (_, i) => ({ id: `x${i}`, data: { i } }))];
    const created = await invoke(importApi, apiEvent({ routeKey: 'POST /imports', path: '/imports', claims: admin, body: { collection: 'mixed', items } }));
    expect(created.statusCode).toBe(201);
    const importId: string = created.body.importId;
    const status = () =>
      invoke(importApi, apiEvent({ routeKey: 'GET /imports/{importId}', path: `/imports/${importId}`, claims: admin, pathParameters: { importId } }));
    const deadline = Date.now() + 15_000;
    while ((await status()).body.status !== 'COMPLETED' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await status()).body).toMatchObject({ status: 'COMPLETED', created: 27, replaced: 3 });
    expect((await remove('mixed', 'x0')).statusCode).toBe(204);
    const stats = await statsSettle('mixed', 4 + 27 - 1);
    expect(stats.itemCount).toBe(30);
  });
});
