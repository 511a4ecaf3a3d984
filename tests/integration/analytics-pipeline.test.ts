/**
 * The whole analytics path against the emulator: requests through the real query, write
 * and analytics-api handlers → after-response delivery to the analytics bus → rule →
 * analytics queue → processor → table → the analytics API's reads. N requests produce
 * exactly N stored events with their durations, statuses and errorTypes.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { readDayEvents } from '../../functions/shared/analytics/store.ts';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as analyticsHandler } from '../../functions/analytics/handler.ts';
import { handler as analyticsApi } from '../../functions/analytics-api/handler.ts';
import { handler as queryHandler } from '../../functions/query/handler.ts';
import { handler as writeHandler } from '../../functions/write/handler.ts';
import { drainAfterResponseTasks } from '../../functions/shared/after-response.ts';
import { setAwsClients } from '../../functions/shared/aws-clients.ts';
import { toSqsRecord } from '../../scripts/local/event-source-mapping.ts';
import { clientConfig, type ProvisionedStack } from '../../scripts/local/provision.ts';
import { apiEvent, lambdaContext, type Claims } from '../support/invoke.ts';
import { awsEndpoint, provisionTestStack, region } from '../support/stack.ts';

type Handler = (event: APIGatewayProxyEventV2WithJWTAuthorizer, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

let stack: ProvisionedStack;
let sqs: SQSClient;
let db: DynamoDBDocumentClient;

beforeAll(async () => {
  stack = await provisionTestStack();
  setAwsClients({});
  sqs = new SQSClient(clientConfig({ endpoint: awsEndpoint(), region }));
  db = DynamoDBDocumentClient.from(new DynamoDBClient(clientConfig({ endpoint: awsEndpoint(), region })));
});

interface Call {
  requestId: string;
  statusCode: number;
  wallMs: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed JSON response of any route
}

async function call(handler: Handler, functionName: string, event: APIGatewayProxyEventV2WithJWTAuthorizer): Promise<Call> {
  const context = lambdaContext(functionName);
  const started = performance.now();
  const result = await handler(event, context);
  const wallMs = performance.now() - started;
  return { requestId: context.awsRequestId, statusCode: result.statusCode ?? 200, wallMs, body: result.body ? JSON.parse(result.body) : undefined };
}

/** Runs the processor over the analytics queue like the event source mapping, until `expected` messages were handled. */
async function pumpAnalytics(expected: number): Promise<number> {
  let handled = 0;
  let idle = 0;
  const url = stack.queueUrl('analytics');
  const arn = `arn:aws:sqs:${region}:123456789012:${url.split('/').pop()}`;
  // moto routes PutEvents to the queue synchronously, so one idle receive means the queue is drained.
  while (handled < expected && idle < 1) {
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['All'] }));
    if (Messages.length === 0) {
      idle++;
      continue;
    }
    idle = 0;
    const result = await analyticsHandler({ Records: Messages.map((m) => toSqsRecord(m, arn, region)) });
    const failed = new Set(result.batchItemFailures.map((f) => f.itemIdentifier));
    const done: Message[] = Messages.filter((m) => !failed.has(m.MessageId!));
    if (done.length) await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: done.map((m, n) => ({ Id: String(n), ReceiptHandle: m.ReceiptHandle! })) }));
    handled += done.length;
  }
  return handled;
}

async function storedFor(tenant: string): Promise<Array<Record<string, any>>> { // eslint-disable-line @typescript-eslint/no-explicit-any -- DynamoDB items
  const day = new Date().toISOString().slice(0, 10);
  return (await readDayEvents(tenant, day)) as Array<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any -- as above
}

