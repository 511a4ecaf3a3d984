/**
 * The figures that carry over to AWS, in one place for `npm run bench` and the docs: cost per
 * operation (./cost.ts) and the single-tenant ceilings (./scale.ts), ours against the naive
 * designs and before against after.
 *
 *   npx tsx scripts/bench/cost-scale.ts [--quick]
 *
 * runs them on its own emulator, prints the tables of docs/COST.md and docs/SCALE.md and
 * writes their charts (docs/cost-per-million.svg, docs/scale-analytics.svg, docs/scale-import.svg).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { barChartSvg, lineChartSvg } from './chart.ts';
import { costSummary, measureCosts, type CostResults } from './cost.ts';
import { ANALYTICS_WINDOW, IMPORT_WINDOW, modelNaive, simulateAnalytics, simulateImport, type ScaleModel, type ScaleRun, type SimulationWindow } from './scale.ts';

/** The unsharded layout saturates near 500 events/s: a longer window at its lower rates. */
const BEFORE_WINDOW: SimulationWindow = { warmUpSeconds: 0.1, measuredSeconds: 0.5, burstSeconds: 0.05 };
/** Each import message carries 98 items: a window of many messages at the lower rates. */
const IMPORT_SIM_WINDOW: SimulationWindow = { ...IMPORT_WINDOW, measuredSeconds: 2 };

export interface CostScale {
  cost: Record<string, ReturnType<typeof costSummary>>;
  cost_ratios: { analytics_event_after_to_before: number; analytics_event_ours_to_naive: number; import_item_ours_to_naive: number };
  scale: {
    analytics_events_per_s: { before: { model: number; simulated: number }; after: { model: number; simulated: number }; naive: { model: number } };
    import_items_per_s: { ours: { model: number; simulated: number }; naive: { model: number } };
    models: { analytics_before: ScaleModel; analytics_after: ScaleModel; import: ScaleModel; analytics_naive: ScaleModel; import_naive: ScaleModel };
    curves: { analytics_before: ScaleRun['points']; analytics_after: ScaleRun['points']; import: ScaleRun['points'] };
  };
  costs: CostResults;
}

export async function measureCostAndScale(endpoint: string, quick: boolean, progress: (line: string) => void = () => undefined): Promise<CostScale> {
  // The functions log JSON lines straight to stdout (thousands in the simulations): not printed here.
  const stdout = process.stdout.write;
  const quiet = (() => true) as typeof process.stdout.write;
  process.stdout.write = quiet;
  const say = (line: string) => {
    process.stdout.write = stdout;
    progress(line);
    process.stdout.write = quiet;
  };
  try {
    return await measureAll(endpoint, quick, say);
  } finally {
    process.stdout.write = stdout;
  }
}

