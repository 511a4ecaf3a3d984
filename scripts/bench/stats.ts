/** Small statistics helpers for the benchmarks. */

export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function median(samples: readonly number[]): number {
  return percentile(samples, 50);
}

export const round = (value: number, digits = 3) => Math.round(value * 10 ** digits) / 10 ** digits;

export interface LatencySummary {
  p50_ms: number;
  p99_ms: number;
}

export function summarize(samples: readonly number[]): LatencySummary {
  return { p50_ms: round(percentile(samples, 50)), p99_ms: round(percentile(samples, 99)) };
}

/** Fisher-Yates, so modes measured side by side take turns in random order. */
export function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
