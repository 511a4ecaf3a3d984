/**
 * `npm run bench [-- --quick]`: every benchmark side by side against its baseline, in one
 * run, on a private emulator. Prints a table, writes bench-results.json, and (full runs
 * only) rewrites docs/BENCHMARKS.md and its chart. Figures are printed, never asserted.
 */
import { cpus, totalmem } from 'node:os';
import { format } from 'node:util';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
// @ts-expect-error build.mjs is plain JavaScript without type declarations.
import { buildAll } from '../../build.mjs';
import { freePort, startMoto } from '../local/moto.ts';
import { provision } from '../local/provision.ts';
import { repoRoot } from '../local/python-env.ts';
import { measureAnalyticsCost } from './analytics-cost.ts';
import { measureAnalyticsReads } from './analytics-reads.ts';
import { latencyChartSvg } from './chart.ts';
import { costTables, measureCostAndScale, scaleTables, writeCharts } from './cost-scale.ts';
import { measureAnalyticsThroughput } from './analytics-throughput.ts';
import { measureColdStarts } from './cold-start.ts';
import { measureImportThroughput } from './import-throughput.ts';
import { measureLoad } from './load.ts';
import { putWriteUnits } from './write-units.ts';

// Run directly on an older Node than the Lambda runtime's, the SDK's notice about that is known.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const quick = process.argv.includes('--quick');
const sizes = quick
  ? { analyticsRequests: 300, coldStartRuns: 10, importItems: 2000, analyticsEvents: 500, reads: { events: 10_000, calls: 10 }, load: { connections: 10, seconds: 10 } }
  : { analyticsRequests: 2000, coldStartRuns: 20, importItems: 10_000, analyticsEvents: 3000, reads: { events: 100_000, calls: 20 }, load: { connections: 10, seconds: 30 } };

type Row = [metric: string, value: string, baseline: string, target: string];

// The functions write JSON log lines and EMF metrics straight to stdout (functions/shared/log.ts),
// thousands of them in the in-process benchmarks; a benchmark prints a table.
const writeToTerminal = process.stdout.write.bind(process.stdout);
const print = (...parts: unknown[]) => void writeToTerminal(`${format(...parts)}\n`);
process.stdout.write = (() => true) as typeof process.stdout.write;
console.log = () => undefined;