async function measureAll(endpoint: string, quick: boolean, progress: (line: string) => void): Promise<CostScale> {
  progress('  cost per operation (every route, an analytics event, an imported item; ours and naive)');
  const costs = await measureCosts(endpoint, { analyticsEvents: quick ? 50 : 100, importItems: quick ? 500 : 1000 });
  progress('  simulated ceilings: analytics before (one partition per tenant and day)');
  const before = await simulateAnalytics(endpoint, 'unsharded', quick ? [1000] : [250, 500, 1000, 2000], BEFORE_WINDOW, 500);
  progress('  simulated ceilings: analytics after (write shards, adaptive counts growing under throttling)');
  const after = await simulateAnalytics(endpoint, 'sharded', quick ? [30_000] : [10_000, 20_000, 30_000], ANALYTICS_WINDOW, 500);
  progress('  simulated ceilings: import into one collection');
  // Item shards (docs/SCALE.md): the lower rates in the longer window, the higher ones (many messages a second) in the
  // shorter one. Not beyond the model's ceiling (about 16,000): past it, a short window mostly measures the buckets' burst.
  const importsLow = quick ? undefined : await simulateImport(endpoint, [250, 500, 1000], IMPORT_SIM_WINDOW, 490);
  const importsHigh = await simulateImport(endpoint, quick ? [10_000] : [5_000, 10_000, 15_000], IMPORT_WINDOW, 490);
  const importPoints = [...(importsLow?.points ?? []), ...importsHigh.points];
  const imports: ScaleRun = { model: importsHigh.model, points: importPoints, ceiling_per_s: Math.max(0, ...importPoints.map((p) => p.throughput_per_s)) };
  const naive = await modelNaive(endpoint, 500);
  const op = costs.operations;
  return {
    cost: Object.fromEntries(Object.entries(op).map(([name, o]) => [name, costSummary(o)])),
    cost_ratios: {
      analytics_event_after_to_before: Number((op.analytics_event!.usd_per_million / op.analytics_event_unsharded!.usd_per_million).toFixed(2)),
      analytics_event_ours_to_naive: Number((op.analytics_event!.usd_per_million / op.analytics_event_naive!.usd_per_million).toFixed(2)),
      import_item_ours_to_naive: Number((op.import_item!.usd_per_million / op.import_item_naive!.usd_per_million).toFixed(2)),
    },
    scale: {
      analytics_events_per_s: {
        before: { model: before.model.ceiling_per_s, simulated: before.ceiling_per_s },
        after: { model: after.model.ceiling_per_s, simulated: after.ceiling_per_s },
        naive: { model: naive.analytics.ceiling_per_s },
      },
      import_items_per_s: { ours: { model: imports.model.ceiling_per_s, simulated: imports.ceiling_per_s }, naive: { model: naive.import.ceiling_per_s } },
      models: { analytics_before: before.model, analytics_after: after.model, import: imports.model, analytics_naive: naive.analytics, import_naive: naive.import },
      curves: { analytics_before: before.points, analytics_after: after.points, import: imports.points },
    },
    costs,
  };
}

/** Suffix of the routes measured again with the analytics keys unsharded (./cost.ts). */
const UNSHARDED = ' (unsharded)';

const usd = (v: number) => `$${v.toFixed(2)}`;

/** The markdown tables of docs/COST.md. */
export function costTables(r: CostScale): string {
  const op = r.costs.operations;
  const row = (name: string, label = name) => {
    const o = op[name]!;
    const c = costSummary(o);
    return `| ${label} | ${c.calls} | ${c.write_units} | ${c.read_units} | ${usd(o.usd_per_million)} | ${(['lambda', 'api', 'eventbridge', 'sqs', 'dynamodb', 'logs'] as const).map((k) => usd(o.parts[k])).join(' | ')} |`;
  };
  const header = '| operation | AWS calls | write units | read units | USD per million | Lambda | HTTP API | EventBridge | SQS | DynamoDB | Logs |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |';
  const routes = Object.keys(op).filter((name) => name.startsWith('route ')).sort();
  return [
    header,
    row('analytics_event', 'analytics event (ours)'),
    row('analytics_event_unsharded', 'analytics event (ours, before the write shards)'),
    row('analytics_event_naive', 'analytics event (naive)'),
    row('import_item', 'imported item (ours)'),
    row('import_item_naive', 'imported item (naive)'),
    '',
    header.replace('| operation |', '| API request (with its events end to end) |'),
    ...routes.map((name) => row(name, `\`${name.slice('route '.length)}\``)),
  ].join('\n');
}

