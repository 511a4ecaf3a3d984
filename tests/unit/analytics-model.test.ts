/** Pure analytics logic: histogram accuracy, event identity, keys, retention, schema, classification. */
import fc from 'fast-check';
import * as v from 'valibot';
import { describe, expect, it, vi } from 'vitest';
import { frontEndCategory, requestCategory } from '../../functions/shared/analytics/classify.ts';
import { buildAnalyticsEvent } from '../../functions/shared/analytics/event.ts';
import { bucketOf, bucketValue, histogramOf, percentile, RATIO, type Histogram } from '../../functions/shared/analytics/histogram.ts';
import {
  aggregatePartition,
  aggregatePartitions,
  aggregateShardOf,
  aggregateSortKey,
  canonicalJson,
  eventIdOf,
  eventKey,
  eventPartitions,
  expiresAt,
  retentionDays,
  SHARDS,
  tenantOf,
  SYSTEM_TENANT,
  userDayPartition,
  userDayPartitions,
  userDayPartitionsOf,
  grownShardCount,
  shardCount,
} from '../../functions/shared/analytics/keys.ts';
import { shardOf } from '../../functions/shared/shards.ts';
import { analyticsEventSchema, describeIssues, envelopeSchema } from '../../functions/shared/analytics/schema.ts';
import { ApiError, errorTypeOf, toApiError } from '../../functions/shared/http/errors.ts';

const context = { functionName: 'fn', functionVersion: '$LATEST', memoryLimitInMB: '512', getRemainingTimeInMillis: () => 900 };

function exactPercentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
}

