/**
 * The insight routes (performance, errors, health) on generated traffic: a seeded generator
 * makes a few hundred events over three hours (functions with cold starts and memory,
 * routes failing and recovering), the real processor stores them in shuffled batches, and
 * each route's answer is compared with what the test computes from the generated events
 * themselves (percentiles within the histogram's 2%).
 */
import { readDayEvents } from '../../functions/shared/analytics/store.ts';
import { randomUUID } from 'node:crypto';
import { GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildAnalyticsEvent, type AnalyticsEvent } from '../../functions/shared/analytics/event.ts';
import { RATIO } from '../../functions/shared/analytics/histogram.ts';
import { setAwsClients } from '../../functions/shared/aws-clients.ts';
import { clientConfig, type ProvisionedStack } from '../../scripts/local/provision.ts';
import { analyticsGet, nearestRank, processShuffled, seeded } from '../support/generated-traffic.ts';
import type { Claims } from '../support/invoke.ts';
import { awsEndpoint, provisionTestStack, region } from '../support/stack.ts';

const HOUR = 3_600_000;
const MINUTE = 60_000;
/** Percentiles come from log buckets: within sqrt(RATIO) - 1 of a value at that rank. */
const TOLERANCE = Math.sqrt(RATIO) - 1 + 1e-9;

let stack: ProvisionedStack;
const tenant = `ins-${randomUUID().slice(0, 8)}`;
const admin: Claims = { sub: 'root', tenant, scope: 'admin' };
const member: Claims = { sub: 'alice', tenant, scope: 'items' };
/** Three whole hours, yesterday (inside every retention). */
const start = Math.floor((Date.now() - 30 * HOUR) / HOUR) * HOUR;
const end = start + 3 * HOUR;

const seed = Number(process.env.INSIGHTS_SEED ?? Date.now() % 1_000_000);
const random = seeded(seed);
const pick = <T,>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;

const FUNCTIONS = [
  { name: 'query', limitMB: 256 },
  { name: 'write', limitMB: 512 },
  { name: 'import-worker', limitMB: 1024 },
] as const;
const ROUTES = ['ITEM_GET', 'ITEM_PUT', 'ITEM_LIST'] as const;
const ERRORS = ['NOT_FOUND', 'CONFLICT', 'DEPENDENCY_UNAVAILABLE'] as const;

interface Generated {
  event: AnalyticsEvent;
  functionName: string;
  rssMB: number;
  heapUsedMB: number;
  coldStart: boolean;
  initDurationMs?: number;
  route: string;
  failed: boolean;
  errorType?: string;
  at: number;
}

function generate(count: number): Generated[] {
  const out: Generated[] = [];
  for (let i = 0; i < count; i++) {
    const fn = pick(FUNCTIONS);
    const route = pick(ROUTES);
    const at = start + Math.floor(random() * (end - start));
    // ITEM_PUT fails often in the first hour (an outage), the others now and then.
    const failed = route === 'ITEM_PUT' && at < start + HOUR ? random() < 0.6 : random() < 0.08;
    const errorType = failed ? pick(ERRORS) : undefined;
    const coldStart = random() < 0.1;
    const rssMB = Math.round((40 + random() * fn.limitMB * 0.6) * 1000) / 1000;
    const heapUsedMB = Math.round((10 + random() * rssMB * 0.5) * 1000) / 1000;
    const initDurationMs = coldStart ? Math.round((80 + random() * 900) * 1000) / 1000 : undefined;
    const event = buildAnalyticsEvent({
      type: route,
      action: 'EXECUTE',
      category: 'QUERY',
      source: 'event-flows.generated',
      status: failed ? 'FAILURE' : 'SUCCESS',
      ...(errorType ? { errorType } : {}),
      durationMs: 1 + random() * 200,
      userId: `user-${Math.floor(random() * 20)}`,
      requestId: randomUUID(),
      traceId: `1-${Math.floor(at / 1000).toString(16).padStart(8, '0')}-${randomUUID().replaceAll('-', '').slice(0, 24)}`,
      timestamp: new Date(at),
      context: { functionName: fn.name, functionVersion: '$LATEST', memoryLimitInMB: String(fn.limitMB), getRemainingTimeInMillis: () => 5000 },
      properties: { tenant },
    });
    // The generated invocation measurement replaces this test process's own.
    const properties = event.detail.metadata.properties;
    Object.assign(properties, { rssMB, heapUsedMB, coldStart });
    delete properties.initDurationMs;
    if (initDurationMs !== undefined) properties.initDurationMs = initDurationMs;
    out.push({ event, functionName: fn.name, rssMB, heapUsedMB, coldStart, ...(initDurationMs !== undefined ? { initDurationMs } : {}), route, failed, ...(errorType ? { errorType } : {}), at });
  }
  return out;
}