async function main(): Promise<void> {
  const startedAt = new Date();
  print(`Benchmarks (${quick ? 'quick' : 'full'}) on ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`);

  const built = (await buildAll({ quiet: true })) as Array<{ name: string; initBytes: number }>;
  const emulator = await startMoto({ port: await freePort() });
  try {
    const stack = await provision({ endpoint: emulator.endpoint, region: 'us-east-1' }, 'bench');
    Object.assign(process.env, stack.environment, { AWS_ENDPOINT_URL: emulator.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' });

    print('· analytics cost on a request');
    const analytics = await measureAnalyticsCost(stack, sizes.analyticsRequests);
    print('· cold start');
    const coldStart = await measureColdStarts(Object.fromEntries(built.map((b) => [b.name, b.initBytes])), sizes.coldStartRuns);
    print(`· import throughput (${sizes.importItems} items: ceiling, naive, pipeline)`);
    const importThroughput = await measureImportThroughput(emulator.endpoint, sizes.importItems);
    print(`· analytics processor throughput (${sizes.analyticsEvents} events: ceiling, processor)`);
    const processor = await measureAnalyticsThroughput(emulator.endpoint, sizes.analyticsEvents);
    print(`· analytics reads (${sizes.reads.events} stored events, each route ${sizes.reads.calls} times)`);
    const reads = await measureAnalyticsReads(emulator.endpoint, sizes.reads.events, sizes.reads.calls, print);
    print(`· load (${sizes.load.connections} connections, ${sizes.load.seconds} s)`);
    const load = await measureLoad(emulator.endpoint, sizes.load);
    print('· cost per operation and single-tenant ceilings (what carries over to AWS)');
    const costScale = await measureCostAndScale(emulator.endpoint, quick, print);

    const results = {
      machine: { cores: cpus().length, memory_gib: Math.round(totalmem() / 2 ** 30), node: process.version, mode: quick ? 'quick' : 'full', at: startedAt.toISOString() },
      analytics: {
        off: analytics.off,
        ours: analytics.ours,
        naive: analytics.naive,
        events_lost: analytics.events_lost,
        requests_per_mode: analytics.requests_per_mode,
        emitter_sync_us: analytics.emitter_sync_us,
      },
      cold_start: coldStart,
      import: importThroughput,
      analytics_processor: processor,
      analytics_reads: reads,
      load,
      cost: { ...costScale.cost, ratios: costScale.cost_ratios },
      scale: {
        analytics_events_per_s: costScale.scale.analytics_events_per_s,
        import_items_per_s: costScale.scale.import_items_per_s,
        models: costScale.scale.models,
        curves: costScale.scale.curves,
      },
      write_units: Object.fromEntries(
        ([['put_10kb', 10 * 1024], ['put_300kb', 300 * 1024]] as const).map(([name, bytes]) => [name, { all: putWriteUnits(bytes, 'ALL'), keys_only: putWriteUnits(bytes, 'KEYS_ONLY') }]),
      ),
    };
    writeFileSync(join(repoRoot, 'bench-results.json'), `${JSON.stringify(results, null, 2)}\n`);

    const added = (mode: { p99_ms: number }) => mode.p99_ms - analytics.off.p99_ms;
    const rows: Row[] = [
      ['analytics off: p50 / p99 ms', `${analytics.off.p50_ms} / ${analytics.off.p99_ms}`, '', ''],
      ['analytics ours: p50 / p99 ms', `${analytics.ours.p50_ms} / ${analytics.ours.p99_ms}`, `naive ${analytics.naive.p50_ms} / ${analytics.naive.p99_ms}`, ''],
      ['analytics: p99 added by ours vs naive', `${added(analytics.ours).toFixed(3)} ms`, `${added(analytics.naive).toFixed(3)} ms`, '< 1 ms and ≤ 1/10 of naive'],
      ['analytics: emitter work before the response, p50 / p99 µs', `${analytics.emitter_sync_us.p50} / ${analytics.emitter_sync_us.p99}`, '', '< 1 ms'],
      ['analytics events lost', String(analytics.events_lost), '', '0'],
      ...Object.entries(coldStart).map(([name, c]): Row => [`cold start ${name}: init ms (bundle KB)`, `${c.init_ms} (${c.bundle_kb} KB)`, `unbundled ${c.unbundled_init_ms} (${ratio(c.unbundled_init_ms, c.init_ms)} slower)`, '≥ 3x faster, ≤ 300 KB']),
      ['import: pipeline items/s (emulator-bound)', String(importThroughput.pipeline_items_per_s), `ceiling ${importThroughput.ceiling_items_per_s} (${percent(importThroughput.pipeline_items_per_s, importThroughput.ceiling_items_per_s)}), naive ${importThroughput.naive_items_per_s} (${ratio(importThroughput.pipeline_items_per_s, importThroughput.naive_items_per_s)})`, 'ratios only: ≥ 80% of ceiling, ≥ 10x naive'],
      ['analytics processor: events/s (emulator-bound)', String(processor.events_per_s), `ceiling ${processor.ceiling_events_per_s} (${percent(processor.events_per_s, processor.ceiling_events_per_s)})`, 'ratio only: ≥ 80% of ceiling'],
      ['analytics processor: events/s with / without the insight pre-computation (emulator-bound)', `${processor.events_per_s} / ${processor.before_insights_events_per_s}`, `${percent(processor.events_per_s, processor.before_insights_events_per_s)} of without`, ''],
      ['analytics processor: stored / sent', `${processor.stored} / ${processor.events}`, '', 'all'],
      ...reads.routes.map((r): Row => [`analytics read at ${reads.events.toLocaleString('en')} events: ${r.route}`, `${r.dynamodb_requests} DynamoDB requests (${r.items_read} items), p50 ${r.p50_ms} / p95 ${r.p95_ms} ms`, r.not_ok > 0 ? `${r.not_ok} of ${reads.calls_per_route} not 200` : '', 'requests independent of events']),
      [`load: rps, p99 ms (${load.connections} clients, ${load.seconds} s; emulator-bound)`, `${load.rps} rps, p99 ${load.p99_ms} ms`, '', ''],
      ['load: errors; analytics events / requests', `${load.errors}; ${load.analytics_events} / ${load.requests}`, '', '0; exactly 1 per request'],
      ...costRows(costScale),
      ...Object.entries(results.write_units).map(([name, w]): Row => [
        `write units per ${name === 'put_10kb' ? '10 KB' : '300 KB'} PUT, create / replace (computed)`,
        `${w.keys_only.create} / ${w.keys_only.replace}`,
        `indexes projecting ALL ${w.all.create} / ${w.all.replace}`,
        '',
      ]),
    ];
    const table = markdownTable(rows);
    print(`\n${table}\nwrote bench-results.json`);
    if (!quick) {
      const svg = latencyChartSvg('Query and write handler latency by analytics mode', {
        'analytics off': analytics.samples.off,
        'ours (after response)': analytics.samples.ours,
        'naive (awaits PutEvents)': analytics.samples.naive,
      });
      writeFileSync(join(repoRoot, 'docs/benchmarks-latency.svg'), svg);
      writeFileSync(join(repoRoot, 'docs/BENCHMARKS.md'), benchmarksDoc(table, results.machine));
      writeCharts(costScale, repoRoot);
      print(`\n${costTables(costScale)}\n\n${scaleTables(costScale)}`);
      print('updated docs/BENCHMARKS.md, docs/benchmarks-latency.svg and the charts of docs/COST.md and docs/SCALE.md (their tables are printed above)');
    }
  } finally {
    await emulator.stop();
  }
}

const ratio = (a: number, b: number) => `${(a / b).toFixed(1)}x`;

/** The rows that carry over to AWS: dollars per million operations and the simulated single-tenant ceilings. */
function costRows(r: Awaited<ReturnType<typeof measureCostAndScale>>): Row[] {
  const c = r.cost;
  const usd = (name: string) => `$${c[name]!.usd_per_million.toFixed(2)}`;
  const routes = Object.keys(c).filter((name) => name.startsWith('route ') && !name.endsWith('(unsharded)'));
  const routeCosts = routes.map((name) => c[name]!.usd_per_million).sort((a, b) => a - b);
  const a = r.scale.analytics_events_per_s;
  const i = r.scale.import_items_per_s;
  return [
    ['cost: USD per million analytics events (calls, write units)', `${usd('analytics_event')} (${c.analytics_event!.calls}, ${c.analytics_event!.write_units})`, `before the write shards ${usd('analytics_event_unsharded')} (${c.analytics_event_unsharded!.calls}, ${c.analytics_event_unsharded!.write_units}); naive ${usd('analytics_event_naive')} (${c.analytics_event_naive!.calls}, ${c.analytics_event_naive!.write_units}): ${r.cost_ratios.analytics_event_ours_to_naive}x`, 'calls and write units ≤ before the write shards (Lambda ms are measured, and move)'],
    ['cost: USD per million imported items (calls, write units)', `${usd('import_item')} (${c.import_item!.calls}, ${c.import_item!.write_units})`, `naive ${usd('import_item_naive')} (${c.import_item_naive!.calls}, ${c.import_item_naive!.write_units}): ${r.cost_ratios.import_item_ours_to_naive}x`, ''],
    ['cost: USD per million API requests, cheapest / median / dearest route', `$${routeCosts[0]!.toFixed(2)} / $${routeCosts[Math.floor(routeCosts.length / 2)]!.toFixed(2)} / $${routeCosts.at(-1)!.toFixed(2)}`, '', ''],
    ['scale: one tenant’s analytics events/s before throttling (simulated; model)', `${a.after.simulated} (${a.after.model})`, `before ${a.before.simulated} (${a.before.model}); naive model ${a.naive.model}`, '≥ 20,000, nothing lost'],
    ['scale: one collection’s imported items/s before throttling (simulated; model)', `${i.ours.simulated} (${i.ours.model})`, `naive model ${i.naive.model}`, '≥ 10,000, nothing lost'],
  ];
}
const percent = (a: number, b: number) => `${Math.round((100 * a) / b)}%`;

function markdownTable(rows: Row[]): string {
  return ['| metric | ours | baseline | target |', '| --- | --- | --- | --- |', ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function benchmarksDoc(table: string, machine: Record<string, unknown>): string {
  return `# Benchmarks

Made by \`npm run bench\` (a full run; \`npm run bench -- --quick\` takes a few minutes and
does not touch this file). Every figure is measured against its baseline in the same run,
on the local emulator (moto), so absolute numbers describe this machine and the emulator,
and the ratios are what carries over.

Machine: ${machine.cores} cores, ${machine.memory_gib} GiB, Node ${machine.node}; run at ${machine.at}.

${table}

![Latency distributions](benchmarks-latency.svg)

How each is measured:
- **Analytics cost**: the query (GET item) and write (PUT item) handlers invoked in-process,
  the three modes taking turns in random order; latency is invoke-to-response. *Ours*
  buffers the event and delivers it after the response (the runtime drains it before the
  next request, outside the measured time); *naive* awaits one PutEvents before
  responding. Events lost = events sent by ours and naive minus events that reached the
  analytics queue. Whole-handler p99s on a shared 2-core machine move by milliseconds from
  run to run, so the emitter's own work before the response (build, redact, serialise one
  event; 20,000 samples) is measured alone as well.
- **Import throughput**: items per second through the whole pipeline (API → event
  processor → import queue → import worker → table, until the job is COMPLETED), against a
  direct BatchWriteItem loop (the ceiling) and one PutItem per item (naive), both at the
  worker's BatchWrite concurrency; each on a fresh stack of the same emulator.
- **Write units per PUT** (computed by \`scripts/bench/write-units.ts\`, not measured: moto
  reports no per-index capacity): DynamoDB's rules (1 unit per started KB, doubled in a
  transaction, each index entry written per started KB, an index key change a delete plus a
  put) applied to the item's size as DynamoDB counts it, with the list indexes holding keys
  only (ours) or whole items (\`ALL\`, before); the \`STATS\` update of a create is not included.
- **What carries over to AWS** ([COST.md](COST.md), [SCALE.md](SCALE.md)): the calls, DynamoDB units and
  dollars per operation (counted by an SDK middleware, priced from scripts/bench/prices.json), and
  the single-tenant ceilings simulated against DynamoDB's per-partition limits. Throughputs
  marked *emulator-bound* are bounded by the single-threaded emulator on this machine: only
  their ratios to the baseline of the same run mean anything.
- **Analytics processor**: events per second from a full analytics queue to stored events
  (validation, enrichment, store-once, aggregates) through an event source mapping shaped
  like the deployed one, against the same queue drained into the same table by a consumer
  that only batch-writes the raw messages (the ceiling).
- **Analytics reads**: every analytics read route called in-process on a table seeded with
  what the processor would have written for 100,000 events (10,000 with \`--quick\`) of one
  tenant over 7 days (\`scripts/bench/analytics-seed.ts\`: the store's own transaction
  builder applied in memory, written with BatchWriteItem; checked first on 600 events against
  a processor-written table, every route answering alike); DynamoDB requests per call are
  counted on the client, latencies are the emulator's (it walks a partition per Query).
- **Load**: autocannon on loopback against the local API (PUT, GET item, list, GET item,
  stats in turn), then the analytics queue is drained and the stored analytics events of
  the load's tenant are counted against the requests made.
- **Cold start**: the \`INIT REPORT\` duration of the Runtime Interface Emulator, one fresh
  emulator + aws-lambda-ric on the Lambda runtime's Node per sample (runtime start, handler
  import, extension registration), median; the baseline is the same handler compiled by
  plain \`tsc\` importing its dependencies from node_modules. Figures from before this
  method (import in a fresh process) are not comparable: the runtime's own start is in. Bundle KB is what the bundle loads at init (entry plus statically
  imported chunks; lazily imported chunks are not loaded unless used).
`;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
