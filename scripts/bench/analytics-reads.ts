/**
 * The analytics API's reads over a busy week: `events` analytics events (100,000; 10,000 with
 * --quick) of one tenant from 500 users over 7 days are seeded with exactly what the
 * processor would have written (./analytics-seed.ts: the store's own transaction builder,
 * applied in memory, written with BatchWriteItem), then every read route is called in-process
 * against the emulator, and its latency (p50/p95) and the DynamoDB requests it made (counted
 * on the client) are printed. Figures are printed, never asserted.
 *
 * First, on a small sample, the seeding is checked once more where it matters: every route
 * answers the same on a table the processor wrote (one transaction per batch) and on a
 * seeded one; the run stops if not.
 *
 *   npx tsx scripts/bench/analytics-reads.ts [--quick] [--events N] [--calls N]
 */
import { isDeepStrictEqual } from 'node:util';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { forgetShardCounts } from '../../functions/shared/analytics/shard-counts.ts';
import { storeEvents } from '../../functions/shared/analytics/store.ts';
import { dynamo } from '../../functions/shared/aws-clients.ts';
import { apiEvent, lambdaContext } from '../../tests/support/invoke.ts';
import { freePort, startMoto } from '../local/moto.ts';
import { seedAnalytics } from './analytics-seed.ts';
import { benchTraffic } from './analytics-traffic.ts';
import { freshStack } from './fixtures.ts';

const DAY = 86_400_000;
const tenant = 'bench';
/** Events in the check that seeded and processor-written tables answer alike (stored through transactions: ~20 s). */
const CHECK_EVENTS = 600;

export interface RouteFigures {
  route: string;
  dynamodb_requests: number;
  /** Items DynamoDB read for the call (the sum of the Queries' ScannedCount): what read units pay for. */
  items_read: number;
  p50_ms: number;
  p95_ms: number;
  /** Calls that did not answer 200 (an overloaded emulator can time a read out): counted, not hidden. */
  not_ok: number;
}

export interface ReadFigures {
  events: number;
  items: number;
  seed_s: number;
  seed_events_per_s: number;
  calls_per_route: number;
  checked_routes: number;
  routes: RouteFigures[];
}

function readRoutes(end: number): Array<{ routeKey: string; query: Record<string, string>; pathParameters?: Record<string, string> }> {
  const week = { from: new Date(end - 7 * DAY).toISOString(), to: new Date(end).toISOString() };
  return [
    { routeKey: 'GET /analytics/summary', query: week },
    { routeKey: 'GET /analytics/timeseries', query: { ...week, interval: 'hour', metric: 'p95' } },
    { routeKey: 'GET /analytics/users/{userId}/events', query: week, pathParameters: { userId: 'user-7' } },
    { routeKey: 'GET /analytics/performance', query: week },
    { routeKey: 'GET /analytics/errors', query: week },
    { routeKey: 'GET /analytics/health', query: { from: new Date(end - 3_600_000).toISOString(), to: new Date(end).toISOString() } },
    { routeKey: 'GET /analytics/imports', query: week },
    { routeKey: 'GET /analytics/features', query: week },
    { routeKey: 'GET /analytics/sessions', query: week },
    { routeKey: 'GET /analytics/funnels', query: { ...week, steps: 'SIGN_UP,ITEM_PUT,CHECKOUT', window: '1h' } },
  ];
}

async function call(route: ReturnType<typeof readRoutes>[number]) {
  const { handler } = await import('../../functions/analytics-api/handler.ts');
  const path = route.routeKey.split(' ')[1]!.replace('{userId}', route.pathParameters?.userId ?? '');
  return (await handler(
    apiEvent({ routeKey: route.routeKey, path, claims: { sub: 'root', tenant, scope: 'admin' }, query: route.query, ...(route.pathParameters ? { pathParameters: route.pathParameters } : {}) }),
    lambdaContext('analytics-api'),
  )) as APIGatewayProxyStructuredResultV2;
}

/** Stores a small sample through the processor's store in one table and seeds it in another; every route must answer alike. */
async function checkSeeding(endpoint: string, end: number): Promise<number> {
  const batches = benchTraffic(CHECK_EVENTS, end, tenant);
  const processorTable = (await freshStack(endpoint, 'reads-check')).tableName('analytics');
  for (const batch of batches) await storeEvents(batch);
  const seededTable = (await freshStack(endpoint, 'reads-seeded')).tableName('analytics');
  await seedAnalytics(batches);
  const routes = readRoutes(end);
  for (const route of routes) {
    process.env.ANALYTICS_TABLE_NAME = processorTable;
    const written = await call(route);
    process.env.ANALYTICS_TABLE_NAME = seededTable;
    const seeded = await call(route);
    // Health also answers the queues' depths, which belong to each stack: only the table's part is compared.
    const body = (r: APIGatewayProxyStructuredResultV2) => ({ ...(JSON.parse(r.body ?? 'null') as Record<string, unknown>), queues: undefined });
    if (written.statusCode !== 200 || !isDeepStrictEqual(body(written), body(seeded))) {
      throw new Error(`seeded and processor-written tables answer ${route.routeKey} differently:\n${written.body}\n${seeded.body}`);
    }
  }
  return routes.length;
}