describe('duration histogram', () => {
  it('p50/p95/p99 are within sqrt(ratio)-1 (~2%) of the exact nearest-rank value', () => {
    const tolerance = Math.sqrt(RATIO) - 1 + 1e-9;
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0.01, max: 120_000, noNaN: true }), { minLength: 1, maxLength: 2000 }), (durations) => {
        const histogram: Histogram = new Map();
        for (const d of durations) histogram.set(bucketOf(d), (histogram.get(bucketOf(d)) ?? 0) + 1);
        for (const q of [0.5, 0.95, 0.99]) {
          const exact = exactPercentile(durations, q);
          const estimate = percentile(histogram, q)!;
          expect(Math.abs(estimate - exact) / exact).toBeLessThanOrEqual(tolerance + 0.0005 / exact);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('reads buckets back from item attributes and ignores the rest', () => {
    const h = histogramOf({ h400: 2, h500: 1, count: 3, hx: 5 });
    expect([...h.entries()]).toEqual([[400, 2], [500, 1]]);
    expect(percentile(h, 0.5)).toBeCloseTo(bucketValue(400), 3);
    expect(percentile(new Map(), 0.5)).toBeUndefined();
  });
});

describe('event identity and keys', () => {
  const event = buildAnalyticsEvent({ type: 'ITEM_GET', action: 'EXECUTE', category: 'QUERY', source: 's', status: 'SUCCESS', requestId: 'r1', context, timestamp: new Date('2026-01-02T03:04:05.678Z'), properties: { tenant: 't1', b: 1, a: [1, { y: 2, x: 1 }] } });

  it('the same content has the same id whatever the key order; different content differs', () => {
    const reordered = JSON.parse(canonicalJson(event)) as unknown;
    expect(eventIdOf(reordered)).toBe(eventIdOf(event));
    expect(eventIdOf(JSON.parse(JSON.stringify(event)))).toBe(eventIdOf(event));
    expect(eventIdOf({ ...event, requestId: 'r2' })).not.toBe(eventIdOf(event));
  });

  it('spreads a day over write shards by event id, user id and batch; shard 0 and ANALYTICS_KEY_SHARDS=1 keep the unsharded keys', () => {
    const ids = Array.from({ length: 6400 }, (_, i) => eventIdOf({ i }));
    const perShard = new Map<string, number>();
    for (const id of ids) perShard.set(eventKey('t1', '2026-01-02T00:00:00.000Z', id).pk, (perShard.get(eventKey('t1', '2026-01-02T00:00:00.000Z', id).pk) ?? 0) + 1);
    expect([...perShard.keys()].sort()).toEqual(eventPartitions('t1', '2026-01-02').sort());
    // Even: every shard within 40% of its share of 100.
    for (const n of perShard.values()) expect(Math.abs(n - 100)).toBeLessThan(40);
    expect(eventPartitions('t1', '2026-01-02')).toContain('EVENT#t1#2026-01-02');
    expect(eventKey('t1', '2026-01-02T00:00:00.000Z', ids[0]!)).toEqual(eventKey('t1', '2026-01-02T00:00:00.000Z', ids[0]!));
    expect(userDayPartitions('t1', '2026-01-02', SHARDS.userDays)).toHaveLength(SHARDS.userDays);
    expect(userDayPartitions('t1', '2026-01-02', SHARDS.userDays)).toContain(userDayPartition('t1', '2026-01-02', 'alice', SHARDS.userDays));
    expect(aggregatePartitions('t1', '2026-01-02', SHARDS.aggregates)).toHaveLength(SHARDS.aggregates);
    expect(aggregatePartitions('t1', '2026-01-02', 1)).toEqual(['AGG#t1#2026-01-02']);
    expect(aggregatePartition('t1', '2026-01-02', 0)).toBe('AGG#t1#2026-01-02');
    expect(aggregatePartition('t1', '2026-01-02', 5)).toBe('AGG#t1#2026-01-02#5');
    vi.stubEnv('ANALYTICS_KEY_SHARDS', '1');
    try {
      expect(eventKey('t1', '2026-01-02T00:00:00.000Z', ids[0]!).pk).toBe('EVENT#t1#2026-01-02');
      expect(shardCount('userDays')).toBe(1);
      expect(shardCount('aggregates')).toBe(1);
      expect(grownShardCount('aggregates', 1)).toBe(1);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('adaptive counts grow fourfold up to the maximum, and a user-day is looked for under every count on the way', () => {
    expect([1, 4, 16].map((n) => grownShardCount('aggregates', n))).toEqual([4, 16, SHARDS.aggregates]);
    expect(grownShardCount('aggregates', SHARDS.aggregates)).toBe(SHARDS.aggregates);
    expect([1, 4, 16].map((n) => grownShardCount('userDays', n))).toEqual([4, 16, 64]);
    expect(userDayPartition('t1', '2026-01-02', 'alice', 1)).toBe('UDAY#t1#2026-01-02');
    expect(aggregateShardOf('anything', 1)).toBe(0);
    // Where the user's item went under each count the day had: 1, 4, 16, 64.
    const wentTo = [1, 4, 16, 64].map((count) => userDayPartition('t1', '2026-01-02', 'alice', count));
    expect(new Set(userDayPartitionsOf('t1', '2026-01-02', 'alice', 64))).toEqual(new Set(wentTo));
    expect(userDayPartitionsOf('t1', '2026-01-02', 'alice', 1)).toEqual(['UDAY#t1#2026-01-02']);
    expect(new Set(userDayPartitionsOf('t1', '2026-01-02', 'alice', 4))).toEqual(new Set(wentTo.slice(0, 2)));
  });

  it('builds tenant-scoped keys', () => {
    const shard = shardOf('abc', SHARDS.events);
    expect(eventKey('t1', event.detail.timestamp, 'abc')).toEqual({ pk: `EVENT#t1#2026-01-02${shard === 0 ? '' : `#${shard}`}`, sk: '2026-01-02T03:04:05.678Z#abc' });
    expect(aggregateSortKey('MINUTE', event.detail.timestamp, 'ITEM_GET_ANALYTICS', 'QUERY', undefined)).toBe('MINUTE#03:04#ITEM_GET_ANALYTICS#QUERY#-');
    expect(aggregateSortKey('HOUR', event.detail.timestamp, 'X_ANALYTICS', 'QUERY', 'NOT_FOUND')).toBe('HOUR#03#X_ANALYTICS#QUERY#NOT_FOUND');
    expect(tenantOf({ tenant: 't1' })).toBe('t1');
    expect(tenantOf({ tenant: 'a#b' })).toBe(SYSTEM_TENANT);
    expect(tenantOf({})).toBe(SYSTEM_TENANT);
  });

  it('retention is configurable per category, with defaults', () => {
    expect(retentionDays('QUERY', {})).toBe(30);
    expect(retentionDays('USER_ACTION', {})).toBe(90);
    expect(retentionDays('QUERY', { ANALYTICS_RETENTION_DAYS_QUERY: '7' })).toBe(7);
    expect(retentionDays('QUERY', { ANALYTICS_RETENTION_DAYS: '14' })).toBe(14);
    expect(() => retentionDays('QUERY', { ANALYTICS_RETENTION_DAYS_QUERY: '-1' })).toThrow(/positive/);
    expect(expiresAt('2026-01-01T00:00:00.000Z', 1)).toBe(Date.parse('2026-01-02T00:00:00.000Z') / 1000);
  });
});

describe('schema', () => {
  const good = buildAnalyticsEvent({ type: 'ITEM_PUT', action: 'WRITE', category: 'USER_ACTION', source: 's', status: 'FAILURE', errorType: 'CONFLICT', durationMs: 12.3456, requestId: 'r', context, properties: { tenant: 't' } });

  it('accepts what the emitter builds, in its envelope', () => {
    expect(v.safeParse(analyticsEventSchema, good).success).toBe(true);
    expect(v.safeParse(envelopeSchema, { id: 'e', 'detail-type': good.eventType, source: good.source, detail: good }).success).toBe(true);
  });

  it('rejects malformed events with a reason naming the field', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ ...good, eventType: 'ITEM_PUT' }, /eventType/],
      [{ ...good, detail: { ...good.detail, timestamp: 'yesterday' } }, /detail\.timestamp/],
      [{ ...good, detail: { ...good.detail, metadata: { ...good.detail.metadata, eventCategory: 'OTHER' } } }, /eventCategory/],
      [{ ...good, detail: { ...good.detail, metadata: { ...good.detail.metadata, errorType: undefined } } }, /errorType/],
      [{ ...good, detail: { ...good.detail, metadata: { ...good.detail.metadata, duration: -1 } } }, /duration/],
      [{ ...good, eventType: 'OTHER_ANALYTICS' }, /detail\.type/],
    ];
    for (const [input, reason] of cases) {
      const result = v.safeParse(analyticsEventSchema, input);
      expect(result.success).toBe(false);
      if (!result.success) expect(describeIssues(result.issues)).toMatch(reason);
    }
  });
});

describe('trace ids', () => {
  it('keeps X-Ray and plain ids, drops anything that could carry a secret, a key or an address', () => {
    const traceOf = (traceId: string) => buildAnalyticsEvent({ type: 'T', action: 'A', category: 'QUERY', source: 's', status: 'SUCCESS', requestId: 'r', context, traceId }).detail.metadata.traceId;
    expect(traceOf('1-5759e988-bd862e3fe1be46a994272793')).toBe('1-5759e988-bd862e3fe1be46a994272793');
    expect(traceOf('abc-123')).toBe('abc-123');
    expect(traceOf('AKIAABCDEFGHIJKLMNOP')).toBeUndefined();
    expect(traceOf('1-key-ASIAABCDEFGHIJKLMNOP-x')).toBeUndefined();
    expect(traceOf('1-client_secret=abc')).toBeUndefined();
    expect(traceOf('1-jane@x.org')).toBeUndefined();
  });
});

describe('classification', () => {
  it('maps failures to errorTypes through the one mapping in http/errors.ts', () => {
    // The HTTP wrapper's path (http-function.ts): toApiError, then errorTypeOf.
    const classifyError = (error: unknown) => errorTypeOf(toApiError(error));
    expect(classifyError(new ApiError(404, 'NOT_FOUND', 'x'))).toBe('NOT_FOUND');
    expect(classifyError(new ApiError(400, 'VALIDATION_FAILED', 'x'))).toBe('VALIDATION_ERROR');
    expect(classifyError(Object.assign(new Error('x'), { name: 'ProvisionedThroughputExceededException' }))).toBe('DEPENDENCY_UNAVAILABLE');
    expect(classifyError(new TypeError('boom'))).toBe('INTERNAL_ERROR');
  });

  it('puts every event in one of the four categories', () => {
    expect(requestCategory('QUERY')).toBe('QUERY');
    expect(requestCategory('QUERY', 403)).toBe('AUTHENTICATION');
    expect(requestCategory(undefined)).toBe('SYSTEM_EVENT');
    expect(frontEndCategory('LOGIN_CLICKED')).toBe('AUTHENTICATION');
    expect(frontEndCategory('BUTTON_CLICKED')).toBe('USER_ACTION');
  });
});

describe('invocation measurement on every event', () => {
  it('carries heap and RSS in MB, and marks only the process first event as the cold start with its init duration', async () => {
    // A fresh module instance stands for a fresh process.
    vi.resetModules();
    const fresh = await import('../../functions/shared/analytics/event.ts');
    const build = () => fresh.buildAnalyticsEvent({ type: 'X', action: 'EXECUTE', category: 'QUERY', source: 's', status: 'SUCCESS', durationMs: 5, requestId: 'r', context });
    const events = [build(), build(), build()];
    expect(events.map((e) => e.detail.metadata.properties.coldStart)).toEqual([true, false, false]);
    // performance.now() counts from the process's start; the handler started durationMs (5) before the event.
    expect(events[0]!.detail.metadata.properties.initDurationMs).toBeGreaterThan(0);
    expect(events[0]!.detail.metadata.properties.initDurationMs).toBeLessThanOrEqual(performance.now());
    for (const event of events) {
      const { heapUsedMB, rssMB, initDurationMs, coldStart } = event.detail.metadata.properties;
      const { rss } = process.memoryUsage();
      expect(rssMB).toBeGreaterThan(0);
      expect(rssMB).toBeLessThanOrEqual(rss / 1024 / 1024 + 64);
      expect(heapUsedMB).toBeGreaterThan(0);
      expect(heapUsedMB).toBeLessThan(rssMB);
      expect(initDurationMs === undefined).toBe(!coldStart);
      expect(v.safeParse(analyticsEventSchema, event).success).toBe(true);
    }
  });
});
