/** How the dashboard writes numbers; the browser tests format the API's numbers with these too. */
export const dash = '–';

export function count(value: number | null | undefined): string {
  return value === null || value === undefined ? dash : value.toLocaleString('en-US');
}

/** A ratio (0.025) as a percentage (2.5 %). */
export function percent(ratio: number | null | undefined): string {
  return ratio === null || ratio === undefined ? dash : `${(ratio * 100).toFixed(1)} %`;
}

export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined) return dash;
  return `${value < 10 ? value.toFixed(2) : value < 1000 ? value.toFixed(1) : Math.round(value).toLocaleString('en-US')} ms`;
}

export function minutes(value: number | null | undefined): string {
  return value === null || value === undefined ? dash : `${value.toLocaleString('en-US', { maximumFractionDigits: 1 })} min`;
}

/** `2026-11-29T20:31:00.000Z` → `2026-11-29 20:31` (UTC, as the API buckets). */
export function time(iso: string | null | undefined): string {
  return iso ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}` : dash;
}

/** Event types without the `_ANALYTICS` suffix every stored type carries. */
export function eventType(type: string): string {
  return type.replace(/_ANALYTICS$/, '');
}
