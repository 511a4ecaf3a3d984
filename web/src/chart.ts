/**
 * A line chart in plain SVG. Three small time series do not need a chart library (uPlot
 * would add ~45 KB minified; this is under 2 KB): a polyline per run of known values, the
 * maximum and the range's ends as labels, and one point per bucket carrying its time and
 * value (`data-t`, `data-v`, a tooltip), which is also what the browser tests read.
 */
import { s } from './dom.ts';

export interface Point {
  t: string;
  value: number | null;
}

const width = 640;
const height = 160;
const pad = { left: 56, right: 8, top: 10, bottom: 22 };

export function lineChart(name: string, points: Point[], format: (value: number) => string): SVGElement {
  const values = points.map((p) => p.value).filter((v): v is number => v !== null);
  const max = Math.max(0, ...values) || 1;
  const x = (i: number) => pad.left + (points.length <= 1 ? 0 : (i / (points.length - 1)) * (width - pad.left - pad.right));
  const y = (v: number) => height - pad.bottom - (v / max) * (height - pad.top - pad.bottom);

  const runs: string[][] = [];
  let run: string[] = [];
  points.forEach((point, i) => {
    if (point.value === null) {
      if (run.length > 0) runs.push(run);
      run = [];
    } else run.push(`${x(i).toFixed(1)},${y(point.value).toFixed(1)}`);
  });
  if (run.length > 0) runs.push(run);

  const first = points[0]?.t ?? '';
  const last = points[points.length - 1]?.t ?? '';
  return s(
    'svg',
    { class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': name, 'data-chart': name },
    s('line', { class: 'axis', x1: pad.left, y1: height - pad.bottom, x2: width - pad.right, y2: height - pad.bottom }),
    s('line', { class: 'grid', x1: pad.left, y1: pad.top, x2: width - pad.right, y2: pad.top }),
    s('text', { class: 'label', x: pad.left - 6, y: pad.top + 4, 'text-anchor': 'end' }, format(max === 1 && values.every((v) => v === 0) ? 0 : max)),
    s('text', { class: 'label', x: pad.left - 6, y: height - pad.bottom, 'text-anchor': 'end' }, format(0)),
    s('text', { class: 'label', x: pad.left, y: height - 6 }, first.slice(11, 16)),
    s('text', { class: 'label', x: width - pad.right, y: height - 6, 'text-anchor': 'end' }, last.slice(11, 16)),
    ...runs.map((r) => (r.length === 1 ? s('circle', { class: 'line', cx: r[0]!.split(',')[0]!, cy: r[0]!.split(',')[1]!, r: 2 }) : s('polyline', { class: 'line', points: r.join(' ') }))),
    ...points.map((point, i) =>
      s(
        'circle',
        { class: 'point', cx: x(i).toFixed(1), cy: point.value === null ? height - pad.bottom : y(point.value).toFixed(1), r: 3, 'data-t': point.t, 'data-v': point.value === null ? '' : point.value },
        s('title', {}, `${point.t.slice(0, 16).replace('T', ' ')}  ${point.value === null ? 'no data' : format(point.value)}`),
      ),
    ),
  );
}
