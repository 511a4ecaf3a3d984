/**
 * The analytics API's time ranges: `from`/`to` from the query, and the aggregate rows that
 * cover a range with the fewest reads.
 */
import * as v from 'valibot';
import { readAggregates, type AggregateRow } from '../shared/analytics/store.ts';
import { validationFailed } from '../shared/http/errors.ts';
import { parseWith } from '../shared/http/request.ts';

export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;
export const MAX_RANGE_DAYS = 92;

const isoTime = v.pipe(v.string(), v.isoTimestamp('must be an ISO 8601 timestamp, e.g. 2026-01-31T12:00:00Z'));

export function floorTo(ms: number, unit: number): number {
  return Math.floor(ms / unit) * unit;
}
export function ceilTo(ms: number, unit: number): number {
  return Math.ceil(ms / unit) * unit;
}
export const iso = (ms: number) => new Date(ms).toISOString();

/** [from, to) from the query; default the last `defaultSpan` (24 hours); at most `maxDays` (MAX_RANGE_DAYS). */
export function timeRange(query: Record<string, string>, defaultSpan = DAY, maxDays = MAX_RANGE_DAYS): { from: number; to: number } {
  // Present but empty (`?to=`) is a 400, not the default: a bad value never silently changes a result.
  const to = query.to !== undefined ? Date.parse(parseWith(isoTime, query.to, 'query.to')) : Date.now();
  const from = query.from !== undefined ? Date.parse(parseWith(isoTime, query.from, 'query.from')) : to - defaultSpan;
  if (!(from < to)) throw validationFailed([{ field: 'query.from', issue: 'must be before to' }]);
  if (to - from > maxDays * DAY) throw validationFailed([{ field: 'query.from', issue: `the range may span at most ${maxDays} days` }]);
  return { from, to };
}

/**
 * Aggregate rows covering [from, to) at minute resolution: minute rows for the partial
 * hours at either end, hour rows for the whole hours between (60x fewer items to read).
 */
export async function rowsFor(tenant: string, from: number, to: number): Promise<AggregateRow[]> {
  const start = floorTo(from, MINUTE);
  const end = ceilTo(to, MINUTE);
  const firstWholeHour = ceilTo(start, HOUR);
  const lastWholeHour = floorTo(end, HOUR);
  if (firstWholeHour >= lastWholeHour) return readAggregates(tenant, 'MINUTE', iso(start), iso(end));
  const parts = await Promise.all([
    readAggregates(tenant, 'MINUTE', iso(start), iso(firstWholeHour)),
    readAggregates(tenant, 'HOUR', iso(firstWholeHour), iso(lastWholeHour)),
    readAggregates(tenant, 'MINUTE', iso(lastWholeHour), iso(end)),
  ]);
  return parts.flat();
}

/** A read's answer: the tenant and the range it covers (after widening), then the route's own fields. */
export function rangeAnswer(tenant: string, start: number, end: number, body: Record<string, unknown>) {
  return { statusCode: 200, body: { tenant, from: iso(start), to: iso(end), ...body } };
}
