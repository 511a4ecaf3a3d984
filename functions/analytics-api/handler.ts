/**
 * Analytics API: admin reads of the current tenant's analytics (from aggregates, never a
 * scan of raw events) and the front-end's event intake.
 *
 *   GET  /analytics/summary?from&to&eventType&category
 *   GET  /analytics/timeseries?metric=count|errors|p95&interval=minute|hour&from&to
 *   GET  /analytics/users/{userId}/events?from&to&cursor&limit
 *   POST /events   {"events":[{action,type,properties?,timestamp?,traceId?}]}   (any signed-in user)
 *   GET  /analytics/performance|errors|health|imports   (./insights.ts)
 *   GET  /analytics/features|sessions|funnels            (./behaviour.ts)
 *
 * Tenancy: every read is keyed by the caller's tenant (from the token, never from the
 * request), so an admin sees their own tenant's analytics only.
 */
// First: registers the after-response extension during Init (a top-level await there).
import '../shared/after-response.ts';
import * as v from 'valibot';
import { recordAnalytics } from '../shared/analytics/emitter.ts';
import { EVENT_CATEGORIES, ANALYTICS_SUFFIX, type EventCategory } from '../shared/analytics/event.ts';
import { frontEndCategory } from '../shared/analytics/classify.ts';
import { histogramOf, mergeHistograms, percentile, type Histogram } from '../shared/analytics/histogram.ts';
import { eventKey, userPartition, type Granularity } from '../shared/analytics/keys.ts';
import { TYPE_NAME } from '../shared/analytics/schema.ts';
import { readAggregates, readUserEvents, type AggregateRow } from '../shared/analytics/store.ts';
import { ceilTo, DAY, floorTo, HOUR, iso, MINUTE, rowsFor, timeRange } from './range.ts';
import { insightRoutes } from './insights.ts';
import { behaviourRoutes } from './behaviour.ts';
import { requireAdmin } from '../shared/http/caller.ts';
import { itemDataProblems } from '../shared/items/validate.ts';
import { validationFailed, type ErrorDetail } from '../shared/http/errors.ts';
import { httpFunction, type ApiRequest } from '../shared/http/http-function.ts';
import { issuesToDetails, jsonObjectBody, parseWith, pathParameter, queryParameters } from '../shared/http/request.ts';


export { MAX_RANGE_DAYS } from './range.ts';
export const MAX_POINTS = 1_500;
export const MAX_EVENTS_PER_POST = 100;
const MAX_PROPERTIES_BYTES = 8 * 1024;
const MAX_POST_BYTES = 512 * 1024;

/* ------------------------------------------------------------ summary */

interface Totals {
  count: number;
  failures: number;
  duplicatesDropped: number;
  durationCount: number;
  durationSum: number;
  histogram: Histogram;
}

const emptyTotals = (): Totals => ({ count: 0, failures: 0, duplicatesDropped: 0, durationCount: 0, durationSum: 0, histogram: new Map() });

function addRow(totals: Totals, row: AggregateRow): Totals {
  totals.count += row.count;
  totals.failures += row.failures;
  totals.duplicatesDropped += row.duplicates;
  totals.durationCount += row.durationCount;
  totals.durationSum += row.durationSum;
  mergeHistograms(totals.histogram, histogramOf(row.item));
  return totals;
}

function present(totals: Totals) {
  const round = (n: number) => Math.round(n * 1000) / 1000;
  return {
    count: totals.count,
    failures: totals.failures,
    errorRate: totals.count === 0 ? 0 : round(totals.failures / totals.count),
    duplicatesDropped: totals.duplicatesDropped,
    duration: {
      count: totals.durationCount,
      mean: totals.durationCount === 0 ? null : round(totals.durationSum / totals.durationCount),
      p50: percentile(totals.histogram, 0.5) ?? null,
      p95: percentile(totals.histogram, 0.95) ?? null,
      p99: percentile(totals.histogram, 0.99) ?? null,
    },
  };
}

function breakdown(rows: AggregateRow[], keyOf: (row: AggregateRow) => string, name: string) {
  const groups = new Map<string, Totals>();
  for (const row of rows) groups.set(keyOf(row), addRow(groups.get(keyOf(row)) ?? emptyTotals(), row));
  return [...groups.entries()].sort((a, b) => b[1].count - a[1].count || (a[0] < b[0] ? -1 : 1)).map(([key, totals]) => ({ [name]: key, ...present(totals) }));
}

