/**
 * The analytics API's insight routes (issue 16), each one bounded read of pre-computed
 * aggregates (docs/ANALYTICS.md, "Reads"):
 *
 *   GET /analytics/performance?from&to       per function: cold starts, init duration, memory vs limit
 *   GET /analytics/errors?from&to&limit      error patterns (first/last seen, count, trend, samples), recovery per route, DLQ → redrive → stored
 *   GET /analytics/health?from&to            throughput per minute, processing lag p50/p95, error rate, queue depths
 *   GET /analytics/imports?from&to           each import's progress from its analytics events: start, items, batches, outcome
 */
import * as v from 'valibot';
import { histogramOf, HISTOGRAM_PREFIX, mergeHistograms, percentile, type Histogram } from '../shared/analytics/histogram.ts';
import { DEAD_LETTER_CAUSES } from '../shared/analytics/dead-letter.ts';
import { causeAttribute, SAMPLE_SLOTS, readAggregates, readFunctionAggregates, readImportAggregates, readRedriveAggregates, type AggregateRow, type ErrorSample } from '../shared/analytics/store.ts';
import { requireAdmin } from '../shared/http/caller.ts';
import type { ApiRequest, Route } from '../shared/http/http-function.ts';
import { parseWith, queryParameters } from '../shared/http/request.ts';
import { queueDepths } from './queues.ts';
import { ceilTo, DAY, floorTo, HOUR, iso, MINUTE, rangeAnswer, timeRange } from './range.ts';

const round3 = (n: number) => Math.round(n * 1000) / 1000;
const distribution = (histogram: Histogram) => ({
  p50: percentile(histogram, 0.5) ?? null,
  p95: percentile(histogram, 0.95) ?? null,
  p99: percentile(histogram, 0.99) ?? null,
});
/** Days a [start, end) range touches: the number of Queries a per-day read makes. */
const daysTouched = (start: number, end: number) => Math.floor((end - 1) / DAY) - Math.floor(start / DAY) + 1;

/* ------------------------------------------------------------ performance */

interface FunctionTotals {
  invocations: number;
  coldStarts: number;
  measured: number;
  memoryLimitMB: number;
  rss: Histogram;
  heap: Histogram;
  init: Histogram;
}

async function performanceReport(request: ApiRequest) {
  const caller = request.caller();
  requireAdmin(caller);
  const query = queryParameters(request.event, ['from', 'to']);
  const { from, to } = timeRange(query);
  const start = floorTo(from, HOUR);
  const end = ceilTo(to, HOUR);
  const items = await readFunctionAggregates(caller.tenant, iso(start), iso(end));
  const byFunction = new Map<string, FunctionTotals>();
  for (const item of items) {
    const name = String(item.functionName);
    const totals = byFunction.get(name) ?? { invocations: 0, coldStarts: 0, measured: 0, memoryLimitMB: 0, rss: new Map(), heap: new Map(), init: new Map() };
    totals.invocations += Number(item.invocations ?? 0);
    totals.coldStarts += Number(item.coldStarts ?? 0);
    totals.measured += Number(item.measured ?? 0);
    totals.memoryLimitMB = Math.max(totals.memoryLimitMB, Number(item.memoryLimitMB ?? 0));
    histogramOf(item, totals.rss, HISTOGRAM_PREFIX.rss);
    histogramOf(item, totals.heap, HISTOGRAM_PREFIX.heap);
    histogramOf(item, totals.init, HISTOGRAM_PREFIX.initDuration);
    byFunction.set(name, totals);
  }
  request.analytics.rows = items.length;
  const functions = [...byFunction.entries()]
    .sort((a, b) => b[1].invocations - a[1].invocations || (a[0] < b[0] ? -1 : 1))
    .map(([functionName, t]) => {
      const rss = distribution(t.rss);
      return {
        functionName,
        invocations: t.invocations,
        coldStarts: t.coldStarts,
        warmInvocations: t.invocations - t.coldStarts,
        coldStartRate: t.invocations === 0 ? 0 : round3(t.coldStarts / t.invocations),
        initDurationMs: distribution(t.init),
        memory: {
          limitMB: t.memoryLimitMB,
          measured: t.measured,
          rssMB: rss,
          heapUsedMB: distribution(t.heap),
          rssP95PercentOfLimit: rss.p95 === null || t.memoryLimitMB === 0 ? null : round3((100 * rss.p95) / t.memoryLimitMB),
        },
      };
    });
  return rangeAnswer(caller.tenant, start, end, { reads: daysTouched(start, end), functions });
}

/* ------------------------------------------------------------ errors */

export const MAX_PATTERNS = 50;
/** Routes whose recovery is worked out (each costs up to two hour reads), most failures first. */
export const MAX_RECOVERY_ROUTES = 20;
const SAMPLES_PER_PATTERN = 5;

