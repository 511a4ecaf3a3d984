/**
 * Measurements, not assertions of speed (the emulator and 2 cores decide those); skipped
 * unless ANALYTICS_BENCH=1:
 *
 *   ANALYTICS_BENCH=1 npx vitest run tests/e2e/analytics-bench.test.ts
 *
 * 1. The processor's throughput: BENCH_EVENTS (500) events on the analytics queue through
 *    the handler, with the event source mapping's batch size (10), at BENCH_CONCURRENCY (1).
 * 2. The latency the emitter adds to a request: the query handler with ANALYTICS_ENABLED
 *    false and true, interleaved in one run, ~500 invocations each; the after-response
 *    flush is timed separately (it runs after the response, but is billed).
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageBatchCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as analyticsHandler } from '../../functions/analytics/handler.ts';
import { handler as queryHandler } from '../../functions/query/handler.ts';
import { drainAfterResponseTasks } from '../../functions/shared/after-response.ts';
import { buildAnalyticsEvent } from '../../functions/shared/analytics/event.ts';
import { setAwsClients } from '../../functions/shared/aws-clients.ts';
import { toSqsRecord } from '../../scripts/local/event-source-mapping.ts';
import { clientConfig, type ProvisionedStack } from '../../scripts/local/provision.ts';
import { apiEvent, lambdaContext } from '../support/invoke.ts';
import { awsEndpoint, provisionTestStack, region } from '../support/stack.ts';

const enabled = process.env.ANALYTICS_BENCH === '1';
/**
 * moto's TransactWriteItems deep-copies the whole table once per transaction item (so its
 * cost and memory grow with the table: 2,000 events took moto past 17 GB) and is not safe
 * under concurrency (HTML 500s, and a failed transaction's whole-table rollback can erase
 * a concurrent commit). Defaults are what the emulator survives; AWS has neither problem.
 */
const EVENTS = Number(process.env.BENCH_EVENTS ?? 500);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1').split(',').map(Number);
let stack: ProvisionedStack;
let sqs: SQSClient;
let db: DynamoDBDocumentClient;
const context = { functionName: 'query', functionVersion: '1', memoryLimitInMB: '512', getRemainingTimeInMillis: () => 9000 };

beforeAll(async () => {
  if (!enabled) return;
  stack = await provisionTestStack({ visibilityTimeoutSeconds: 30 });
  setAwsClients({});
  sqs = new SQSClient(clientConfig({ endpoint: awsEndpoint(), region }));
  db = DynamoDBDocumentClient.from(new DynamoDBClient(clientConfig({ endpoint: awsEndpoint(), region })));
}, 120_000);

const pct = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
};

async function fill(tenant: string, n: number): Promise<void> {
  const bodies = Array.from({ length: n }, (_, i) => {
    const detail = buildAnalyticsEvent({ type: i % 3 === 0 ? 'ITEM_PUT' : 'ITEM_GET', action: 'EXECUTE', category: 'QUERY', source: 's', status: i % 20 === 0 ? 'FAILURE' : 'SUCCESS', ...(i % 20 === 0 ? { errorType: 'NOT_FOUND' } : {}), durationMs: 1 + (i % 97), requestId: randomUUID(), userId: `u${i % 50}`, context, properties: { tenant } });
    return JSON.stringify({ version: '0', id: randomUUID(), 'detail-type': detail.eventType, source: 's', time: new Date().toISOString(), region, resources: [], detail });
  });
  const chunks = [];
  for (let i = 0; i < bodies.length; i += 10) chunks.push(bodies.slice(i, i + 10));
  for (let i = 0; i < chunks.length; i += 8) {
    await Promise.all(chunks.slice(i, i + 8).map((chunk) => sqs.send(new SendMessageBatchCommand({ QueueUrl: stack.queueUrl('analytics'), Entries: chunk.map((MessageBody, n) => ({ Id: String(n), MessageBody })) }))));
  }
}

