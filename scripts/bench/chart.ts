/** A dependency-free SVG chart of latency distributions (one box per series: p50–p99, whiskers min–max). */
import { percentile } from './stats.ts';

export function latencyChartSvg(title: string, series: Record<string, readonly number[]>): string {
  const names = Object.keys(series);
  const width = 720;
  const rowHeight = 46;
  const left = 170;
  const right = 40;
  const top = 50;
  const height = top + names.length * rowHeight + 50;
  const all = names.flatMap((name) => [...series[name]!]);
  const max = Math.max(...all.map((v) => v), 0.001);
  // A log scale keeps sub-millisecond and tens-of-milliseconds series readable together.
  const minPositive = Math.max(Math.min(...all.filter((v) => v > 0)), 0.01);
  const x = (v: number) => left + ((Math.log10(Math.max(v, minPositive)) - Math.log10(minPositive)) / (Math.log10(max) - Math.log10(minPositive) || 1)) * (width - left - right);
  const rows = names.map((name, i) => {
    const samples = series[name]!;
    const y = top + i * rowHeight + rowHeight / 2;
    const [min, p50, p90, p99, maxV] = [0, 50, 90, 99, 100].map((p) => (p === 0 ? Math.min(...samples) : percentile(samples, p)));
    return [
      `<text x="${left - 10}" y="${y + 4}" text-anchor="end" font-size="13">${escape(name)}</text>`,
      `<line x1="${x(min!)}" x2="${x(maxV!)}" y1="${y}" y2="${y}" stroke="#888"/>`,
      `<rect x="${x(p50!)}" y="${y - 10}" width="${Math.max(1, x(p99!) - x(p50!))}" height="20" fill="#9ecae1" stroke="#3182bd"/>`,
      `<line x1="${x(p90!)}" x2="${x(p90!)}" y1="${y - 10}" y2="${y + 10}" stroke="#3182bd" stroke-dasharray="2,2"/>`,
      `<line x1="${x(p50!)}" x2="${x(p50!)}" y1="${y - 12}" y2="${y + 12}" stroke="#08519c" stroke-width="2"/>`,
      `<text x="${x(p99!) + 6}" y="${y + 4}" font-size="11" fill="#555">p50 ${p50!.toFixed(2)} · p99 ${p99!.toFixed(2)} ms</text>`,
    ].join('');
  });
  const ticks: string[] = [];
  for (let exp = Math.floor(Math.log10(minPositive)); exp <= Math.ceil(Math.log10(max)); exp++) {
    const v = 10 ** exp;
    if (v < minPositive || v > max * 1.01) continue;
    ticks.push(`<line x1="${x(v)}" x2="${x(v)}" y1="${top - 5}" y2="${height - 40}" stroke="#eee"/><text x="${x(v)}" y="${height - 25}" font-size="11" text-anchor="middle">${v} ms</text>`);
  }
  return svgDocument(width, height, title, 24, [...ticks, ...rows, `<text x="${left}" y="${height - 8}" font-size="10" fill="#777">box: p50 to p99 (dashed: p90) · whisker: min to max · log scale</text>`]);
}