const errorsSchema = v.object({
  limit: v.optional(v.pipe(v.string(), v.regex(/^\d{1,2}$/, `must be a whole number from 1 to ${MAX_PATTERNS}`), v.transform(Number), v.minValue(1), v.maxValue(MAX_PATTERNS, `must be at most ${MAX_PATTERNS}`)), '10'),
});

interface Pattern {
  eventType: string;
  errorType: string;
  count: number;
  hours: Map<string, number>;
  samples: ErrorSample[];
}

const hourStart = (bucket: string) => Date.parse(`${bucket}:00:00.000Z`);
const minuteIso = (bucket: string) => `${bucket}:00.000Z`;

async function errorsReport(request: ApiRequest) {
  const caller = request.caller();
  requireAdmin(caller);
  const query = queryParameters(request.event, ['from', 'to', 'limit']);
  const { from, to } = timeRange(query);
  const { limit } = parseWith(errorsSchema, { limit: query.limit }, 'query');
  const start = floorTo(from, HOUR);
  const end = ceilTo(to, HOUR);
  const [hourRows, redriveItems] = await Promise.all([readAggregates(caller.tenant, 'HOUR', iso(start), iso(end)), readRedriveAggregates(caller.tenant, iso(start), iso(end))]);
  let reads = 2 * daysTouched(start, end);

  const patterns = new Map<string, Pattern>();
  const routes = new Map<string, { failures: number; failureHours: string[]; successHours: string[] }>();
  for (const row of hourRows) {
    const route = routes.get(row.eventType) ?? { failures: 0, failureHours: [] as string[], successHours: [] as string[] };
    route.failures += row.failures;
    if (row.failures > 0) route.failureHours.push(row.bucket);
    if (row.count > row.failures) route.successHours.push(row.bucket);
    routes.set(row.eventType, route);
    if (row.failures === 0) continue;
    const id = `${row.eventType}|${row.errorType}`;
    const pattern: Pattern = patterns.get(id) ?? { eventType: row.eventType, errorType: row.errorType, count: 0, hours: new Map(), samples: [] };
    pattern.count += row.failures;
    pattern.hours.set(row.bucket, (pattern.hours.get(row.bucket) ?? 0) + row.failures);
    for (let slot = 0; slot < SAMPLE_SLOTS; slot++) {
      const sample = row.item[`sample${slot}`] as ErrorSample | undefined;
      if (sample) pattern.samples.push(sample);
    }
    patterns.set(id, pattern);
  }
  const top = [...patterns.values()].sort((a, b) => b.count - a.count || (a.eventType + a.errorType < b.eventType + b.errorType ? -1 : 1)).slice(0, limit);
  const failing = [...routes.entries()].filter(([, r]) => r.failures > 0).sort((a, b) => b[1].failures - a[1].failures || (a[0] < b[0] ? -1 : 1)).slice(0, MAX_RECOVERY_ROUTES);

  // Minute resolution where it matters: the minute rows of the few hours that hold a first
  // or last failure, or the first success after one. One Query per such hour.
  const hoursNeeded = new Set<string>();
  for (const p of top) {
    const hours = [...p.hours.keys()].sort();
    hoursNeeded.add(hours[0]!).add(hours.at(-1)!);
  }
  const recoveryHours = new Map<string, { firstFailureHour: string; nextSuccessHour?: string }>();
  for (const [eventType, r] of failing) {
    const firstFailureHour = r.failureHours.sort()[0]!;
    const nextSuccessHour = r.successHours.filter((h) => h >= firstFailureHour).sort()[0];
    recoveryHours.set(eventType, { firstFailureHour, ...(nextSuccessHour ? { nextSuccessHour } : {}) });
    hoursNeeded.add(firstFailureHour);
    if (nextSuccessHour) hoursNeeded.add(nextSuccessHour);
  }
  const minuteRows = new Map<string, AggregateRow[]>();
  await Promise.all(
    [...hoursNeeded].map(async (hour) => {
      minuteRows.set(hour, await readAggregates(caller.tenant, 'MINUTE', iso(hourStart(hour)), iso(hourStart(hour) + HOUR)));
    }),
  );
  reads += hoursNeeded.size;

  const middle = start + Math.floor((end - start) / HOUR / 2) * HOUR;
  const errorPatterns = top.map((p) => {
    const hours = [...p.hours.keys()].sort();
    const failingMinutes = (hour: string) =>
      (minuteRows.get(hour) ?? [])
        .filter((row) => row.eventType === p.eventType && row.errorType === p.errorType && row.failures > 0)
        .map((row) => row.bucket)
        .sort();
    const firstHalf = [...p.hours].filter(([hour]) => hourStart(hour) < middle).reduce((sum, [, n]) => sum + n, 0);
    const secondHalf = p.count - firstHalf;
    const lastMinute = failingMinutes(hours.at(-1)!).at(-1);
    const firstMinute = failingMinutes(hours[0]!)[0];
    return {
      eventType: p.eventType,
      errorType: p.errorType,
      count: p.count,
      firstSeen: firstMinute ? minuteIso(firstMinute) : null,
      lastSeen: lastMinute ? minuteIso(lastMinute) : null,
      trend: { firstHalf, secondHalf, direction: secondHalf > firstHalf ? 'rising' : secondHalf < firstHalf ? 'falling' : 'flat' },
      hourly: hours.map((hour) => ({ t: iso(hourStart(hour)), count: p.hours.get(hour)! })),
      samples: p.samples.sort((a, b) => (a.timestamp < b.timestamp ? 1 : a.timestamp > b.timestamp ? -1 : 0)).slice(0, SAMPLES_PER_PATTERN),
    };
  });

  const recovery = [...recoveryHours.entries()].map(([eventType, { firstFailureHour, nextSuccessHour }]) => {
    const minutesOf = (hour: string | undefined) => (hour ? (minuteRows.get(hour) ?? []).filter((row) => row.eventType === eventType) : []);
    const firstFailure = minutesOf(firstFailureHour).filter((row) => row.failures > 0).map((row) => row.bucket).sort()[0];
    const successMinutes = new Map<string, number>();
    for (const row of [...minutesOf(firstFailureHour), ...(nextSuccessHour === firstFailureHour ? [] : minutesOf(nextSuccessHour))]) {
      successMinutes.set(row.bucket, (successMinutes.get(row.bucket) ?? 0) + row.count - row.failures);
    }
    const recoveredMinute = firstFailure ? [...successMinutes].filter(([minute, n]) => n > 0 && minute >= firstFailure).map(([minute]) => minute).sort()[0] : undefined;
    return {
      eventType,
      failures: routes.get(eventType)!.failures,
      firstFailure: firstFailure ? minuteIso(firstFailure) : null,
      recoveredAt: recoveredMinute ? minuteIso(recoveredMinute) : null,
      recoveryMs: firstFailure && recoveredMinute ? Date.parse(minuteIso(recoveredMinute)) - Date.parse(minuteIso(firstFailure)) : null,
    };
  });
  request.analytics.rows = hourRows.length + redriveItems.length;
  return rangeAnswer(caller.tenant, start, end, { resolution: 'minute', reads, patterns: errorPatterns, recovery, deadLetters: deadLetterRecovery(redriveItems) });
}