describe('analytics pipeline', () => {
  const tenant = `acme-${randomUUID().slice(0, 6)}`;
  const alice: Claims = { sub: 'alice', tenant, scope: 'items' };
  const admin: Claims = { sub: 'root', tenant, scope: 'admin' };
  const calls: Array<Call & { expectType: string; expectErrorType?: string }> = [];

  it('N requests through the query and write handlers become exactly N stored events', async () => {
    for (let i = 0; i < 5; i++) {
      const id = `n${i}`;
      const put = await call(writeHandler, 'write', apiEvent({ routeKey: 'PUT /items/{collection}/{id}', path: `/items/notes/${id}`, pathParameters: { collection: 'notes', id }, claims: alice, body: { title: `note ${i}`, owner: 'alice@example.com' } }));
      expect(put.statusCode).toBe(201);
      calls.push({ ...put, expectType: 'ITEM_PUT' });
      const get = await call(queryHandler, 'query', apiEvent({ routeKey: 'GET /items/{collection}/{id}', path: `/items/notes/${id}`, pathParameters: { collection: 'notes', id }, claims: alice }));
      expect(get.statusCode).toBe(200);
      calls.push({ ...get, expectType: 'ITEM_GET' });
    }
    const missing = await call(queryHandler, 'query', apiEvent({ routeKey: 'GET /items/{collection}/{id}', path: '/items/notes/nope', pathParameters: { collection: 'notes', id: 'nope' }, claims: alice }));
    expect(missing.statusCode).toBe(404);
    calls.push({ ...missing, expectType: 'ITEM_GET', expectErrorType: 'NOT_FOUND' });
    const bad = await call(writeHandler, 'write', apiEvent({ routeKey: 'PUT /items/{collection}/{id}', path: '/items/notes/x', pathParameters: { collection: 'notes', id: 'x' }, claims: alice, body: '{not json' }));
    expect(bad.statusCode).toBe(400);
    calls.push({ ...bad, expectType: 'ITEM_PUT', expectErrorType: 'VALIDATION_ERROR' });

    // The responses are out; delivery happens now, as after a real response.
    await drainAfterResponseTasks();
    expect(await pumpAnalytics(calls.length)).toBe(calls.length);

    const stored = await storedFor(tenant);
    expect(stored).toHaveLength(calls.length);
    for (const c of calls) {
      const matches = stored.filter((s) => s.event.requestId === c.requestId);
      expect(matches, `exactly one event for request ${c.requestId}`).toHaveLength(1);
      const s = matches[0]!;
      expect(s.eventType).toBe(`${c.expectType}_ANALYTICS`);
      expect(s.event.detail.metadata.properties.statusCode).toBe(c.statusCode);
      expect(s.status).toBe(c.statusCode < 400 ? 'SUCCESS' : 'FAILURE');
      expect(s.errorType).toBe(c.expectErrorType);
      expect(s.durationMs).toBeGreaterThan(0);
      expect(s.durationMs).toBeLessThanOrEqual(c.wallMs + 0.01);
      expect(s.event.detail.userId).toBe('alice');
      expect(typeof s.expiresAt).toBe('number');
      expect(JSON.stringify(s)).not.toContain('alice@example.com');
    }
  });

  const get = (routeKey: string, path: string, claims: Claims, query?: Record<string, string>, pathParameters?: Record<string, string>) =>
    call(analyticsApi, 'analytics-api', apiEvent({ routeKey, path, claims, ...(query ? { query } : {}), ...(pathParameters ? { pathParameters } : {}) }));

  it('summarises the tenant from aggregates: totals, failures, error rate, percentiles, breakdowns', async () => {
    // An aggregate past its TTL that DynamoDB has not deleted yet: never counted.
    const now = new Date();
    await db.send(
      new PutCommand({
        TableName: stack.tableName('analytics'),
        Item: { pk: `AGG#${tenant}#${now.toISOString().slice(0, 10)}`, sk: `MINUTE#${now.toISOString().slice(11, 16)}#OLD_ANALYTICS#QUERY#-`, bucket: now.toISOString().slice(0, 16), eventType: 'OLD_ANALYTICS', category: 'QUERY', errorType: '-', count: 100, expiresAt: Math.floor(Date.now() / 1000) - 10 },
      }),
    );
    const res = await get('GET /analytics/summary', '/analytics/summary', admin, { from: new Date(Date.now() - 3_600_000).toISOString() });
    expect(res.statusCode).toBe(200);
    expect(res.body.totals).toMatchObject({ count: 12, failures: 2, errorRate: 0.167 });
    const durations = calls.map((c) => c.wallMs).sort((a, b) => a - b);
    expect(res.body.totals.duration.p50).toBeGreaterThan(0);
    expect(res.body.totals.duration.p99).toBeLessThanOrEqual(durations.at(-1)! * 1.05);
    expect(res.body.totals.duration.p50).toBeLessThanOrEqual(res.body.totals.duration.p95);
    const byType = Object.fromEntries(res.body.byEventType.map((g: { eventType: string; count: number }) => [g.eventType, g.count]));
    expect(byType).toEqual({ ITEM_PUT_ANALYTICS: 6, ITEM_GET_ANALYTICS: 6 });
    expect(res.body.byErrorType).toEqual(expect.arrayContaining([{ errorType: 'NOT_FOUND', count: 1 }, { errorType: 'VALIDATION_ERROR', count: 1 }]));
    expect(res.body.byCategory.map((g: { category: string }) => g.category).sort()).toEqual(['QUERY', 'USER_ACTION']);

    const filtered = await get('GET /analytics/summary', '/analytics/summary', admin, { eventType: 'ITEM_GET', category: 'QUERY' });
    expect(filtered.body.totals).toMatchObject({ count: 6, failures: 1 });
  });

  it('serves a time series of counts, errors and p95 per minute or hour', async () => {
    const from = new Date(Date.now() - 30 * 60_000).toISOString();
    const counts = await get('GET /analytics/timeseries', '/analytics/timeseries', admin, { metric: 'count', interval: 'minute', from });
    expect(counts.statusCode).toBe(200);
    expect(counts.body.points.length).toBeGreaterThanOrEqual(30);
    expect(counts.body.points.reduce((s: number, p: { value: number }) => s + p.value, 0)).toBe(12);
    const errors = await get('GET /analytics/timeseries', '/analytics/timeseries', admin, { metric: 'errors', interval: 'hour' });
    expect(errors.body.points.reduce((s: number, p: { value: number }) => s + p.value, 0)).toBe(2);
    const p95 = await get('GET /analytics/timeseries', '/analytics/timeseries', admin, { metric: 'p95', interval: 'hour' });
    expect(p95.body.points.some((p: { value: number | null }) => typeof p.value === 'number' && p.value > 0)).toBe(true);
  });

  it("pages through a user's events in time order, in the AnalyticsEvent shape plus enrichment", async () => {
    // A raw event past its TTL that DynamoDB has not deleted yet: never returned.
    const ts = new Date(Date.now() - 60_000).toISOString();
    await db.send(
      new PutCommand({
        TableName: stack.tableName('analytics'),
        Item: { pk: `EVENT#${tenant}#${ts.slice(0, 10)}`, sk: `${ts}#expired`, userPk: `USER#${tenant}#alice`, userSk: `${ts}#expired`, event: { eventType: 'OLD_ANALYTICS', detail: { timestamp: ts } }, expiresAt: Math.floor(Date.now() / 1000) - 10 },
      }),
    );
    const seen: Array<Record<string, any>> = []; // eslint-disable-line @typescript-eslint/no-explicit-any -- response events
    let cursor: string | undefined;
    for (let page = 0; page < 10; page++) {
      const res = await get('GET /analytics/users/{userId}/events', '/analytics/users/alice/events', admin, { limit: '5', ...(cursor ? { cursor } : {}) }, { userId: 'alice' });
      expect(res.statusCode).toBe(200);
      expect(res.body.events.length).toBeLessThanOrEqual(5);
      seen.push(...res.body.events);
      cursor = res.body.nextCursor ?? undefined;
      if (!cursor) break;
    }
    expect(seen).toHaveLength(12);
    const times = seen.map((e) => e.detail.timestamp);
    expect([...times].sort()).toEqual(times);
    for (const e of seen) {
      expect(Object.keys(e)).toEqual(expect.arrayContaining(['eventType', 'source', 'requestId', 'detail', 'eventId', 'receivedAt', 'processingLagMs', 'environment', 'day', 'hour']));
      expect(e.tenant).toBe(tenant);
    }
  });

  it('keeps tenants apart, refuses non-admins and answers bad input with 400', async () => {
    const other: Claims = { sub: 'root', tenant: `other-${randomUUID().slice(0, 6)}`, scope: 'admin' };
    expect((await get('GET /analytics/summary', '/analytics/summary', other)).body.totals.count).toBe(0);
    expect((await get('GET /analytics/users/{userId}/events', '/analytics/users/alice/events', other, undefined, { userId: 'alice' })).body.events).toEqual([]);
    expect((await get('GET /analytics/summary', '/analytics/summary', alice)).statusCode).toBe(403);
    expect((await get('GET /analytics/timeseries', '/analytics/timeseries', alice)).statusCode).toBe(403);

    const bad: Array<[string, string, Record<string, string>, string]> = [
      ['GET /analytics/summary', '/analytics/summary', { from: '2026-01-02T00:00:00Z', to: '2026-01-01T00:00:00Z' }, 'query.from'],
      ['GET /analytics/summary', '/analytics/summary', { from: 'yesterday' }, 'query.from'],
      // Found by the fuzzer: an empty value was taken for "not given" (the default range).
      ['GET /analytics/summary', '/analytics/summary', { to: '' }, 'query.to'],
      ['GET /analytics/timeseries', '/analytics/timeseries', { from: '' }, 'query.from'],
      ['GET /analytics/summary', '/analytics/summary', { category: 'OTHER' }, 'query.category'],
      ['GET /analytics/summary', '/analytics/summary', { bogus: '1' }, 'query.bogus'],
      ['GET /analytics/timeseries', '/analytics/timeseries', { metric: 'p42' }, 'query.metric'],
      ['GET /analytics/timeseries', '/analytics/timeseries', { interval: 'minute', from: '2026-01-01T00:00:00Z', to: '2026-01-03T00:00:00Z' }, 'query.interval'],
      ['GET /analytics/summary', '/analytics/summary', { from: '2025-01-01T00:00:00Z', to: '2026-01-01T00:00:00Z' }, 'query.from'],
    ];
    for (const [routeKey, path, query, field] of bad) {
      const res = await get(routeKey, path, admin, query);
      expect(res.statusCode, `${path} ${JSON.stringify(query)}`).toBe(400);
      expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
    }
    const cursor = await get('GET /analytics/users/{userId}/events', '/analytics/users/alice/events', admin, { cursor: 'garbage' }, { userId: 'alice' });
    expect(cursor.statusCode).toBe(400);
    const forged = Buffer.from(JSON.stringify({ pk: 'x', sk: 'y', userPk: `USER#${other.tenant}#alice`, userSk: 'z' })).toString('base64url');
    expect((await get('GET /analytics/users/{userId}/events', '/analytics/users/alice/events', admin, { cursor: forged }, { userId: 'alice' })).statusCode).toBe(400);
  });

  it('POST /events takes front-end events from any signed-in user, attributed to the token, redacted, through the same pipeline', async () => {
    const post = (body: unknown, claims: Claims = alice) => call(analyticsApi, 'analytics-api', apiEvent({ routeKey: 'POST /events', path: '/events', claims, body: body as object }));
    // Earlier tests' own API requests are on the queue too: clear them first.
    await drainAfterResponseTasks();
    await pumpAnalytics(1000);
    const before = (await storedFor(tenant)).length;

    const ok = await post({
      events: [
        { action: 'CLICK', type: 'BUTTON_CLICKED', properties: { button: 'save', tenant: 'evil-corp', contact: 'bob@example.com', password: 'hunter2', url: '/cb?access_token=s3cr3t' } },
        { action: 'VIEW', type: 'PAGE_VIEWED', timestamp: new Date(Date.now() - 60_000).toISOString(), traceId: 'abc-123' },
        { action: 'SUBMIT', type: 'LOGIN_SUBMITTED' },
        // A user cannot fake a server event: this lands in the front-end namespace.
        { action: 'WRITE', type: 'ITEM_PUT', properties: { collection: 'notes' } },
      ],
    });
    expect(ok.statusCode).toBe(202);
    expect(ok.body).toEqual({ accepted: 4 });

    const rejected = await post({ events: [{ action: 'CLICK', type: 'OK' }, { action: 'CLICK', type: 'lower case' }, { action: 'CLICK', type: 'X', timestamp: new Date(Date.now() + 3_600_000).toISOString() }, { type: 'NO_ACTION' }] });
    expect(rejected.statusCode).toBe(400);
    const fields = rejected.body.error.details.map((d: { field: string }) => d.field);
    expect(fields).toEqual(expect.arrayContaining(['body.events.1.type', 'body.events.2.timestamp', 'body.events.3.action']));
    expect(fields.some((f: string) => f.startsWith('body.events.0'))).toBe(false);
    expect((await post({ events: Array.from({ length: 101 }, () => ({ action: 'A', type: 'B' })) })).statusCode).toBe(400);
    expect((await post({ events: [] })).statusCode).toBe(400);
    expect((await post({ nope: 1, events: [{ action: 'A', type: 'B' }] })).statusCode).toBe(400);

    await drainAfterResponseTasks();
    await pumpAnalytics(1000);
    const stored = await storedFor(tenant);
    const frontEnd = stored.filter((s) => s.event.source === 'event-flows.frontend');
    expect(frontEnd.map((s) => s.eventType).sort()).toEqual(['frontend:BUTTON_CLICKED_ANALYTICS', 'frontend:ITEM_PUT_ANALYTICS', 'frontend:LOGIN_SUBMITTED_ANALYTICS', 'frontend:PAGE_VIEWED_ANALYTICS']);
    expect(stored.filter((s) => s.eventType === 'ITEM_PUT_ANALYTICS' && s.event.source === 'event-flows.frontend')).toEqual([]);
    for (const s of frontEnd) {
      expect(s.event.detail.userId).toBe('alice');
      expect(s.tenant).toBe(tenant);
      expect(s.event.detail.metadata.properties.tenant).toBe(tenant);
    }
    expect(frontEnd.find((s) => s.eventType === 'frontend:LOGIN_SUBMITTED_ANALYTICS')?.category).toBe('AUTHENTICATION');
    expect(frontEnd.find((s) => s.eventType === 'frontend:PAGE_VIEWED_ANALYTICS')?.event.detail.metadata.traceId).toBe('abc-123');
    const text = JSON.stringify(frontEnd);
    for (const secret of ['bob@example.com', 'hunter2', 's3cr3t', 'evil-corp']) expect(text).not.toContain(secret);
    // 4 front-end events + the 5 POST /events requests' own events.
    expect(stored.length - before).toBe(4 + 5);
    // The summary keeps the forged ITEM_PUT out of the server's ITEM_PUT counts.
    const summary = await get('GET /analytics/summary', '/analytics/summary', admin);
    const byType = Object.fromEntries(summary.body.byEventType.map((g: { eventType: string; count: number }) => [g.eventType, g.count]));
    expect(byType['frontend:ITEM_PUT_ANALYTICS']).toBe(1);
    expect(byType.ITEM_PUT_ANALYTICS ?? 0).toBe(stored.filter((s) => s.eventType === 'ITEM_PUT_ANALYTICS').length);
  });
});