/** An SVG document: white background, a bold title, then `body`. */
function svgDocument(width: number, height: number, title: string, titleY: number, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="${titleY}" text-anchor="middle" font-size="15" font-weight="bold">${escape(title)}</text>`,
    ...body,
    `</svg>`,
  ].join('\n');
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const SERIES_COLOURS = ['#3182bd', '#e6550d', '#31a354', '#756bb1'];

/** Horizontal grouped bars: one group per row, one bar per series (e.g. ours and naive), labelled with their values. */
export function barChartSvg(title: string, unit: string, rows: Array<{ label: string; values: Record<string, number> }>): string {
  const series = [...new Set(rows.flatMap((r) => Object.keys(r.values)))];
  const width = 760;
  const left = 260;
  const right = 90;
  const top = 60;
  const barHeight = 14;
  const groupHeight = series.length * barHeight + 12;
  const height = top + rows.length * groupHeight + 30;
  const max = Math.max(...rows.flatMap((r) => Object.values(r.values)), 1e-9);
  const x = (v: number) => left + (v / max) * (width - left - right);
  const bars = rows.flatMap((row, i) => {
    const y0 = top + i * groupHeight;
    return [
      `<text x="${left - 8}" y="${y0 + (series.length * barHeight) / 2 + 4}" text-anchor="end" font-size="12">${escape(row.label)}</text>`,
      ...series.map((name, j) => {
        const value = row.values[name];
        if (value === undefined) return '';
        const y = y0 + j * barHeight;
        return `<rect x="${left}" y="${y}" width="${Math.max(1, x(value) - left)}" height="${barHeight - 2}" fill="${SERIES_COLOURS[j % SERIES_COLOURS.length]}"/><text x="${x(value) + 4}" y="${y + barHeight - 4}" font-size="10" fill="#333">${value.toFixed(2)}</text>`;
      }),
    ];
  });
  const legend = series.map((name, j) => `<rect x="${left + j * 150}" y="34" width="12" height="12" fill="${SERIES_COLOURS[j % SERIES_COLOURS.length]}"/><text x="${left + j * 150 + 16}" y="44" font-size="12">${escape(name)}</text>`);
  return svgDocument(width, height, title, 20, [...legend, ...bars, `<text x="${left}" y="${height - 8}" font-size="10" fill="#777">${escape(unit)}</text>`]);
}

/** Lines of y against x, one per series, with points marked: e.g. throughput and throttles against offered load. */
export function lineChartSvg(title: string, axes: { x: string; y: string }, series: Record<string, Array<{ x: number; y: number }>>): string {
  const width = 760;
  const height = 420;
  const left = 80;
  const right = 200;
  const top = 50;
  const bottom = 60;
  const points = Object.values(series).flat();
  const maxX = Math.max(...points.map((p) => p.x), 1);
  const maxY = Math.max(...points.map((p) => p.y), 1);
  const x = (v: number) => left + (v / maxX) * (width - left - right);
  const y = (v: number) => height - bottom - (v / maxY) * (height - top - bottom);
  const ticks = [0, 0.25, 0.5, 0.75, 1].flatMap((f) => [
    `<line x1="${left}" x2="${width - right}" y1="${y(f * maxY)}" y2="${y(f * maxY)}" stroke="#eee"/><text x="${left - 6}" y="${y(f * maxY) + 4}" font-size="11" text-anchor="end">${Math.round(f * maxY)}</text>`,
    `<text x="${x(f * maxX)}" y="${height - bottom + 16}" font-size="11" text-anchor="middle">${Math.round(f * maxX)}</text>`,
  ]);
  const lines = Object.entries(series).map(([name, pts], j) => {
    const colour = SERIES_COLOURS[j % SERIES_COLOURS.length];
    const sorted = [...pts].sort((a, b) => a.x - b.x);
    return [
      `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${sorted.map((p) => `${x(p.x)},${y(p.y)}`).join(' ')}"/>`,
      ...sorted.map((p) => `<circle cx="${x(p.x)}" cy="${y(p.y)}" r="3" fill="${colour}"/>`),
      `<rect x="${width - right + 12}" y="${top + j * 20}" width="12" height="12" fill="${colour}"/><text x="${width - right + 28}" y="${top + j * 20 + 10}" font-size="11">${escape(name)}</text>`,
    ].join('');
  });
  return svgDocument(width, height, title, 24, [
    ...ticks,
    `<line x1="${left}" x2="${left}" y1="${top}" y2="${height - bottom}" stroke="#888"/><line x1="${left}" x2="${width - right}" y1="${height - bottom}" y2="${height - bottom}" stroke="#888"/>`,
    ...lines,
    `<text x="${(left + width - right) / 2}" y="${height - 20}" font-size="12" text-anchor="middle">${escape(axes.x)}</text>`,
    `<text x="16" y="${(top + height - bottom) / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 16 ${(top + height - bottom) / 2})">${escape(axes.y)}</text>`,
  ]);
}