interface RedriveTotals {
  stored: number;
  recoveryMsSum: number;
  recovery: Histogram;
}

const recoveryStats = (t: RedriveTotals) => ({ mean: t.stored === 0 ? null : Math.round(t.recoveryMsSum / t.stored), ...distribution(t.recovery) });

/**
 * Events of the range (by their own timestamp) that went to the analytics DLQ, were
 * redriven and were stored, each once however often it came back; how long from its first
 * failure to stored; why it went there. From the REDRIVE# items (shared/analytics/store.ts).
 */
function deadLetterRecovery(items: Record<string, unknown>[]) {
  const all: RedriveTotals = { stored: 0, recoveryMsSum: 0, recovery: new Map() };
  const byEventType = new Map<string, RedriveTotals>();
  const byCause = Object.fromEntries(DEAD_LETTER_CAUSES.map((cause) => [cause, 0]));
  for (const item of items) {
    const eventType = String(item.eventType);
    const totals = byEventType.get(eventType) ?? { stored: 0, recoveryMsSum: 0, recovery: new Map() };
    byEventType.set(eventType, totals);
    for (const t of [all, totals]) {
      t.stored += Number(item.stored ?? 0);
      t.recoveryMsSum += Number(item.recoveryMsSum ?? 0);
      histogramOf(item, t.recovery, HISTOGRAM_PREFIX.recovery);
    }
    for (const cause of DEAD_LETTER_CAUSES) byCause[cause]! += Number(item[causeAttribute(cause)] ?? 0);
  }
  return {
    stored: all.stored,
    byCause,
    recoveryMs: recoveryStats(all),
    byEventType: [...byEventType]
      .sort((a, b) => b[1].stored - a[1].stored || (a[0] < b[0] ? -1 : 1))
      .map(([eventType, t]) => ({ eventType, stored: t.stored, recoveryMs: recoveryStats(t) })),
  };
}

/* ------------------------------------------------------------ health */