function errorTypes(rows: AggregateRow[]): Array<{ errorType: string; count: number }> {
  const counts = new Map<string, number>();
  for (const row of rows) if (row.errorType !== '-') counts.set(row.errorType, (counts.get(row.errorType) ?? 0) + row.failures);
  return [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([errorType, count]) => ({ errorType, count }));
}

const filterSchema = v.object({
  eventType: v.optional(v.pipe(v.string(), v.regex(TYPE_NAME, 'must match [A-Za-z0-9_.:-]{1,128}'))),
  category: v.optional(v.picklist(EVENT_CATEGORIES, `must be one of ${EVENT_CATEGORIES.join(', ')}`)),
});

/** `ITEM_GET` and `ITEM_GET_ANALYTICS` both name the same event type. */
const withSuffix = (type: string) => (type.endsWith(ANALYTICS_SUFFIX) ? type : `${type}${ANALYTICS_SUFFIX}`);

async function summary(request: ApiRequest) {
  const caller = request.caller();
  requireAdmin(caller);
  const query = queryParameters(request.event, ['from', 'to', 'eventType', 'category']);
  const { from, to } = timeRange(query);
  const filters = parseWith(filterSchema, { eventType: query.eventType, category: query.category }, 'query');
  const rows = (await rowsFor(caller.tenant, from, to)).filter(
    (row) => (!filters.eventType || row.eventType === withSuffix(filters.eventType)) && (!filters.category || row.category === filters.category),
  );
  const totals = rows.reduce(addRow, emptyTotals());
  request.analytics.rows = rows.length;
  return {
    statusCode: 200,
    body: {
      tenant: caller.tenant,
      from: iso(floorTo(from, MINUTE)),
      to: iso(ceilTo(to, MINUTE)),
      filters: { ...(filters.eventType ? { eventType: withSuffix(filters.eventType) } : {}), ...(filters.category ? { category: filters.category } : {}) },
      totals: present(totals),
      byEventType: breakdown(rows, (r) => r.eventType, 'eventType'),
      byCategory: breakdown(rows, (r) => r.category, 'category'),
      byErrorType: errorTypes(rows),
    },
  };
}

/* ------------------------------------------------------------ timeseries */

const timeseriesSchema = v.object({
  metric: v.optional(v.picklist(['count', 'errors', 'p95'], 'must be count, errors or p95'), 'count'),
  interval: v.optional(v.picklist(['minute', 'hour'], 'must be minute or hour'), 'hour'),
});

async function timeseries(request: ApiRequest) {
  const caller = request.caller();
  requireAdmin(caller);
  const query = queryParameters(request.event, ['metric', 'interval', 'from', 'to', 'eventType', 'category']);
  const { metric, interval } = parseWith(timeseriesSchema, { metric: query.metric, interval: query.interval }, 'query');
  const filters = parseWith(filterSchema, { eventType: query.eventType, category: query.category }, 'query');
  const unit = interval === 'minute' ? MINUTE : HOUR;
  const { from, to } = timeRange(query, interval === 'minute' ? HOUR : DAY);
  const start = floorTo(from, unit);
  const end = ceilTo(to, unit);
  const points = (end - start) / unit;
  if (points > MAX_POINTS) throw validationFailed([{ field: 'query.interval', issue: `${points} points requested; at most ${MAX_POINTS} (use a coarser interval or a shorter range)` }]);
  const granularity: Granularity = interval === 'minute' ? 'MINUTE' : 'HOUR';
  const rows = (await readAggregates(caller.tenant, granularity, iso(start), iso(end))).filter(
    (row) => (!filters.eventType || row.eventType === withSuffix(filters.eventType)) && (!filters.category || row.category === filters.category),
  );
  const buckets = new Map<string, Totals>();
  for (const row of rows) buckets.set(row.bucket, addRow(buckets.get(row.bucket) ?? emptyTotals(), row));
  const series = [];
  for (let t = start; t < end; t += unit) {
    const key = interval === 'minute' ? iso(t).slice(0, 16) : iso(t).slice(0, 13);
    const totals = buckets.get(key);
    const value = metric === 'count' ? (totals?.count ?? 0) : metric === 'errors' ? (totals?.failures ?? 0) : totals ? (percentile(totals.histogram, 0.95) ?? null) : null;
    series.push({ t: iso(t), value });
  }
  return { statusCode: 200, body: { tenant: caller.tenant, metric, interval, from: iso(start), to: iso(end), points: series } };
}