/** Drains the queue with `concurrency` pollers; returns handler-only and end-to-end seconds. */
async function drain(expected: number, concurrency: number): Promise<{ handlerSeconds: number; wallSeconds: number; handled: number }> {
  const url = stack.queueUrl('analytics');
  const arn = `arn:aws:sqs:${region}:123456789012:${url.split('/').pop()}`;
  let handled = 0;
  let handlerMs = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      let idle = 0;
      while (handled < expected && idle < 2) {
        const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageSystemAttributeNames: ['All'] }));
        if (Messages.length === 0) {
          idle++;
          continue;
        }
        const t = performance.now();
        const result = await analyticsHandler({ Records: Messages.map((m) => toSqsRecord(m, arn, region)) });
        handlerMs += performance.now() - t;
        const failed = new Set(result.batchItemFailures.map((f) => f.itemIdentifier));
        const done: Message[] = Messages.filter((m) => !failed.has(m.MessageId!));
        if (done.length) await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: done.map((m, n) => ({ Id: String(n), ReceiptHandle: m.ReceiptHandle! })) }));
        handled += done.length;
      }
    }),
  );
  return { handlerSeconds: handlerMs / 1000 / concurrency, wallSeconds: (performance.now() - started) / 1000, handled };
}

async function countStored(tenant: string): Promise<number> {
  let count = 0;
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await db.send(new QueryCommand({ TableName: stack.tableName('analytics'), KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `EVENT#${tenant}#${new Date().toISOString().slice(0, 10)}` }, Select: 'COUNT', ...(ExclusiveStartKey ? { ExclusiveStartKey } : {}) }));
    count += page.Count ?? 0;
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return count;
}

describe.skipIf(!enabled)('analytics measurements', () => {
  for (const concurrency of CONCURRENCY) {
    it(`processor throughput, ${EVENTS} events, concurrency ${concurrency}`, async () => {
      const tenant = `bench-${concurrency}-${randomUUID().slice(0, 6)}`;
      await fill(tenant, EVENTS);
      const silence = console.log;
      console.log = () => undefined;
      const run = await drain(EVENTS, concurrency).finally(() => (console.log = silence));
      const stored = await countStored(tenant);
      console.log(
        `[bench] processor c=${concurrency}: ${run.handled} events, end-to-end ${run.wallSeconds.toFixed(2)} s = ${(run.handled / run.wallSeconds).toFixed(0)} events/s; ` +
          `handler time per poller ${run.handlerSeconds.toFixed(2)} s = ${(run.handled / concurrency / run.handlerSeconds).toFixed(0)} events/s per invocation stream; stored ${stored}`,
      );
      expect(run.handled).toBe(EVENTS);
      expect(stored).toBe(EVENTS);
    }, 600_000);
  }

  it('latency the emitter adds to a request (GET /health and GET /items/{c}/{id})', async () => {
    const routes = [
      apiEvent({ routeKey: 'GET /health', path: '/health' }),
      apiEvent({ routeKey: 'GET /items/{collection}/{id}', path: '/items/notes/none', pathParameters: { collection: 'notes', id: 'none' }, claims: { sub: 'u', tenant: 'bench' } }),
    ];
    const silence = console.log;
    console.log = () => undefined;
    try {
      for (const event of routes) {
        const samples: Record<'off' | 'on', number[]> = { off: [], on: [] };
        const flush: number[] = [];
        for (let i = 0; i < 550; i++) {
          for (const mode of ['off', 'on'] as const) {
            process.env.ANALYTICS_ENABLED = mode === 'on' ? 'true' : 'false';
            const t = performance.now();
            await queryHandler(event, lambdaContext('query'));
            const elapsed = performance.now() - t;
            const f = performance.now();
            await drainAfterResponseTasks();
            if (i >= 50) {
              samples[mode].push(elapsed); // the first 50 are warm-up
              if (mode === 'on') flush.push(performance.now() - f);
            }
          }
        }
        const line = (xs: number[]) => `p50 ${pct(xs, 0.5).toFixed(3)} ms, p99 ${pct(xs, 0.99).toFixed(3)} ms`;
        silence(
          `[bench] ${event.routeKey} (500 each, interleaved): analytics off ${line(samples.off)}; on ${line(samples.on)}; ` +
            `added p50 ${(pct(samples.on, 0.5) - pct(samples.off, 0.5)).toFixed(3)} ms, p99 ${(pct(samples.on, 0.99) - pct(samples.off, 0.99)).toFixed(3)} ms; ` +
            `after-response flush (PutEvents to the emulator) ${line(flush)}`,
        );
      }
    } finally {
      console.log = silence;
      delete process.env.ANALYTICS_ENABLED;
    }
  }, 600_000);
});