const nearestRank = (values: number[], q: number) => [...values].sort((a, b) => a - b)[Math.max(1, Math.ceil(q * values.length)) - 1]!;
const round1 = (n: number) => Math.round(n * 10) / 10;

/** Seeds `events` events and measures every read route `calls` times, on its own stacks of the emulator at `endpoint`. */
export async function measureAnalyticsReads(endpoint: string, events: number, calls: number, log: (line: string) => void = () => undefined): Promise<ReadFigures> {
  // The emulator answers a Query by walking the partition in Python (an index Query: the whole
  // table), which at 100,000 events on a busy machine can pass the functions' 2 s request
  // timeout; the reads are measured, not cut off (restored afterwards).
  const timeout = process.env.AWS_REQUEST_TIMEOUT_MS;
  process.env.AWS_REQUEST_TIMEOUT_MS = '60000';
  try {
    return await measure(endpoint, events, calls, log);
  } finally {
    if (timeout === undefined) delete process.env.AWS_REQUEST_TIMEOUT_MS;
    else process.env.AWS_REQUEST_TIMEOUT_MS = timeout;
  }
}

async function measure(endpoint: string, events: number, calls: number, log: (line: string) => void): Promise<ReadFigures> {
  const end = Math.floor(Date.now() / 60_000) * 60_000;
  const checked = await checkSeeding(endpoint, end);
  log(`  seeding checked: ${checked} routes answer alike on processor-written and seeded tables (${CHECK_EVENTS} events)`);

  await freshStack(endpoint, 'reads');
  const started = performance.now();
  const items = await seedAnalytics(benchTraffic(events, end, tenant));
  const seconds = (performance.now() - started) / 1000;
  log(`  seeded ${events.toLocaleString('en')} events (${items.toLocaleString('en')} items) in ${seconds.toFixed(1)} s`);

  let requests = 0;
  let scanned = 0;
  dynamo().middlewareStack.add(
    (next) => async (args) => {
      requests++;
      const result = await next(args);
      const output = result.output as { ScannedCount?: number };
      scanned += output.ScannedCount ?? 0;
      return result;
    },
    { step: 'initialize', name: 'countRequests' },
  );
  const routes: RouteFigures[] = [];
  for (const route of readRoutes(end)) {
    const times: number[] = [];
    let reads = 0;
    let itemsRead = 0;
    let notOk = 0;
    for (let n = 0; n < calls; n++) {
      requests = 0;
      scanned = 0;
      // Each call as a request to a container that has not read these days' shard counts in the last 2 s: it reads them again.
      forgetShardCounts('reads');
      const t0 = performance.now();
      const result = await call(route);
      times.push(performance.now() - t0);
      if (result.statusCode !== 200) notOk++;
      else {
        reads = requests;
        itemsRead = scanned;
      }
    }
    routes.push({ route: route.routeKey, dynamodb_requests: reads, items_read: itemsRead, p50_ms: round1(nearestRank(times, 0.5)), p95_ms: round1(nearestRank(times, 0.95)), not_ok: notOk });
    log(`  ${route.routeKey}: ${reads} DynamoDB requests, ${itemsRead} items read, p95 ${routes.at(-1)!.p95_ms} ms`);
  }
  return { events, items, seed_s: round1(seconds), seed_events_per_s: Math.round(events / seconds), calls_per_route: calls, checked_routes: checked, routes };
}

export function readsTable(figures: ReadFigures): string {
  return [
    `| route (${figures.events.toLocaleString('en')} events, 7 days; health: the last hour) | DynamoDB requests | items read | p50 ms | p95 ms | not 200 |`,
    '| --- | --- | --- | --- | --- | --- |',
    ...figures.routes.map((r) => `| ${r.route} | ${r.dynamodb_requests} | ${r.items_read} | ${r.p50_ms} | ${r.p95_ms} | ${r.not_ok} of ${figures.calls_per_route} |`),
  ].join('\n');
}

async function main() {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const quick = process.argv.includes('--quick');
  const eventsFlag = process.argv.indexOf('--events');
  const events = eventsFlag > 0 ? Number(process.argv[eventsFlag + 1]) : quick ? 10_000 : 100_000;
  const callsFlag = process.argv.indexOf('--calls');
  const calls = callsFlag > 0 ? Number(process.argv[callsFlag + 1]) : quick ? 10 : 20;
  const print = console.log.bind(console);
  // The functions log JSON lines and EMF metrics through console.log; a benchmark prints a table.
  console.log = () => undefined;
  const emulator = await startMoto({ port: await freePort() });
  try {
    const figures = await measureAnalyticsReads(emulator.endpoint, events, calls, print);
    print(`\n${readsTable(figures)}`);
  } finally {
    await emulator.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
