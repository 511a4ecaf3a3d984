/**
 * Duration histograms with log-spaced buckets, mergeable by addition (DynamoDB ADD).
 *
 * Bucket i holds durations d with RATIO^(i-OFFSET) <= d < RATIO^(i-OFFSET+1); a bucket is
 * reported as its geometric midpoint, so any percentile read back is within
 * sqrt(RATIO) - 1 ≈ 2% of a duration that really is at that rank. Durations below 1 µs
 * share the lowest bucket. Buckets are stored sparsely as attributes `<prefix><i>`: `h` for
 * durations (the default), and one prefix per other measured quantity (HISTOGRAM_PREFIX).
 * The same buckets serve any positive quantity (megabytes, lags in ms).
 */
export const RATIO = 1.04;
const OFFSET = 400;
const MIN_DURATION_MS = 0.001;
export const BUCKET_PREFIX = 'h';
/** The attribute prefix of each histogram an aggregate item may hold. */
export const HISTOGRAM_PREFIX = { duration: 'h', processingLag: 'l', rss: 'r', heap: 'm', initDuration: 'i', recovery: 'w' } as const;

export type Histogram = Map<number, number>;

export function bucketOf(durationMs: number): number {
  const d = Math.max(durationMs, MIN_DURATION_MS);
  return Math.floor(Math.log(d) / Math.log(RATIO)) + OFFSET;
}

export function bucketValue(bucket: number): number {
  return RATIO ** (bucket - OFFSET + 0.5);
}

export function bucketAttribute(bucket: number, prefix: string = BUCKET_PREFIX): string {
  return `${prefix}${bucket}`;
}

/** Reads the `<prefix><i>` attributes of an item into (or onto) a histogram. */
export function histogramOf(item: Record<string, unknown>, into: Histogram = new Map(), prefix: string = BUCKET_PREFIX): Histogram {
  for (const [key, value] of Object.entries(item)) {
    if (!key.startsWith(prefix) || !/^\d+$/.test(key.slice(prefix.length)) || typeof value !== 'number') continue;
    const bucket = Number(key.slice(prefix.length));
    into.set(bucket, (into.get(bucket) ?? 0) + value);
  }
  return into;
}

export function mergeHistograms(target: Histogram, source: Histogram): Histogram {
  for (const [bucket, count] of source) target.set(bucket, (target.get(bucket) ?? 0) + count);
  return target;
}

/** Nearest-rank percentile (q in (0, 1]); undefined for an empty histogram. */
export function percentile(histogram: Histogram, q: number): number | undefined {
  const total = [...histogram.values()].reduce((a, b) => a + b, 0);
  if (total === 0) return undefined;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (const bucket of [...histogram.keys()].sort((a, b) => a - b)) {
    seen += histogram.get(bucket)!;
    if (seen >= rank) return Math.round(bucketValue(bucket) * 1000) / 1000;
  }
  return undefined;
}
