/**
 * The analytics API's reads over a busy week: `events` analytics events (100,000; 10,000
 * with --quick) from 500 users over 7 days are stored through the processor's own store
 * (events, aggregates, per-function and user-day items), then every read route is called
 * in-process against the emulator, and its latency (p50/p95) and the DynamoDB requests it
 * made (Query pages counted on the client) are printed. Figures are printed, never asserted.
 *
 *   npx tsx scripts/bench/analytics-reads.ts [--quick] [--events N]
 */
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { buildAnalyticsEvent } from '../../functions/shared/analytics/event.ts';
import { eventIdOf, timeParts } from '../../functions/shared/analytics/keys.ts';
import { storeEvents, type EventToStore } from '../../functions/shared/analytics/store.ts';
import type { ValidAnalyticsEvent } from '../../functions/shared/analytics/schema.ts';
import { dynamo } from '../../functions/shared/aws-clients.ts';
import { apiEvent, lambdaContext } from '../../tests/support/invoke.ts';
import { freePort, startMoto } from '../local/moto.ts';
import { freshStack, pool } from './fixtures.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const quick = process.argv.includes('--quick');
const eventsFlag = process.argv.indexOf('--events');
const EVENTS = eventsFlag > 0 ? Number(process.argv[eventsFlag + 1]) : quick ? 10_000 : 100_000;
const CALLS = quick ? 20 : 40;
const DAY = 86_400_000;
const print = console.log.bind(console);
console.log = () => undefined;

const TYPES = ['SIGN_UP', 'ITEM_GET', 'ITEM_PUT', 'ITEM_LIST', 'CHECKOUT', 'SEARCH', 'LOGIN', 'EXPORT'];
const FUNCTIONS = ['query', 'write', 'analytics-api'];
const tenant = 'bench';

function generated(i: number, end: number): EventToStore {
  // Spread over the week with a daily rhythm, users in bursts.
  const at = end - Math.floor(((i * 7919) % EVENTS) * ((7 * DAY) / EVENTS)) - 1;
  const failed = i % 23 === 0;
  const event = buildAnalyticsEvent({
    type: TYPES[(i * 31) % TYPES.length]!,
    action: 'EXECUTE',
    category: 'USER_ACTION',
    source: 'event-flows.bench',
    status: failed ? 'FAILURE' : 'SUCCESS',
    ...(failed ? { errorType: i % 2 ? 'NOT_FOUND' : 'CONFLICT' } : {}),
    durationMs: 1 + (i % 97),
    userId: `user-${i % 500}`,
    requestId: randomUUID(),
    timestamp: new Date(at),
    context: { functionName: FUNCTIONS[i % FUNCTIONS.length]!, functionVersion: '$LATEST', memoryLimitInMB: '512', getRemainingTimeInMillis: () => 5000 },
    properties: { tenant },
  }) as ValidAnalyticsEvent;
  const receivedAt = new Date(at + 200 + (i % 1000));
  const { day, hour } = timeParts(event.detail.timestamp);
  return {
    event,
    enrichment: { eventId: eventIdOf(event), tenant, receivedAt: receivedAt.toISOString(), processingLagMs: 200 + (i % 1000), environment: 'bench', day, hour: `${day}T${hour}`, envelopeId: randomUUID() },
  };
}

const nearestRank = (values: number[], q: number) => [...values].sort((a, b) => a - b)[Math.max(1, Math.ceil(q * values.length)) - 1]!;

async function main() {
  const emulator = await startMoto({ port: await freePort() });
  try {
    await freshStack(emulator.endpoint, 'reads');
    const end = Math.floor(Date.now() / 60_000) * 60_000;
    const started = performance.now();
    await pool(Math.ceil(EVENTS / 10), 2, async (batch) => {
      const items = Array.from({ length: Math.min(10, EVENTS - batch * 10) }, (_, j) => generated(batch * 10 + j, end));
      // A busy shared machine can time a request out; storing again is safe (what is stored already is a duplicate).
      for (let attempt = 1; ; attempt++) {
        try {
          await storeEvents(items);
          return;
        } catch (error) {
          if (attempt >= 5) throw error;
        }
      }
    });
    print(`stored ${EVENTS} events in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    let requests = 0;
    dynamo().middlewareStack.add((next) => async (args) => {
      requests++;
      return next(args);
    }, { step: 'initialize', name: 'countRequests' });
    const { handler } = await import('../../functions/analytics-api/handler.ts');
    const week = { from: new Date(end - 7 * DAY).toISOString(), to: new Date(end).toISOString() };
    const routes: Array<[string, Record<string, string>]> = [
      ['GET /analytics/summary', week],
      ['GET /analytics/timeseries', { ...week, interval: 'hour', metric: 'p95' }],
      ['GET /analytics/performance', week],
      ['GET /analytics/errors', week],
      ['GET /analytics/health', { from: new Date(end - 3_600_000).toISOString(), to: new Date(end).toISOString() }],
      ['GET /analytics/imports', week],
      ['GET /analytics/features', week],
      ['GET /analytics/sessions', week],
      ['GET /analytics/funnels', { ...week, steps: 'SIGN_UP,ITEM_PUT,CHECKOUT', window: '1h' }],
    ];
    print(`\n| route (${EVENTS.toLocaleString('en')} events, 7 days) | DynamoDB requests | p50 ms | p95 ms | not 200 |\n| --- | --- | --- | --- | --- |`);
    for (const [routeKey, query] of routes) {
      const times: number[] = [];
      let reads = 0;
      let failed = 0;
      for (let n = 0; n < CALLS; n++) {
        requests = 0;
        const t0 = performance.now();
        const result = (await handler(apiEvent({ routeKey, path: routeKey.split(' ')[1]!, claims: { sub: 'root', tenant, scope: 'admin' }, query }), lambdaContext('analytics-api'))) as APIGatewayProxyStructuredResultV2;
        times.push(performance.now() - t0);
        // An overloaded emulator can time a read out (503): counted and shown, not hidden.
        if (result.statusCode !== 200) failed++;
        else reads = requests;
      }
      print(`| ${routeKey} | ${reads} | ${nearestRank(times, 0.5).toFixed(1)} | ${nearestRank(times, 0.95).toFixed(1)} | ${failed} of ${CALLS} |`);
    }
  } finally {
    await emulator.stop();
  }
}

await main();
