/**
 * What analytics costs a request: the query and write handlers' response latency with
 * analytics off, with our emitter (delivery after the response), and with a naive emitter
 * that awaits one PutEvents per request before responding. The three modes take turns in
 * random order within one run, against the same emulator.
 */
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetQueueAttributesCommand, PurgeQueueCommand } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { drainAfterResponseTasks } from '../../functions/shared/after-response.ts';
import { buildAnalyticsEvent } from '../../functions/shared/analytics/event.ts';
import { eventBridge, sqs } from '../../functions/shared/aws-clients.ts';
import { config } from '../../functions/shared/config.ts';
import type { ProvisionedStack } from '../local/provision.ts';
import { apiEvent, lambdaContext } from '../../tests/support/invoke.ts';
import { shuffled, summarize, type LatencySummary } from './stats.ts';

type Handler = (event: APIGatewayProxyEventV2WithJWTAuthorizer, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;
type Mode = 'off' | 'ours' | 'naive';

export interface AnalyticsCostResult {
  off: LatencySummary;
  ours: LatencySummary;
  naive: LatencySummary;
  events_lost: number;
  /** The emitter's synchronous work on the request path (build, redact, serialise one event), in µs. */
  emitter_sync_us: { p50: number; p99: number };
  requests_per_mode: number;
  samples: Record<Mode, number[]>;
}

/** The naive emitter: the same event, but sent (and awaited) before the response. */
function naive(handler: Handler): Handler {
  return async (event, context) => {
    const started = performance.now();
    const response = await handler(event, context);
    const analytics = buildAnalyticsEvent({
      type: 'NAIVE',
      action: 'EXECUTE',
      category: 'QUERY',
      source: 'event-flows.bench',
      status: 'SUCCESS',
      durationMs: performance.now() - started,
      requestId: context.awsRequestId,
      context,
    });
    await eventBridge().send(new PutEventsCommand({ Entries: [{ EventBusName: config.analyticsBus(), Source: analytics.source, DetailType: analytics.eventType, Detail: JSON.stringify(analytics) }] }));
    return response;
  };
}

/**
 * The part of our emitter that runs before the response, alone: building, redacting and
 * serialising the event (publish() then only appends it to a buffer). Whole-handler p99s
 * on a busy 2-core machine move by milliseconds from run to run; this isolates the cost.
 */
function measureEmitterSyncCost(samplesWanted = 20_000): { p50: number; p99: number } {
  const context = lambdaContext('bench');
  const input = {
    type: 'ITEM_GET',
    action: 'EXECUTE',
    category: 'QUERY' as const,
    source: 'event-flows.query',
    status: 'SUCCESS' as const,
    durationMs: 3.2,
    userId: 'alice',
    requestId: context.awsRequestId,
    context,
    properties: { routeKey: 'GET /items/{collection}/{id}', method: 'GET', path: '/items/books/dune', statusCode: 200, apiRequestId: 'abc', tenant: 'acme', collection: 'books' },
  };
  for (let i = 0; i < 2000; i++) JSON.stringify(buildAnalyticsEvent(input));
  const samples: number[] = [];
  for (let i = 0; i < samplesWanted; i++) {
    const started = performance.now();
    JSON.stringify(buildAnalyticsEvent(input));
    samples.push((performance.now() - started) * 1000);
  }
  const { p50_ms, p99_ms } = summarize(samples);
  return { p50: p50_ms, p99: p99_ms };
}

async function queueDepth(url: string): Promise<number> {
  const { Attributes } = await (await sqs()).send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
  return Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
}

export async function measureAnalyticsCost(stack: ProvisionedStack, requestsPerMode: number): Promise<AnalyticsCostResult> {
  const { handler: query } = await import('../../functions/query/handler.ts');
  const { handler: write } = await import('../../functions/write/handler.ts');
  const claims = { sub: 'bench', tenant: 'bench' };
  const requests: Array<{ handler: Handler; event: () => APIGatewayProxyEventV2WithJWTAuthorizer }> = [
    { handler: write, event: () => apiEvent({ routeKey: 'PUT /items/{collection}/{id}', path: '/items/bench/x', pathParameters: { collection: 'bench', id: `i${Math.floor(Math.random() * 50)}` }, claims, body: { n: 1 } }) },
    { handler: query, event: () => apiEvent({ routeKey: 'GET /items/{collection}/{id}', path: '/items/bench/i1', pathParameters: { collection: 'bench', id: 'i1' }, claims }) },
  ];
  // Warm up: first calls pay for connections and JIT, in every mode alike.
  for (const { handler, event } of requests) for (let i = 0; i < 20; i++) await handler(event(), lambdaContext());
  await drainAfterResponseTasks();
  await (await sqs()).send(new PurgeQueueCommand({ QueueUrl: stack.queueUrl('analytics') })).catch(() => undefined);
  const before = await queueDepth(stack.queueUrl('analytics'));

  const samples: Record<Mode, number[]> = { off: [], ours: [], naive: [] };
  let oursRequests = 0;
  let naiveRequests = 0;
  for (let i = 0; i < requestsPerMode; i++) {
    const { handler, event } = requests[i % requests.length]!;
    for (const mode of shuffled<Mode>(['off', 'ours', 'naive'])) {
      process.env.ANALYTICS_ENABLED = mode === 'ours' ? 'true' : 'false';
      const target = mode === 'naive' ? naive(handler) : handler;
      const request = event();
      const started = performance.now();
      await target(request, lambdaContext('bench'));
      samples[mode].push(performance.now() - started);
      // What a runtime does after the response; outside the measured interval, before the next request.
      await drainAfterResponseTasks();
      if (mode === 'ours') oursRequests++;
      if (mode === 'naive') naiveRequests++;
    }
  }
  delete process.env.ANALYTICS_ENABLED;
  const emitterSync = measureEmitterSyncCost();
  const delivered = (await queueDepth(stack.queueUrl('analytics'))) - before;
  return {
    off: summarize(samples.off),
    ours: summarize(samples.ours),
    naive: summarize(samples.naive),
    // Every ours and naive request sends one event to the analytics bus, routed to its queue.
    events_lost: oursRequests + naiveRequests - delivered,
    emitter_sync_us: emitterSync,
    requests_per_mode: requestsPerMode,
    samples,
  };
}
