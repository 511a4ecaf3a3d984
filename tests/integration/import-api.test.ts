/**
 * The import API end to end on the emulator: API → import queue → worker → table, the app
 * bus → app-events queue → app-events function finishing the job. Handlers are invoked the way
 * API Gateway and the SQS event source mapping invoke them.
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as appEvents } from '../../functions/app-events/handler.ts';
import { handler as importApi } from '../../functions/import-api/handler.ts';
import { handler as importWorker } from '../../functions/import/handler.ts';
import { drainAfterResponseTasks } from '../../functions/shared/after-response.ts';
import { getJob } from '../../functions/shared/imports/jobs.ts';
import { MAX_CHUNKS_PER_JOB } from '../../functions/shared/imports/limits.ts';
import { dynamo } from '../../functions/shared/aws-clients.ts';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { getCollectionStats, getItem } from '../../functions/shared/items/repository.ts';
import { startEventSourceMapping, type EventSourceMapping } from '../../scripts/local/event-source-mapping.ts';
import { clientConfig, type ProvisionedStack } from '../../scripts/local/provision.ts';
import { apiEvent, invoke, lambdaContext, type Claims } from '../support/invoke.ts';
import { awsEndpoint, provisionTestStack, region } from '../support/stack.ts';

const admin: Claims = { sub: 'alice', tenant: 'acme', scope: 'items admin' };
const otherAdmin: Claims = { sub: 'mallory', tenant: 'globex', scope: 'admin' };
const user: Claims = { sub: 'bob', tenant: 'acme', scope: 'items' };

let stack: ProvisionedStack;
const mappings: EventSourceMapping[] = [];

beforeAll(async () => {
  stack = await provisionTestStack({ visibilityTimeoutSeconds: 2 });
  process.env.ANALYTICS_ENABLED = 'false';
  const sqs = new SQSClient(clientConfig({ endpoint: awsEndpoint(), region }));
  const consumer = (queue: 'import' | 'app-events', fn: (event: SQSEvent) => Promise<unknown>) =>
    startEventSourceMapping({
      sqs,
      queueUrl: stack.queueUrl(queue),
      fn: { functionName: queue, memoryMb: 1024, timeoutSeconds: 30, handler: (event) => fn(event as SQSEvent) },
      batchSize: 10,
      batchingWindowSeconds: 0,
      maximumConcurrency: queue === 'import' ? 4 : 2,
      idleWaitSeconds: 1,
      afterInvocation: () => void drainAfterResponseTasks(),
      log: () => undefined,
    });
  mappings.push(consumer('import', (event) => importWorker(event, lambdaContext('import'))));
  mappings.push(consumer('app-events', (event) => appEvents(event, lambdaContext('app-events'))));
});
afterAll(async () => {
  await Promise.all(mappings.map((m) => m.stop()));
  delete process.env.ANALYTICS_ENABLED;
});

const call = (routeKey: string, options: { claims?: Claims; importId?: string; body?: object; query?: Record<string, string> } = {}) => {
  const path = routeKey.split(' ')[1]!.replace('{importId}', options.importId ?? '');
  return invoke(importApi, apiEvent({
    routeKey,
    path,
    claims: options.claims ?? admin,
    ...(options.importId ? { pathParameters: { importId: options.importId } } : {}),
    ...(options.body ? { body: options.body } : {}),
    ...(options.query ? { query: options.query } : {}),
  }));
};

const items = (prefix: string, from: number, to: number) => Array.from({ length: to - from }, (_, i) => ({ id: `${prefix}${from + i}`, data: { n: from + i, tag: 'bulk' } }));

async function waitFor(importId: string, onStatus?: (body: Record<string, unknown>) => void, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await call('GET /imports/{importId}', { importId });
    onStatus?.(response.body);
    if (!['OPEN', 'PROCESSING', 'STALLED'].includes(response.body.status)) return response.body;
    if (Date.now() > deadline) throw new Error(`import ${importId} still ${response.body.status}: ${JSON.stringify(response.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('import API', () => {
  it('is for admin tokens only', async () => {
    expect((await call('POST /imports', { claims: user, body: { collection: 'x' } })).statusCode).toBe(403);
  });

  it('validates the request', async () => {
    expect((await call('POST /imports', { body: { collection: 'bad name' } })).statusCode).toBe(400);
    expect((await call('POST /imports', { body: { collection: 'c', items: items('a', 0, 1001) } })).statusCode).toBe(400);
    expect((await call('GET /imports/{importId}', { importId: 'not-a-uuid' })).statusCode).toBe(400);
  });

  it('imports 2,000 items in chunks; idempotent chunks, monotonic progress, exact stats', async () => {
    const created = await call('POST /imports', { body: { collection: 'bulk' } });
    expect(created.statusCode).toBe(201);
    expect(created.body.status).toBe('OPEN');
    const importId: string = created.body.importId;

    // Another tenant's admin cannot see or feed it.
    expect((await call('GET /imports/{importId}', { importId, claims: otherAdmin })).statusCode).toBe(404);
    expect((await call('POST /imports/{importId}/items', { importId, claims: otherAdmin, body: { items: [] } })).statusCode).toBe(404);

    const chunk0 = [...items('i', 0, 998), { id: 'bad id!', data: {} }, { id: 'nodata' }];
    const first = await call('POST /imports/{importId}/items', { importId, body: { chunkId: 'c0', items: chunk0 } });
    expect(first.statusCode).toBe(202);
    expect(first.body).toMatchObject({ chunkId: 'c0', accepted: 998, replayed: false });
    expect(first.body.rejected).toEqual([
      { index: 998, id: 'bad id!', reason: expect.stringContaining('id must be') },
      { index: 999, id: 'nodata', reason: 'data must be a JSON object' },
    ]);
    // The same chunk again (a client retrying after a lost response): acknowledged, nothing queued.
    const again = await call('POST /imports/{importId}/items', { importId, body: { chunkId: 'c0', items: chunk0 } });
    expect(again.body).toMatchObject({ chunkId: 'c0', accepted: 998, replayed: true });
    expect(again.body.rejected).toHaveLength(2);
    // The same chunkId with other content is refused.
    expect((await call('POST /imports/{importId}/items', { importId, body: { chunkId: 'c0', items: items('z', 0, 3) } })).statusCode).toBe(409);

    const second = await call('POST /imports/{importId}/items', { importId, body: { chunkId: 'c1', items: items('i', 998, 1998) } });
    expect(second.body).toMatchObject({ accepted: 1000, rejected: [] });
    expect((await call('POST /imports/{importId}/items', { importId, body: { items: items('i', 1998, 2000) } })).body).toMatchObject({ accepted: 2 });

    const job = await getJob('acme', importId);
    // Messages of ≤ 98 items: 998 → 11, 1000 → 11, 2 → 1.
    expect(job).toMatchObject({ total: 2000, rejected: 2, batchesTotal: 11 + 11 + 1, chunks: 3 });

    expect((await call('POST /imports/{importId}/commit', { importId })).statusCode).toBe(202);
    expect((await call('POST /imports/{importId}/items', { importId, body: { chunkId: 'c2', items: items('late', 0, 1) } })).statusCode).toBe(409);

    const seen: number[] = [];
    const final = await waitFor(importId, (body) => seen.push(body.processed as number));
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]!);
    expect(final).toMatchObject({ status: 'COMPLETED_WITH_ERRORS', collection: 'bulk', total: 2000, processed: 2000, succeeded: 2000, failed: 0, rejected: 2, created: 2000, replaced: 0 });
    expect(final.completedAt).toEqual(expect.any(String));
    expect(await getItem({ tenant: 'acme', collection: 'bulk', id: 'i1999' })).toMatchObject({ version: 1, data: { n: 1999, tag: 'bulk' } });
    expect((await getCollectionStats('acme', 'bulk')).itemCount).toBe(2000);

    const failures = await call('GET /imports/{importId}/failures', { importId });
    expect(failures.body).toEqual({ failures: [], nextCursor: null });
  });

  it('POST /imports with items commits at once and completes', async () => {
    const created = await call('POST /imports', { body: { collection: 'small', items: items('s', 0, 60) } });
    expect(created.statusCode).toBe(201);
    expect(created.body).toMatchObject({ accepted: 60, rejected: [] });
    const final = await waitFor(created.body.importId);
    expect(final).toMatchObject({ status: 'COMPLETED', total: 60, succeeded: 60 });
    // Importing the same ids again replaces them: no new items in the stats.
    const again = await call('POST /imports', { body: { collection: 'small', items: items('s', 0, 60) } });
    expect(await waitFor(again.body.importId)).toMatchObject({ status: 'COMPLETED', created: 0, replaced: 60 });
    expect(await getItem({ tenant: 'acme', collection: 'small', id: 's7' })).toMatchObject({ version: 2 });
    expect((await getCollectionStats('acme', 'small')).itemCount).toBe(60);
  });

  it('items over SQS\'s old 256 KB message limit go through: one 1 MiB message carries three of 300 KB', async () => {
    const large = (id: string) => ({ id, data: { blob: 'x'.repeat(300 * 1024) } });
    const created = await call('POST /imports', { body: { collection: 'large', items: [large('l0'), large('l1'), large('l2')] } });
    expect(created.statusCode).toBe(201);
    expect(created.body).toMatchObject({ accepted: 3, rejected: [] });
    expect(await waitFor(created.body.importId)).toMatchObject({ status: 'COMPLETED', total: 3, succeeded: 3, failed: 0 });
    const stored = await getItem({ tenant: 'acme', collection: 'large', id: 'l2' });
    expect(JSON.stringify(stored?.data).length).toBeGreaterThan(300 * 1024);
  });

  it('1,000 items with 128-character CJK ids: every one rejected, the job finishes', async () => {
    const cjkId = (i: number) => String.fromCodePoint(0x4e00 + i) + '字'.repeat(127);
    const body = { items: Array.from({ length: 1000 }, (_, i) => ({ id: cjkId(i), data: { n: i } })) };
    expect(Buffer.byteLength(JSON.stringify(body))).toBeGreaterThan(400 * 1024);
    const { body: created } = await call('POST /imports', { body: { collection: 'cjk' } });
    const importId: string = created.importId;
    const response = await call('POST /imports/{importId}/items', { importId, body: { chunkId: 'cjk', ...body } });
    expect(response.statusCode).toBe(202);
    expect(response.body.accepted).toBe(0);
    expect(response.body.rejected).toHaveLength(1000);
    const last = response.body.rejected[999];
    expect(last).toMatchObject({ index: 999, reason: expect.stringContaining('id must be') });
    // The echoed id is cut to 128 bytes of UTF-8 on a character boundary.
    expect(cjkId(999).startsWith(last.id)).toBe(true);
    expect(Buffer.byteLength(last.id)).toBeLessThanOrEqual(128);
    // The replay recomputes the same answer from the same items.
    const replay = await call('POST /imports/{importId}/items', { importId, body: { chunkId: 'cjk', ...body } });
    expect(replay.body).toMatchObject({ replayed: true, accepted: 0 });
    expect(replay.body.rejected).toEqual(response.body.rejected);
    expect((await call('POST /imports/{importId}/commit', { importId })).statusCode).toBe(202);
    expect(await waitFor(importId)).toMatchObject({ status: 'FAILED', total: 0, rejected: 1000 });
  });

  it('a chunk whose queueing failed: the 503 names its chunkId, the job reads STALLED with the reason, resending it finishes the job', async () => {
    const { body: created } = await call('POST /imports', { body: { collection: 'requeue' } });
    const importId: string = created.importId;
    const queueUrl = process.env.IMPORT_QUEUE_URL;
    process.env.IMPORT_QUEUE_URL = `${queueUrl}-gone`;
    let failed;
    try {
      failed = await call('POST /imports/{importId}/items', { importId, body: { items: items('q', 0, 5) } }); // no chunkId: the server makes one
    } finally {
      process.env.IMPORT_QUEUE_URL = queueUrl;
    }
    expect(failed.statusCode).toBe(503);
    const chunkId: string = failed.body.error.details?.[0]?.value;
    expect(chunkId).toEqual(expect.any(String));
    expect(failed.body.error.message).toContain(chunkId);
    expect((await call('POST /imports/{importId}/commit', { importId })).statusCode).toBe(202);

    process.env.IMPORT_STALL_AFTER_SECONDS = '1';
    try {
      await new Promise((resolve) => setTimeout(resolve, 1200));
      const stalled = await call('GET /imports/{importId}', { importId });
      expect(stalled.body).toMatchObject({ status: 'STALLED', statusReason: expect.stringContaining(chunkId) });
    } finally {
      delete process.env.IMPORT_STALL_AFTER_SECONDS;
    }
    const resent = await call('POST /imports/{importId}/items', { importId, body: { chunkId, items: items('q', 0, 5) } });
    expect(resent).toMatchObject({ statusCode: 202, body: { chunkId, accepted: 5, replayed: true } });
    expect(await waitFor(importId)).toMatchObject({ status: 'COMPLETED', succeeded: 5 });
  });

  it('cancel: CANCELLED, no more chunks, repeating is harmless, a finished job cannot be cancelled', async () => {
    const { body: created } = await call('POST /imports', { body: { collection: 'cancelled' } });
    const importId: string = created.importId;
    expect((await call('POST /imports/{importId}/items', { importId, body: { chunkId: 'c0', items: items('k', 0, 3) } })).statusCode).toBe(202);
    const cancelled = await call('POST /imports/{importId}/cancel', { importId });
    expect(cancelled).toMatchObject({ statusCode: 202, body: { importId, status: 'CANCELLED', statusReason: expect.any(String), completedAt: expect.any(String) } });
    expect((await call('POST /imports/{importId}/items', { importId, body: { chunkId: 'c1', items: items('k', 3, 4) } })).statusCode).toBe(409);
    expect((await call('POST /imports/{importId}/cancel', { importId })).body.status).toBe('CANCELLED');
    expect((await call('GET /imports/{importId}', { importId })).body.status).toBe('CANCELLED');
    expect((await call('POST /imports/{importId}/cancel', { importId, claims: otherAdmin })).statusCode).toBe(404);

    const done = await call('POST /imports', { body: { collection: 'cancelled', items: items('d', 0, 2) } });
    await waitFor(done.body.importId);
    expect((await call('POST /imports/{importId}/cancel', { importId: done.body.importId })).statusCode).toBe(409);
  });

  it('a job takes at most MAX_CHUNKS_PER_JOB chunks, so its record of chunkIds stays far under 400 KB', async () => {
    const { body: created } = await call('POST /imports', { body: { collection: 'many-chunks' } });
    const importId: string = created.importId;
    // As if 1,500 chunks with 128-character ids had been attached already.
    const ids = new Set(Array.from({ length: MAX_CHUNKS_PER_JOB }, (_, i) => `${String(i).padStart(4, '0')}${'c'.repeat(124)}`));
    await dynamo().send(new UpdateCommand({ TableName: stack.tableName('data'), Key: { pk: `TENANT#acme#IMPORT#${importId}`, sk: 'JOB' }, UpdateExpression: 'ADD chunkIds :ids', ExpressionAttributeValues: { ':ids': ids } }));
    const refused = await call('POST /imports/{importId}/items', { importId, body: { chunkId: 'one-more', items: items('m', 0, 1) } });
    expect(refused).toMatchObject({ statusCode: 409, body: { error: { code: 'CONFLICT', message: expect.stringContaining(`${MAX_CHUNKS_PER_JOB} chunks`) } } });
    const { Item } = await dynamo().send(new GetCommand({ TableName: stack.tableName('data'), Key: { pk: `TENANT#acme#IMPORT#${importId}`, sk: 'CHUNK#one-more' } }));
    expect(Item).toBeUndefined(); // taken back
  });

  it('an empty job completes on commit', async () => {
    const created = await call('POST /imports', { body: { collection: 'empty' } });
    const committed = await call('POST /imports/{importId}/commit', { importId: created.body.importId });
    expect(committed.body).toMatchObject({ importId: created.body.importId, status: 'COMPLETED' });
  });
});
