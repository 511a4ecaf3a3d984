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
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${escape(title)}</text>`,
    ...ticks,
    ...rows,
    `<text x="${left}" y="${height - 8}" font-size="10" fill="#777">box: p50 to p99 (dashed: p90) · whisker: min to max · log scale</text>`,
    `</svg>`,
  ].join('\n');
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