/** The markdown tables of docs/SCALE.md. */
export function scaleTables(r: CostScale): string {
  const m = r.scale.models;
  const modelRow = (label: string, model: ScaleModel) => `| ${label} | \`${model.hottest_partition.key}\` ${model.hottest_partition.units_per_operation} | \`${model.hottest_item.key}\` ${model.hottest_item.units_per_operation} | ${model.ceiling_per_s} |`;
  const curve = (points: ScaleRun['points']) => points.map((p) => `| ${p.offered_per_s} | ${p.throughput_per_s} | ${p.throttles_per_s} | ${p.stored} / ${p.operations} |`).join('\n');
  return [
    '| design | hottest partition: units per operation | hottest item: units per operation | model ceiling per s |',
    '| --- | --- | --- | --- |',
    modelRow('analytics, before (one partition per tenant and day)', m.analytics_before),
    modelRow('analytics, after (write shards)', m.analytics_after),
    modelRow('analytics, naive (PutItem per event)', m.analytics_naive),
    modelRow('import into one collection (ours)', m.import),
    modelRow('import, naive (PutItem per item)', m.import_naive),
    '',
    'Analytics, before: offered events/s | stored/s | throttled requests/s | stored exactly once',
    '| offered | stored/s | throttles/s | stored / sent |\n| --- | --- | --- | --- |',
    curve(r.scale.curves.analytics_before),
    '',
    'Analytics, after:',
    '| offered | stored/s | throttles/s | stored / sent |\n| --- | --- | --- | --- |',
    curve(r.scale.curves.analytics_after),
    '',
    'Import into one collection (items):',
    '| offered | written/s | throttles/s | written / sent |\n| --- | --- | --- | --- |',
    curve(r.scale.curves.import),
  ].join('\n');
}

/** The charts of docs/COST.md and docs/SCALE.md. */
export function writeCharts(r: CostScale, root: string): void {
  const op = r.costs.operations;
  const routes = Object.keys(op).filter((name) => name.startsWith('route ') && !name.endsWith(UNSHARDED));
  writeFileSync(
    join(root, 'docs/cost-per-million.svg'),
    barChartSvg('USD per million operations (us-east-1 list prices)', 'USD per million; analytics events and imported items against the naive designs; API requests include their analytics event end to end', [
      { label: 'analytics event', values: { ours: op.analytics_event!.usd_per_million, 'ours before the write shards': op.analytics_event_unsharded!.usd_per_million, naive: op.analytics_event_naive!.usd_per_million } },
      { label: 'imported item', values: { ours: op.import_item!.usd_per_million, naive: op.import_item_naive!.usd_per_million } },
      ...routes.map((name) => ({
        label: name.slice('route '.length),
        values: { ours: op[name]!.usd_per_million, ...(op[`${name}${UNSHARDED}`] ? { 'ours before the write shards': op[`${name}${UNSHARDED}`]!.usd_per_million } : {}) },
      })),
    ]),
  );
  const series = (points: ScaleRun['points'], key: 'throughput_per_s' | 'throttles_per_s') => points.map((p) => ({ x: p.offered_per_s, y: p[key] }));
  writeFileSync(
    join(root, 'docs/scale-analytics.svg'),
    lineChartSvg('One tenant’s analytics events: simulated DynamoDB limits', { x: 'offered events per second', y: 'per second' }, {
      'stored/s, after': series(r.scale.curves.analytics_after, 'throughput_per_s'),
      'throttled requests/s, after': series(r.scale.curves.analytics_after, 'throttles_per_s'),
      'stored/s, before': series(r.scale.curves.analytics_before, 'throughput_per_s'),
      'throttled requests/s, before': series(r.scale.curves.analytics_before, 'throttles_per_s'),
    }),
  );
  writeFileSync(
    join(root, 'docs/scale-import.svg'),
    lineChartSvg('One collection’s import: simulated DynamoDB limits', { x: 'offered items per second', y: 'per second' }, {
      'written/s': series(r.scale.curves.import, 'throughput_per_s'),
      'throttled requests/s': series(r.scale.curves.import, 'throttles_per_s'),
    }),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { freePort, startMoto } = await import('../local/moto.ts');
  const { repoRoot } = await import('../local/python-env.ts');
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const write = process.stdout.write.bind(process.stdout);
  const out = (line: string) => write(`${line}\n`);
  console.log = () => undefined;
  const emulator = await startMoto({ port: await freePort() });
  try {
    const r = await measureCostAndScale(emulator.endpoint, process.argv.includes('--quick'), out);
    writeCharts(r, repoRoot);
    out(`\n${costTables(r)}\n\n${scaleTables(r)}\n`);
    out(JSON.stringify({ cost_ratios: r.cost_ratios, scale: { analytics_events_per_s: r.scale.analytics_events_per_s, import_items_per_s: r.scale.import_items_per_s } }, null, 2));
  } finally {
    await emulator.stop();
  }
}