async function healthReport(request: ApiRequest) {
  const caller = request.caller();
  requireAdmin(caller);
  const query = queryParameters(request.event, ['from', 'to']);
  // Minute points: at most a day (1,440 points), default the last hour.
  const { from, to } = timeRange(query, HOUR, 1);
  const start = floorTo(from, MINUTE);
  const end = ceilTo(to, MINUTE);
  const [rows, queues] = await Promise.all([readAggregates(caller.tenant, 'MINUTE', iso(start), iso(end)), queueDepths()]);
  const perMinute = new Map<string, { count: number; failures: number }>();
  const lag: Histogram = new Map();
  let count = 0;
  let failures = 0;
  for (const row of rows) {
    const point = perMinute.get(row.bucket) ?? { count: 0, failures: 0 };
    point.count += row.count;
    point.failures += row.failures;
    perMinute.set(row.bucket, point);
    count += row.count;
    failures += row.failures;
    mergeHistograms(lag, histogramOf(row.item, new Map(), HISTOGRAM_PREFIX.processingLag));
  }
  const throughput = [];
  for (let t = start; t < end; t += MINUTE) {
    const point = perMinute.get(iso(t).slice(0, 16));
    throughput.push({ t: iso(t), count: point?.count ?? 0, failures: point?.failures ?? 0 });
  }
  request.analytics.rows = rows.length;
  return rangeAnswer(caller.tenant, start, end, {
    reads: daysTouched(start, end),
    totals: { count, failures, errorRate: count === 0 ? 0 : round3(failures / count), peakPerMinute: Math.max(0, ...throughput.map((p) => p.count)) },
    processingLagMs: { p50: percentile(lag, 0.5) ?? null, p95: percentile(lag, 0.95) ?? null },
    // The queues are the whole system's, not the tenant's: depths only, no message content.
    queues,
    throughputPerMinute: throughput,
  });
}

/* ------------------------------------------------------------ imports */

const IMPORT_COUNTERS = ['events', 'accepted', 'rejected', 'batches', 'failedBatches', 'chunksCompleted', 'succeeded', 'failed', 'created'] as const;

interface ImportProgress {
  importId: string;
  collection?: string;
  startedAt?: string;
  /** Sums over the import's events: the API's accepted/rejected items, the worker's batches and items. */
  counts: Record<string, number>;
  /** From IMPORT_COMPLETED: the job's final status and counts. */
  outcome?: { status?: string; completedAt?: string; [count: string]: unknown };
}

async function importsReport(request: ApiRequest) {
  const caller = request.caller();
  requireAdmin(caller);
  const query = queryParameters(request.event, ['from', 'to']);
  const { from, to } = timeRange(query, 7 * DAY);
  const start = floorTo(from, DAY);
  const end = ceilTo(to, DAY);
  const days: string[] = [];
  for (let t = start; t < end; t += DAY) days.push(iso(t).slice(0, 10));
  const items = await readImportAggregates(caller.tenant, days);
  // An import's events may fall on several days: its items are summed.
  const imports = new Map<string, ImportProgress>();
  for (const item of items) {
    const importId = String(item.importId);
    const entry: ImportProgress = imports.get(importId) ?? { importId, counts: Object.fromEntries(IMPORT_COUNTERS.map((k) => [k, 0])) };
    for (const counter of IMPORT_COUNTERS) entry.counts[counter] = (entry.counts[counter] ?? 0) + Number(item[counter] ?? 0);
    if (typeof item.collection === 'string') entry.collection = item.collection;
    if (typeof item.startedAt === 'string') entry.startedAt = item.startedAt;
    if (item.outcome && typeof item.outcome === 'object') entry.outcome = item.outcome as ImportProgress['outcome'];
    imports.set(importId, entry);
  }
  request.analytics.rows = items.length;
  const list = [...imports.values()]
    .map((entry) => ({ ...entry, status: entry.outcome?.status ?? 'IN_PROGRESS' }))
    .sort((a, b) => (b.startedAt ?? '').localeCompare(a.startedAt ?? '') || (a.importId < b.importId ? -1 : 1));
  return rangeAnswer(caller.tenant, start, end, { reads: days.length, imports: list });
}

export const insightRoutes: Record<string, Route> = {
  'GET /analytics/performance': { type: 'ANALYTICS_PERFORMANCE', action: 'EXECUTE', category: 'QUERY', handle: performanceReport },
  'GET /analytics/errors': { type: 'ANALYTICS_ERRORS', action: 'EXECUTE', category: 'QUERY', handle: errorsReport },
  'GET /analytics/health': { type: 'ANALYTICS_HEALTH', action: 'EXECUTE', category: 'QUERY', handle: healthReport },
  'GET /analytics/imports': { type: 'ANALYTICS_IMPORTS', action: 'EXECUTE', category: 'QUERY', handle: importsReport },
};
