/**
 * The analytics processor's throughput (validate, enrich, store once, aggregate) against
 * its ceiling: the same queue drained by the same event source mapping into the same table
 * by a consumer that only batch-writes the raw events. The ratio is what our processing
 * costs on top of moving the events at all. Also, in the same run, the processor without
 * issue 16's pre-computation (ANALYTICS_INSIGHT_AGGREGATES=false: no per-function, per-user-day,
 * lag or sample writes): its cost side by side.
 *
 * Alone: `npx tsx scripts/bench/analytics-throughput.ts [--quick]` (its own emulator).
 */
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { BatchWriteCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSEvent } from 'aws-lambda';
import { dynamo } from '../../functions/shared/aws-clients.ts';
import { buildAnalyticsEvent } from '../../functions/shared/analytics/event.ts';
import { accountOfQueueUrl, toEnvelope } from '../../functions/shared/events/publisher.ts';
import { startEventSourceMapping } from '../local/event-source-mapping.ts';
import { clientConfig, type ProvisionedStack } from '../local/provision.ts';
import { functions, queues } from '../local/topology.ts';
import { freshStack, pool, queueDepth, region, waitFor } from './fixtures.ts';

export interface AnalyticsThroughput {
  events_per_s: number;
  /** The same processor without the insight pre-computation. */
  before_insights_events_per_s: number;
  ceiling_events_per_s: number;
  events: number;
  stored: number;
}

const context = { functionName: 'bench', functionVersion: '$LATEST', memoryLimitInMB: '512', getRemainingTimeInMillis: () => 10_000 };

/** The benchmarks' i-th analytics event: two route types, one failure in 17, `users` users (200), one tenant. */
export function benchAnalyticsEvent(i: number, users = 200) {
  return buildAnalyticsEvent({
    type: i % 2 ? 'ITEM_GET' : 'ITEM_PUT',
    action: i % 2 ? 'EXECUTE' : 'WRITE',
    category: i % 2 ? 'QUERY' : 'USER_ACTION',
    source: 'event-flows.bench',
    status: i % 17 ? 'SUCCESS' : 'FAILURE',
    ...(i % 17 ? {} : { errorType: 'NOT_FOUND' }),
    durationMs: 1 + (i % 40),
    userId: `user-${i % users}`,
    requestId: `req-${i}`,
    context,
    properties: { tenant: 'bench', collection: 'bench' },
  });
}

async function fill(endpoint: string, stack: ProvisionedStack, events: number): Promise<void> {
  const sqs = new SQSClient(clientConfig({ endpoint, region }));
  await pool(Math.ceil(events / 10), 4, async (batch) => {
    const entries = Array.from({ length: Math.min(10, events - batch * 10) }, (_, j) => {
      const event = benchAnalyticsEvent(batch * 10 + j);
      return { Id: String(j), MessageBody: JSON.stringify(toEnvelope({ Source: event.source, DetailType: event.eventType, Detail: JSON.stringify(event) }, accountOfQueueUrl(stack.queueUrl('analytics')))) };
    });
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: stack.queueUrl('analytics'), Entries: entries }));
  });
}

/** Drains the analytics queue through a mapping shaped like the deployed one; seconds taken. */
async function drain(endpoint: string, stack: ProvisionedStack, handler: (event: SQSEvent, context: never) => unknown): Promise<number> {
  const mapping = queues.analytics;
  const started = performance.now();
  const esm = startEventSourceMapping({
    sqs: new SQSClient(clientConfig({ endpoint, region })),
    queueUrl: stack.queueUrl('analytics'),
    fn: { functionName: 'bench-analytics', memoryMb: functions.analytics.memoryMb, timeoutSeconds: functions.analytics.timeoutSeconds, handler: handler as never },
    batchSize: mapping.batchSize,
    batchingWindowSeconds: mapping.batchingWindowSeconds,
    maximumConcurrency: mapping.maximumConcurrency,
  });
  try {
    await waitFor(async () => (await queueDepth(endpoint, stack.queueUrl('analytics'))) === 0 && esm.inFlight() === 0, 30 * 60_000, 100);
    return (performance.now() - started) / 1000;
  } finally {
    await esm.stop();
  }
}

async function countStored(stack: ProvisionedStack): Promise<number> {
  let count = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await dynamo().send(
      new ScanCommand({ TableName: stack.tableName('analytics'), FilterExpression: 'begins_with(pk, :event)', ExpressionAttributeValues: { ':event': 'EVENT#' }, Select: 'COUNT', ...(start ? { ExclusiveStartKey: start } : {}) }),
    );
    count += page.Count ?? 0;
    start = page.LastEvaluatedKey;
  } while (start);
  return count;
}

export async function measureAnalyticsThroughput(endpoint: string, events: number): Promise<AnalyticsThroughput> {
  const { handler: processor } = await import('../../functions/analytics/handler.ts');

  const ceilingStack = await freshStack(endpoint, 'analytics-ceiling');
  await fill(endpoint, ceilingStack, events);
  const rawWriter = async (event: SQSEvent) => {
    for (let i = 0; i < event.Records.length; i += 25) {
      const items = event.Records.slice(i, i + 25).map((record) => ({ PutRequest: { Item: { pk: `EVENT#raw`, sk: record.messageId, body: record.body } } }));
      await dynamo().send(new BatchWriteCommand({ RequestItems: { [ceilingStack.tableName('analytics')]: items } }));
    }
    return { batchItemFailures: [] };
  };
  const ceilingSeconds = await drain(endpoint, ceilingStack, rawWriter);

  const beforeStack = await freshStack(endpoint, 'analytics-before');
  await fill(endpoint, beforeStack, events);
  process.env.ANALYTICS_INSIGHT_AGGREGATES = 'false';
  let beforeSeconds: number;
  try {
    beforeSeconds = await drain(endpoint, beforeStack, processor as never);
  } finally {
    delete process.env.ANALYTICS_INSIGHT_AGGREGATES;
  }

  const stack = await freshStack(endpoint, 'analytics');
  await fill(endpoint, stack, events);
  const seconds = await drain(endpoint, stack, processor as never);
  const stored = await countStored(stack);
  return {
    events_per_s: Math.round(events / seconds),
    before_insights_events_per_s: Math.round(events / beforeSeconds),
    ceiling_events_per_s: Math.round(events / ceilingSeconds),
    events,
    stored,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { freePort, startMoto } = await import('../local/moto.ts');
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const print = console.log.bind(console);
  console.log = () => undefined;
  const events = process.argv.includes('--quick') ? 500 : 3000;
  const emulator = await startMoto({ port: await freePort() });
  try {
    const r = await measureAnalyticsThroughput(emulator.endpoint, events);
    print(`analytics processor, ${r.events} events: ${r.events_per_s} events/s with the insight pre-computation, ${r.before_insights_events_per_s} without it, ceiling ${r.ceiling_events_per_s}; stored ${r.stored}/${r.events}`);
  } finally {
    await emulator.stop();
  }
}