/* ------------------------------------------------------------ a user's events */

const userEventsSchema = v.object({
  limit: v.optional(v.pipe(v.string(), v.regex(/^\d{1,3}$/, 'must be a whole number from 1 to 200'), v.transform(Number), v.minValue(1), v.maxValue(200, 'must be at most 200')), '50'),
  cursor: v.optional(v.pipe(v.string(), v.maxLength(2048, 'is too long'))),
});

const cursorKeySchema = v.strictObject({ pk: v.string(), sk: v.string(), userPk: v.string(), userSk: v.string() });

const ISO_PREFIX = /^\d{4}-\d{2}-\d{2}T/;

function decodeCursor(cursor: string, tenant: string, userPk: string): Record<string, unknown> {
  try {
    const key = v.parse(cursorKeySchema, JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    if (key.userPk !== userPk) throw new Error('cursor for another user');
    // Exactly the key of an event of this tenant (see eventItem): an edited one is a 400, not a query the store refuses.
    const [timestamp = '', eventId = ''] = key.userSk.split('#');
    if (key.sk !== key.userSk || key.pk !== eventKey(tenant, timestamp, eventId).pk || !ISO_PREFIX.test(key.userSk)) throw new Error('not an event key');
    return key;
  } catch {
    throw validationFailed([{ field: 'query.cursor', issue: 'is not a cursor this request returned' }]);
  }
}

const ENRICHMENT_FIELDS = ['eventId', 'tenant', 'receivedAt', 'processingLagMs', 'environment', 'day', 'hour'] as const;

async function userEvents(request: ApiRequest) {
  const caller = request.caller();
  requireAdmin(caller);
  const userId = pathParameter(request.event, 'userId', /^[^#\s]{1,256}$/);
  const query = queryParameters(request.event, ['from', 'to', 'cursor', 'limit']);
  const { from, to } = timeRange(query, 30 * DAY);
  const { limit, cursor } = parseWith(userEventsSchema, { limit: query.limit, cursor: query.cursor }, 'query');
  const userPk = userPartition(caller.tenant, userId);
  const page = await readUserEvents(caller.tenant, userId, iso(from), iso(to), limit, cursor ? decodeCursor(cursor, caller.tenant, userPk) : undefined);
  const events = page.events.map((item) => {
    const event = item.event as Record<string, unknown>;
    const enrichment = Object.fromEntries(ENRICHMENT_FIELDS.map((field) => [field, item[field]]));
    return { ...event, ...enrichment };
  });
  request.analytics.resultCount = events.length;
  return { statusCode: 200, body: { events, nextCursor: page.lastKey ? Buffer.from(JSON.stringify(page.lastKey)).toString('base64url') : null } };
}

/* ------------------------------------------------------------ front-end events */

const FRONT_END_NAME = /^[A-Z][A-Z0-9_]{0,63}$/;
/**
 * Front-end events are what a signed-in user says happened, not what the server did: their
 * types live in a namespace of their own (`frontend:BUTTON_CLICKED`), so a user who posts
 * `ITEM_PUT` adds to `frontend:ITEM_PUT`, never to the server's ITEM_PUT counts. Server
 * types are UPPER_SNAKE without a colon, so the two cannot meet.
 */
export const FRONT_END_NAMESPACE = 'frontend:';
/** Where properties sit in the stored item: event.detail.metadata.properties (DynamoDB counts nesting from the item). */
const PROPERTIES_LEVEL = 4;
const MAX_AGE_MS = 7 * DAY;
const MAX_SKEW_MS = 5 * MINUTE;

const frontEndEventSchema = v.strictObject({
  action: v.pipe(v.string('must be a string'), v.regex(FRONT_END_NAME, 'must be UPPER_SNAKE_CASE, 1-64 characters')),
  type: v.pipe(
    v.string('must be a string'),
    v.regex(FRONT_END_NAME, 'must be UPPER_SNAKE_CASE, 1-64 characters'),
    v.check((type) => !type.endsWith(ANALYTICS_SUFFIX), `must not end with ${ANALYTICS_SUFFIX} (it is added)`),
  ),
  properties: v.optional(
    v.pipe(
      v.custom<Record<string, unknown>>((p) => p !== null && typeof p === 'object' && !Array.isArray(p), 'must be an object'),
      v.check((p) => Buffer.byteLength(JSON.stringify(p)) <= MAX_PROPERTIES_BYTES, `must be at most ${MAX_PROPERTIES_BYTES} bytes as JSON`),
    ),
  ),
  timestamp: v.optional(
    v.pipe(
      v.string('must be a string'),
      v.isoTimestamp('must be an ISO 8601 timestamp'),
      v.check((t) => Date.parse(t) <= Date.now() + MAX_SKEW_MS, 'is in the future'),
      v.check((t) => Date.parse(t) >= Date.now() - MAX_AGE_MS, 'is more than 7 days old'),
    ),
  ),
  traceId: v.optional(v.pipe(v.string('must be a string'), v.regex(/^[A-Za-z0-9-]{1,128}$/, 'must match [A-Za-z0-9-]{1,128}'))),
});

async function ingest(request: ApiRequest) {
  const caller = request.caller();
  const body = jsonObjectBody(request.event, MAX_POST_BYTES);
  const unknownKeys = Object.keys(body).filter((key) => key !== 'events');
  if (unknownKeys.length > 0) throw validationFailed(unknownKeys.map((key) => ({ field: `body.${key}`, issue: 'unknown field' })));
  const list = body.events;
  if (!Array.isArray(list) || list.length === 0) throw validationFailed([{ field: 'body.events', issue: 'must be a non-empty array' }]);
  if (list.length > MAX_EVENTS_PER_POST) throw validationFailed([{ field: 'body.events', issue: `at most ${MAX_EVENTS_PER_POST} events per request, got ${list.length}` }]);

  // All or nothing: a batch with a rejected event is refused whole, naming every culprit.
  const details: ErrorDetail[] = [];
  const accepted: Array<v.InferOutput<typeof frontEndEventSchema>> = [];
  list.forEach((item: unknown, index) => {
    const result = v.safeParse(frontEndEventSchema, item);
    if (!result.success) details.push(...issuesToDetails(result.issues, `body.events.${index}`));
    else {
      // The write path's checks: what DynamoDB would refuse is a 400 here, never an event
      // accepted with 202 and dropped by the processor.
      const problems = result.output.properties ? itemDataProblems(result.output.properties, `body.events.${index}.properties`, PROPERTIES_LEVEL) : [];
      if (problems.length > 0) details.push(...problems);
      else accepted.push(result.output);
    }
  });
  if (details.length > 0) throw validationFailed(details);

  const requestId = request.context.awsRequestId;
  accepted.forEach((event, index) => {
    const category: EventCategory = frontEndCategory(event.type);
    recordAnalytics({
      type: `${FRONT_END_NAMESPACE}${event.type}`,
      action: event.action,
      category,
      source: 'event-flows.frontend',
      status: 'SUCCESS',
      requestId,
      userId: caller.userId,
      ...(event.traceId ? { traceId: event.traceId } : {}),
      ...(event.timestamp ? { timestamp: new Date(event.timestamp) } : {}),
      context: request.context,
      // Identity comes from the token and overrides anything the client sent.
      properties: { ...(event.properties ?? {}), origin: 'frontend', batchIndex: index, tenant: caller.tenant },
    });
  });
  request.analytics.accepted = accepted.length;
  return { statusCode: 202, body: { accepted: accepted.length } };
}

export const handler = httpFunction({
  source: 'event-flows.analytics-api',
  routes: {
    'GET /analytics/summary': { type: 'ANALYTICS_SUMMARY', action: 'EXECUTE', category: 'QUERY', handle: summary },
    'GET /analytics/timeseries': { type: 'ANALYTICS_TIMESERIES', action: 'EXECUTE', category: 'QUERY', handle: timeseries },
    'GET /analytics/users/{userId}/events': { type: 'ANALYTICS_USER_EVENTS', action: 'EXECUTE', category: 'QUERY', handle: userEvents },
    'POST /events': { type: 'EVENTS_INGEST', action: 'WRITE', category: 'USER_ACTION', handle: ingest },
    ...insightRoutes,
    ...behaviourRoutes,
  },
});