const exactPercentile = (values: number[], q: number): number => nearestRank(values, q)!;
function expectClose(actual: number | null, expected: number) {
  expect(actual).not.toBeNull();
  expect(Math.abs(actual! - expected) / expected).toBeLessThanOrEqual(TOLERANCE);
}
const minuteOf = (ms: number) => new Date(Math.floor(ms / MINUTE) * MINUTE).toISOString();

const get = (route: string, query: Record<string, string>, claims: Claims = admin) => analyticsGet(route, query, claims);

let traffic: Generated[];
const range = { from: new Date(start).toISOString(), to: new Date(end).toISOString() };

beforeAll(async () => {
  stack = await provisionTestStack();
  setAwsClients({});
  traffic = generate(400);
  await processShuffled(traffic.map((g) => g.event), random);
}, 120_000);

describe(`analytics insight routes (seed ${seed})`, () => {
  it('are admin-only', async () => {
    for (const route of ['GET /analytics/performance', 'GET /analytics/errors', 'GET /analytics/health']) {
      const res = await get(route, range, member);
      expect(res.statusCode).toBe(403);
      expect(res.body.error.code).toBeTypeOf('string');
    }
  });

  it('performance: invocations, cold starts, init duration and memory per function', async () => {
    const res = await get('GET /analytics/performance', range);
    expect(res.statusCode).toBe(200);
    expect(res.body.reads).toBe(new Set([range.from.slice(0, 10), new Date(end - 1).toISOString().slice(0, 10)]).size);
    expect(res.body.functions.map((f: { functionName: string }) => f.functionName).sort()).toEqual([...new Set(traffic.map((g) => g.functionName))].sort());
    for (const fn of FUNCTIONS) {
      const mine = traffic.filter((g) => g.functionName === fn.name);
      const got = res.body.functions.find((f: { functionName: string }) => f.functionName === fn.name);
      const cold = mine.filter((g) => g.coldStart);
      expect(got).toMatchObject({ invocations: mine.length, coldStarts: cold.length, warmInvocations: mine.length - cold.length });
      expect(got.memory.limitMB).toBe(fn.limitMB);
      expect(got.memory.measured).toBe(mine.length);
      for (const q of [0.5, 0.95, 0.99] as const) {
        const key = q === 0.5 ? 'p50' : q === 0.95 ? 'p95' : 'p99';
        expectClose(got.memory.rssMB[key], exactPercentile(mine.map((g) => g.rssMB), q));
        expectClose(got.memory.heapUsedMB[key], exactPercentile(mine.map((g) => g.heapUsedMB), q));
      }
      if (cold.length > 0) expectClose(got.initDurationMs.p95, exactPercentile(cold.map((g) => g.initDurationMs!), 0.95));
      else expect(got.initDurationMs.p95).toBeNull();
    }
  });

  it('errors: patterns with first/last seen, count, trend and samples; recovery per route', async () => {
    const res = await get('GET /analytics/errors', { ...range, limit: '50' });
    expect(res.statusCode).toBe(200);
    const failures = traffic.filter((g) => g.failed);
    const patterns = new Map<string, Generated[]>();
    for (const g of failures) patterns.set(`${g.route}|${g.errorType}`, [...(patterns.get(`${g.route}|${g.errorType}`) ?? []), g]);
    expect(res.body.patterns).toHaveLength(patterns.size);
    const counts = res.body.patterns.map((p: { count: number }) => p.count);
    expect(counts).toEqual([...counts].sort((a: number, b: number) => b - a));
    const middle = start + Math.floor((end - start) / HOUR / 2) * HOUR;
    for (const got of res.body.patterns) {
      const mine = patterns.get(`${got.eventType.replace(/_ANALYTICS$/, '')}|${got.errorType}`)!;
      expect(mine).toBeDefined();
      const times = mine.map((g) => g.at);
      const firstHalf = mine.filter((g) => g.at < middle).length;
      expect(got).toMatchObject({ count: mine.length, firstSeen: minuteOf(Math.min(...times)), lastSeen: minuteOf(Math.max(...times)) });
      expect(got.trend).toMatchObject({ firstHalf, secondHalf: mine.length - firstHalf });
      expect(got.samples.length).toBeGreaterThan(0);
      const ids = new Map(mine.map((g) => [g.event.requestId, g.event.detail.metadata.traceId]));
      for (const sample of got.samples) expect(ids.get(sample.requestId)).toBe(sample.traceId);
    }
    for (const route of ROUTES) {
      const mine = traffic.filter((g) => g.route === route);
      const firstFailure = Math.min(...mine.filter((g) => g.failed).map((g) => g.at));
      const got = res.body.recovery.find((r: { eventType: string }) => r.eventType === `${route}_ANALYTICS`);
      if (!Number.isFinite(firstFailure)) {
        expect(got).toBeUndefined();
        continue;
      }
      // Minute resolution: the first minute, at or after the first failure's, with a success.
      const successMinutes = mine.filter((g) => !g.failed && Math.floor(g.at / MINUTE) >= Math.floor(firstFailure / MINUTE)).map((g) => Math.floor(g.at / MINUTE) * MINUTE);
      const recovered = successMinutes.length > 0 ? Math.min(...successMinutes) : undefined;
      expect(got).toEqual({
        eventType: `${route}_ANALYTICS`,
        failures: mine.filter((g) => g.failed).length,
        firstFailure: minuteOf(firstFailure),
        recoveredAt: recovered === undefined ? null : new Date(recovered).toISOString(),
        recoveryMs: recovered === undefined ? null : recovered - Math.floor(firstFailure / MINUTE) * MINUTE,
      });
    }
  });

  it('health: throughput per minute, processing lag p50/p95 and error rate', async () => {
    // The last hour of the traffic, a minute-resolution window.
    const from = end - HOUR;
    const res = await get('GET /analytics/health', { from: new Date(from).toISOString(), to: new Date(end).toISOString() });
    expect(res.statusCode).toBe(200);
    const mine = traffic.filter((g) => g.at >= from && g.at < end);
    expect(res.body.throughputPerMinute).toHaveLength(60);
    for (const point of res.body.throughputPerMinute) {
      const t = Date.parse(point.t);
      const inMinute = mine.filter((g) => g.at >= t && g.at < t + MINUTE);
      expect(point).toEqual({ t: point.t, count: inMinute.length, failures: inMinute.filter((g) => g.failed).length });
    }
    expect(res.body.totals.count).toBe(mine.length);
    expect(res.body.totals.errorRate).toBe(Math.round((mine.filter((g) => g.failed).length / mine.length) * 1000) / 1000);
    // Lag is the processor's (received minus emitted): the stored events say what it was.
    const lags: number[] = [];
    for (const day of new Set([new Date(from).toISOString().slice(0, 10), new Date(end - 1).toISOString().slice(0, 10)])) {
      const items = await readDayEvents(tenant, day, new Date(from).toISOString(), new Date(end).toISOString());
      lags.push(...items.map((item) => Number(item.processingLagMs)));
    }
    expect(lags).toHaveLength(mine.length);
    expectClose(res.body.processingLagMs.p50, exactPercentile(lags, 0.5));
    expectClose(res.body.processingLagMs.p95, exactPercentile(lags, 0.95));
  });

  it('health: the depths of the analytics and import queues and their DLQs', async () => {
    const sqs = new SQSClient(clientConfig({ endpoint: awsEndpoint(), region }));
    const put = async (queue: 'analytics-dlq' | 'import-dlq', n: number) => {
      for (let i = 0; i < n; i++) await sqs.send(new SendMessageCommand({ QueueUrl: stack.queueUrl(queue), MessageBody: `{"n":${i}}` }));
    };
    await put('analytics-dlq', 3);
    await put('import-dlq', 2);
    // Every API call so far delivered its own analytics event to the analytics queue (nothing
    // consumes it here); this request's own is delivered after its response.
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: stack.queueUrl('analytics'), AttributeNames: ['ApproximateNumberOfMessages'] }));
    const res = await get('GET /analytics/health', {});
    const depth = (queue: string) => res.body.queues.find((q: { queue: string }) => q.queue === queue);
    expect(depth('analytics-dlq')).toEqual({ queue: 'analytics-dlq', visible: 3, inFlight: 0, delayed: 0 });
    expect(depth('import-dlq')).toEqual({ queue: 'import-dlq', visible: 2, inFlight: 0, delayed: 0 });
    expect(depth('import')).toEqual({ queue: 'import', visible: 0, inFlight: 0, delayed: 0 });
    expect(Number(Attributes?.ApproximateNumberOfMessages)).toBeGreaterThan(0);
    expect(depth('analytics').visible).toBe(Number(Attributes?.ApproximateNumberOfMessages));
  });

  it('imports: each import\'s progress from the import flow\'s analytics events, in any order', async () => {
    const at = (minutes: number) => new Date(end + minutes * MINUTE);
    const flowEvent = (type: string, minute: number, properties: Record<string, unknown>, failure?: string) =>
      buildAnalyticsEvent({
        type,
        action: 'IMPORT',
        category: 'SYSTEM_EVENT',
        source: 'event-flows.imports',
        status: failure ? 'FAILURE' : 'SUCCESS',
        ...(failure ? { errorType: failure } : {}),
        durationMs: 5,
        requestId: randomUUID(),
        timestamp: at(minute),
        context: { functionName: 'import', functionVersion: '$LATEST', memoryLimitInMB: '1024', getRemainingTimeInMillis: () => 5000 },
        properties: { tenant, collection: 'notes', ...properties },
      });
    const done = randomUUID();
    const running = randomUUID();
    const batches = Array.from({ length: 7 }, (_, i) => ({ batches: 1 + (i % 2), succeeded: 20 + i, failed: i % 3 === 0 ? 1 : 0, created: 10 + i, chunksCompleted: i % 2 }));
    const events = [
      flowEvent('IMPORT_CREATE', 0, { importId: done }),
      flowEvent('IMPORT_ITEMS', 1, { importId: done, accepted: 100, rejected: 3 }),
      flowEvent('IMPORT_ITEMS', 2, { importId: done, accepted: 80, rejected: 0 }),
      flowEvent('IMPORT_COMMIT', 3, { importId: done, accepted: 0, rejected: 0 }),
      ...batches.map((b, i) => flowEvent('IMPORT_BATCH', 4 + i, { importId: done, items: b.succeeded + b.failed, ...b }, b.failed > 0 ? 'IMPORT_WRITE_FAILED' : undefined)),
      flowEvent('IMPORT_COMPLETED', 20, { importId: done, importStatus: 'COMPLETED_WITH_ERRORS', total: 183, succeeded: 177, failed: 3, rejected: 3, created: 91 }),
      flowEvent('IMPORT_CREATE', 5, { importId: running }),
      flowEvent('IMPORT_ITEMS', 6, { importId: running, accepted: 10, rejected: 1 }),
    ];
    await processShuffled(events, random);

    const res = await get('GET /analytics/imports', { from: at(-1).toISOString(), to: at(60).toISOString() });
    expect(res.statusCode).toBe(200);
    const sum = (key: keyof (typeof batches)[number]) => batches.reduce((n, b) => n + b[key], 0);
    const got = new Map(res.body.imports.map((i: { importId: string }) => [i.importId, i]));
    expect(got.get(done)).toEqual({
      importId: done,
      collection: 'notes',
      startedAt: at(0).toISOString(),
      status: 'COMPLETED_WITH_ERRORS',
      counts: {
        events: events.filter((e) => e.detail.metadata.properties.importId === done).length,
        accepted: 180,
        rejected: 3,
        batches: sum('batches'),
        failedBatches: batches.filter((b) => b.failed > 0).length,
        chunksCompleted: sum('chunksCompleted'),
        succeeded: sum('succeeded'),
        failed: sum('failed'),
        created: sum('created'),
      },
      outcome: { status: 'COMPLETED_WITH_ERRORS', completedAt: at(20).toISOString(), total: 183, succeeded: 177, failed: 3, rejected: 3, created: 91, durationMs: 5 },
    });
    expect(got.get(running)).toMatchObject({ importId: running, status: 'IN_PROGRESS', startedAt: at(5).toISOString(), counts: { events: 2, accepted: 10, rejected: 1, batches: 0 } });
  });

  it('refuse ranges the read bound does not allow', async () => {
    const res = await get('GET /analytics/health', { from: new Date(end - 2 * 24 * HOUR).toISOString(), to: new Date(end).toISOString() });
    expect(res.statusCode).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    const bad = await get('GET /analytics/errors', { ...range, limit: '500' });
    expect(bad.statusCode).toBe(400);
  });
});
