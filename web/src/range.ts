/** The time-range picker's choices and the query they become. */
export const ranges = {
  '15m': { label: 'Last 15 minutes', minutes: 15 },
  '1h': { label: 'Last hour', minutes: 60 },
  '6h': { label: 'Last 6 hours', minutes: 360 },
  '24h': { label: 'Last 24 hours', minutes: 1440 },
  '7d': { label: 'Last 7 days', minutes: 7 * 1440 },
} as const;

export type RangeKey = keyof typeof ranges;

export interface TimeRange {
  key: RangeKey;
  from: string;
  to: string;
  /** Minute buckets up to a day (≤ 1,440 points, the API allows 1,500), hours beyond. */
  interval: 'minute' | 'hour';
}

export function isRangeKey(value: string | null): value is RangeKey {
  return value !== null && Object.hasOwn(ranges, value);
}

/** Ends at the next whole minute (the API's resolution), so the current minute is in. */
export function timeRange(key: RangeKey, now: number = Date.now()): TimeRange {
  const to = Math.ceil(now / 60_000) * 60_000;
  const span = ranges[key].minutes * 60_000;
  return { key, from: new Date(to - span).toISOString(), to: new Date(to).toISOString(), interval: ranges[key].minutes <= 1440 ? 'minute' : 'hour' };
}

/** The same range cut to its last `maxMinutes` (routes with a shorter limit, e.g. health: 1 day). */
export function lastMinutes(range: TimeRange, maxMinutes: number): { from: string; to: string } {
  const to = Date.parse(range.to);
  return { from: new Date(Math.max(Date.parse(range.from), to - maxMinutes * 60_000)).toISOString(), to: range.to };
}
