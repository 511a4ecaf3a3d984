/**
 * Cost per operation in AWS's terms: what one API request of each route, one analytics event
 * and one imported item ask of AWS (calls, DynamoDB units, 64 KB chunks, Lambda invocations
 * and duration, log bytes), and what that costs per million at the prices in ./prices.json.
 * Side by side with the naive designs of the throughput benchmarks: an analytics processor
 * that writes one PutItem per event (no transaction, no aggregates), and an importer that
 * writes one PutItem per item.
 *
 * Everything runs in this process against the emulator: handlers are invoked as API Gateway
 * and the event source mapping would (queues drained in batches of the mapping's size), and
 * every SDK call is counted by ./aws-usage.ts. What is measured rather than counted:
 * Lambda durations (against the emulator; AWS's DynamoDB answers in single-digit ms, so these
 * are an upper bound) and log bytes (what the functions write to stdout, plus the runtime's
 * START/END/REPORT lines, estimated). Reads are measured on small tables: a route that reads
 * more when there is more data (lists, analytics ranges) costs more on a full table.
 *
 * Alone: `npx tsx scripts/bench/cost.ts` (its own emulator).
 */
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { JOB_SORT_KEY, jobPartition } from '../../functions/shared/imports/jobs.ts';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, SQSEvent } from 'aws-lambda';
import { drainAfterResponseTasks } from '../../functions/shared/after-response.ts';
import { forgetShardCounts } from '../../functions/shared/analytics/shard-counts.ts';
import { dynamo, eventBridge, sqs } from '../../functions/shared/aws-clients.ts';
import { toItemRecord } from '../../functions/shared/items/item.ts';
import { apiEvent, lambdaContext, type Claims } from '../../tests/support/invoke.ts';
import { toSqsRecord } from '../local/event-source-mapping.ts';
import { clientConfig, type ProvisionedStack } from '../local/provision.ts';
import { functions, queues, routes, type FunctionName, type QueueName, type RouteKey } from '../local/topology.ts';
import { benchAnalyticsEvent } from './analytics-throughput.ts';
import { perOperation, tableShapesOf, totalCalls, UsageRecorder, type Usage } from './aws-usage.ts';
import { freshStack, region } from './fixtures.ts';
import prices from './prices.json' with { type: 'json' };

/** What one operation used (averaged over the operations measured together). */
export interface OperationUse {
  usage: Usage;
  /** Per function: invocations and billed milliseconds (each invocation rounded up to 1 ms). */
  lambda: Partial<Record<FunctionName, { invocations: number; billedMs: number }>>;
  apiRequests: number;
  /** Messages EventBridge delivered to a queue: an SQS request each, billed to the account. */
  deliveries: number;
  logBytes: number;
}

/** The runtime's START, END and REPORT lines per invocation (text format; JSON format is larger). */
const PLATFORM_LOG_BYTES = 330;

export interface Cost {
  usd_per_million: number;
  parts: { lambda: number; api: number; eventbridge: number; sqs: number; dynamodb: number; logs: number };
}

const round = (v: number, digits = 4) => Number(v.toPrecision(digits));

/** Dollars per million operations at ./prices.json, by service. */
export function usdPerMillion(use: OperationUse): Cost {
  const M = 1e6;
  let lambda = 0;
  let invocations = 0;
  for (const [name, l] of Object.entries(use.lambda) as Array<[FunctionName, { invocations: number; billedMs: number }]>) {
    invocations += l.invocations;
    lambda += l.invocations * prices.lambda_arm64.usd_per_million_requests + M * (l.billedMs / 1000) * (functions[name].memoryMb / 1024) * prices.lambda_arm64.usd_per_gb_second;
  }
  const parts = {
    lambda,
    api: use.apiRequests * prices.http_api.usd_per_million_requests,
    eventbridge: use.usage.eventBridgeChunks * prices.eventbridge_custom_events.usd_per_million_events,
    sqs: (use.usage.sqsChunks + use.deliveries) * prices.sqs_standard.usd_per_million_requests,
    dynamodb: use.usage.writeUnits * prices.dynamodb_on_demand.usd_per_million_write_units + use.usage.readUnits * prices.dynamodb_on_demand.usd_per_million_read_units,
    logs: (M * (use.logBytes + invocations * PLATFORM_LOG_BYTES) / 2 ** 30) * prices.cloudwatch_logs_standard.usd_per_gb_ingested,
  };
  const total = Object.values(parts).reduce((a, b) => a + b, 0);
  return { usd_per_million: round(total), parts: Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, round(v)])) as Cost['parts'] };
}

type SqsHandler = (event: SQSEvent, context: never) => Promise<unknown>;
type ApiHandler = (event: APIGatewayProxyEventV2WithJWTAuthorizer, context: never) => Promise<{ statusCode?: number; body?: string }>;

/** Counts Lambda invocations, API requests, deliveries and log bytes alongside the SDK middleware's usage. */
class CostMeter {
  private lambda: OperationUse['lambda'] = {};
  private apiRequests = 0;
  private deliveries = 0;
  private logBytes = 0;
  readonly pollerSqs: SQSClient;

  constructor(
    readonly recorder: UsageRecorder,
    endpoint: string,
  ) {
    // Lambda's pollers' ReceiveMessage and DeleteMessageBatch are SQS requests billed to the account.
    this.pollerSqs = new SQSClient(clientConfig({ endpoint, region }));
    recorder.attach(this.pollerSqs);
  }

  /** Runs a handler as Lambda would bill it: from the invocation to the end of its after-response work. */
  async invoke<T>(fn: FunctionName, run: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const result = await run();
    await drainAfterResponseTasks();
    const l = (this.lambda[fn] ??= { invocations: 0, billedMs: 0 });
    l.invocations++;
    l.billedMs += Math.ceil(performance.now() - started);
    return result;
  }

  async api(handler: ApiHandler, fn: FunctionName, event: APIGatewayProxyEventV2WithJWTAuthorizer): Promise<{ statusCode: number; body: Record<string, unknown> }> {
    this.apiRequests++;
    const result = await this.invoke(fn, () => handler(event, lambdaContext(fn) as never));
    return { statusCode: result.statusCode ?? 200, body: result.body ? (JSON.parse(result.body) as Record<string, unknown>) : {} };
  }

  /** Drains a queue the way its event source mapping does (batches of its size), through `handler`. */
  async drain(stack: ProvisionedStack, queue: QueueName, handler: SqsHandler): Promise<number> {
    const url = stack.queueUrl(queue);
    const { Attributes } = await new SQSClient(clientConfig({ endpoint: String(process.env.AWS_ENDPOINT_URL), region })).send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
    const arn = String(Attributes?.QueueArn);
    let processed = 0;
    for (;;) {
      const { Messages = [] } = await this.pollerSqs.send(
        new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: Math.min(10, queues[queue].batchSize), WaitTimeSeconds: 0, MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['All'] }),
      );
      if (Messages.length === 0) return processed;
      this.deliveries += Messages.filter((m) => m.Attributes?.ApproximateReceiveCount === '1').length;
      const records = Messages.map((m) => toSqsRecord(m, arn, region));
      const result = (await this.invoke(queues[queue].consumer, () => handler({ Records: records }, lambdaContext(queues[queue].consumer) as never))) as { batchItemFailures?: Array<{ itemIdentifier: string }> } | undefined;
      const failed = new Set((result?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
      const done = records.filter((r) => !failed.has(r.messageId));
      if (done.length > 0) await this.pollerSqs.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: done.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })) }));
      processed += records.length;
    }
  }

  /** Measures `work` as `operations` operations: the usage of each, on average. */
  async measure(operations: number, work: () => Promise<void>): Promise<OperationUse> {
    this.lambda = {};
    this.apiRequests = 0;
    this.deliveries = 0;
    this.logBytes = 0;
    // The functions log straight to stdout (functions/shared/log.ts): count those bytes, print nothing.
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array) => {
      this.logBytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
      return true;
    }) as typeof process.stdout.write;
    let usage: Usage;
    try {
      ({ usage } = await this.recorder.measure(work));
    } finally {
      process.stdout.write = write;
    }
    const lambda = Object.fromEntries(Object.entries(this.lambda).map(([fn, l]) => [fn, { invocations: l.invocations / operations, billedMs: l.billedMs / operations }]));
    return { usage: perOperation(usage, operations), lambda, apiRequests: this.apiRequests / operations, deliveries: this.deliveries / operations, logBytes: this.logBytes / operations };
  }
}

const handlerOf = async <T>(fn: FunctionName): Promise<T> => ((await import(`../../functions/${fn}/handler.ts`)) as { handler: T }).handler;

const USER: Claims = { sub: 'bench-user', tenant: 'bench' };
const ADMIN: Claims = { sub: 'bench-admin', tenant: 'bench', scope: 'admin' };
/** Requests of one route measured together; the figure is their mean. */
const PER_ROUTE = 5;

export interface CostResults {
  operations: Record<string, OperationUse & Cost>;
  prices: { read_on: string; region: string };
}

/** The request each route gets, built from what earlier routes created (items, imports). */
function routeRequests(state: { imports: string[]; cancellable: string[] }): Record<RouteKey, (i: number) => APIGatewayProxyEventV2WithJWTAuthorizer> {
  const item = (i: number) => ({ pathParameters: { collection: 'books', id: `b${i}` }, path: `/items/books/b${i}` });
  const day = new Date().toISOString().slice(0, 10);
  const analytics = (routeKey: RouteKey, path: string, query: Record<string, string> = {}, pathParameters?: Record<string, string>) => () =>
    apiEvent({ routeKey, path, claims: ADMIN, query, ...(pathParameters ? { pathParameters } : {}) });
  return {
    'GET /health': () => apiEvent({ routeKey: 'GET /health', path: '/health' }),
    'PUT /items/{collection}/{id}': (i) => apiEvent({ routeKey: 'PUT /items/{collection}/{id}', ...item(i), claims: USER, body: { title: `Book ${i}`, pages: 100 + i, tags: ['bench', 'cost'] } }),
    'GET /items/{collection}/{id}': (i) => apiEvent({ routeKey: 'GET /items/{collection}/{id}', ...item(i), claims: USER }),
    'GET /items/{collection}': () => apiEvent({ routeKey: 'GET /items/{collection}', path: '/items/books', pathParameters: { collection: 'books' }, claims: USER }),
    'GET /collections/{collection}/stats': () => apiEvent({ routeKey: 'GET /collections/{collection}/stats', path: '/collections/books/stats', pathParameters: { collection: 'books' }, claims: USER }),
    'PATCH /items/{collection}/{id}': (i) => apiEvent({ routeKey: 'PATCH /items/{collection}/{id}', ...item(i), claims: USER, body: { pages: 200 + i } }),
    'POST /imports': () => apiEvent({ routeKey: 'POST /imports', path: '/imports', claims: ADMIN, body: { collection: 'imported' } }),
    'POST /imports/{importId}/items': (i) => {
      const importId = state.imports[i]!;
      const items = Array.from({ length: 10 }, (_, j) => ({ id: `i${i}-${j}`, data: { name: `Item ${j}`, score: j } }));
      return apiEvent({ routeKey: 'POST /imports/{importId}/items', path: `/imports/${importId}/items`, pathParameters: { importId }, claims: ADMIN, body: { items, chunkId: 'c0' } });
    },
    'POST /imports/{importId}/commit': (i) => apiEvent({ routeKey: 'POST /imports/{importId}/commit', path: `/imports/${state.imports[i]}/commit`, pathParameters: { importId: state.imports[i]! }, claims: ADMIN }),
    'GET /imports/{importId}': (i) => apiEvent({ routeKey: 'GET /imports/{importId}', path: `/imports/${state.imports[i]}`, pathParameters: { importId: state.imports[i]! }, claims: ADMIN }),
    'GET /imports/{importId}/failures': (i) => apiEvent({ routeKey: 'GET /imports/{importId}/failures', path: `/imports/${state.imports[i]}/failures`, pathParameters: { importId: state.imports[i]! }, claims: ADMIN }),
    'POST /imports/{importId}/cancel': (i) => apiEvent({ routeKey: 'POST /imports/{importId}/cancel', path: `/imports/${state.cancellable[i]}/cancel`, pathParameters: { importId: state.cancellable[i]! }, claims: ADMIN }),
    'GET /analytics/summary': analytics('GET /analytics/summary', '/analytics/summary'),
    'GET /analytics/timeseries': analytics('GET /analytics/timeseries', '/analytics/timeseries', { interval: 'hour' }),
    'GET /analytics/users/{userId}/events': analytics('GET /analytics/users/{userId}/events', `/analytics/users/${USER.sub}/events`, {}, { userId: USER.sub }),
    'GET /analytics/performance': analytics('GET /analytics/performance', '/analytics/performance'),
    'GET /analytics/errors': analytics('GET /analytics/errors', '/analytics/errors'),
    'GET /analytics/health': analytics('GET /analytics/health', '/analytics/health'),
    'GET /analytics/imports': analytics('GET /analytics/imports', '/analytics/imports'),
    'GET /analytics/features': analytics('GET /analytics/features', '/analytics/features', { from: `${day}T00:00:00Z` }),
    'GET /analytics/sessions': analytics('GET /analytics/sessions', '/analytics/sessions'),
    'GET /analytics/funnels': analytics('GET /analytics/funnels', '/analytics/funnels', { steps: 'ITEM_PUT,ITEM_GET' }),
    'POST /events': () => apiEvent({ routeKey: 'POST /events', path: '/events', claims: USER, body: { events: [{ action: 'CLICK', type: 'BUTTON_CLICK', properties: { button: 'save' } }] } }),
    'DELETE /items/{collection}/{id}': (i) => apiEvent({ routeKey: 'DELETE /items/{collection}/{id}', ...item(i), claims: USER }),
  };
}

/** Every route, one after another in the order of routeRequests (which creates before it reads, patches and deletes). */
async function measureRoutes(meter: CostMeter, stack: ProvisionedStack, only: (routeKey: RouteKey) => boolean = () => true): Promise<Record<string, OperationUse>> {
  const analyticsProcessor = await handlerOf<SqsHandler>(queues.analytics.consumer);
  const appEventsConsumer = await handlerOf<SqsHandler>(queues['app-events'].consumer);
  const state = { imports: [] as string[], cancellable: [] as string[] };
  const requests = routeRequests(state);
  const results: Record<string, OperationUse> = {};
  // Imports to cancel, made outside the measurement.
  const eventProcessor = await handlerOf<ApiHandler>(routes['POST /imports'].function);
  for (let i = 0; i < PER_ROUTE; i++) {
    const { body } = await meter.api(eventProcessor, routes['POST /imports'].function, requests['POST /imports'](i));
    state.cancellable.push(String(body.importId));
  }
  await meter.drain(stack, 'analytics', analyticsProcessor);
  for (const routeKey of (Object.keys(requests) as RouteKey[]).filter(only)) {
    const fn = routes[routeKey].function;
    const handler = await handlerOf<ApiHandler>(fn);
    results[routeKey] = await meter.measure(PER_ROUTE, async () => {
      for (let i = 0; i < PER_ROUTE; i++) {
        // Each request as one to a container that has not read these days' shard counts in the last 2 s.
        forgetShardCounts('reads');
        const { statusCode, body } = await meter.api(handler, fn, requests[routeKey](i));
        if (statusCode >= 400) throw new Error(`${routeKey} answered ${statusCode} ${JSON.stringify(body)}`);
        if (routeKey === 'POST /imports') state.imports.push(String(body.importId));
      }
      // The route's consequences: its analytics event through the processor, its domain events through the event processor.
      await meter.drain(stack, 'app-events', appEventsConsumer);
      await meter.drain(stack, 'analytics', analyticsProcessor);
    });
  }
  return results;
}

/** N analytics events, each emitted in its own PutEvents (one request, one event), through the processor or a naive one. */
async function measureAnalyticsEvents(meter: CostMeter, stack: ProvisionedStack, events: number, processor: SqsHandler): Promise<OperationUse> {
  return meter.measure(events, async () => {
    for (let i = 0; i < events; i++) {
      const event = benchAnalyticsEvent(i);
      // The emitter's delivery is billed to the emitting function (512 MB, like query and write).
      await meter.invoke('query', () => eventBridge().send(new PutEventsCommand({ Entries: [{ EventBusName: stack.busName('analytics'), Source: event.source, DetailType: event.eventType, Detail: JSON.stringify(event) }] })));
    }
    await meter.drain(stack, 'analytics', processor);
  });
}

/** The naive processor: one PutItem per event, the envelope as it came (no transaction, no aggregates, no exactly-once). */
export function naiveProcessor(stack: ProvisionedStack): SqsHandler {
  return async (event) => {
    for (const record of event.Records) {
      const detail = (JSON.parse(record.body) as { detail: { detail: { timestamp: string } } }).detail;
      await dynamo().send(new PutCommand({ TableName: stack.tableName('analytics'), Item: { pk: `EVENT#bench#${detail.detail.timestamp.slice(0, 10)}`, sk: `${detail.detail.timestamp}#${record.messageId}`, body: record.body } }));
    }
    return { batchItemFailures: [] };
  };
}

/** One import of `items` items through the API, the import worker and the event processor, until the job completes. */
async function measureImport(meter: CostMeter, stack: ProvisionedStack, items: number): Promise<OperationUse> {
  const api = await handlerOf<ApiHandler>(routes['POST /imports'].function);
  const importWorker = await handlerOf<SqsHandler>(queues.import.consumer);
  const appEventsConsumer = await handlerOf<SqsHandler>(queues['app-events'].consumer);
  const analyticsProcessor = await handlerOf<SqsHandler>(queues.analytics.consumer);
  const call = (routeKey: RouteKey, path: string, pathParameters?: Record<string, string>, body?: object) =>
    meter.api(api, routes[routeKey].function, apiEvent({ routeKey, path, claims: ADMIN, ...(pathParameters ? { pathParameters } : {}), ...(body !== undefined ? { body } : {}) }));
  const uncounted = DynamoDBDocumentClient.from(new DynamoDBClient(clientConfig({ endpoint: String(process.env.AWS_ENDPOINT_URL), region })));
  let status = '';
  const use = await meter.measure(items, async () => {
    const importId = String((await call('POST /imports', '/imports', undefined, { collection: 'bulk' })).body.importId);
    for (let chunk = 0; chunk * 500 < items; chunk++) {
      const batch = Array.from({ length: Math.min(500, items - chunk * 500) }, (_, j) => ({ id: `item-${chunk * 500 + j}`, data: { name: `Item number ${j}`, score: j % 1000, city: ['Paris', 'Lyon', 'Nantes'][j % 3], tags: ['bulk', `g${j % 50}`] } }));
      await call('POST /imports/{importId}/items', `/imports/${importId}/items`, { importId }, { items: batch, chunkId: `c${chunk}` });
    }
    await call('POST /imports/{importId}/commit', `/imports/${importId}/commit`, { importId });
    for (let round = 0; round < 20 && !status.startsWith('COMPLETED'); round++) {
      const moved = (await meter.drain(stack, 'import', importWorker)) + (await meter.drain(stack, 'app-events', appEventsConsumer)) + (await meter.drain(stack, 'analytics', analyticsProcessor));
      // Read as the bench, not as an operation: outside the counted clients.
      const { Item } = await uncounted.send(new GetCommand({ TableName: stack.tableName('data'), Key: { pk: jobPartition('bench', importId), sk: JOB_SORT_KEY }, ConsistentRead: true }));
      status = String(Item?.status);
      if (moved === 0 && !status.startsWith('COMPLETED')) await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });
  if (!status.startsWith('COMPLETED')) throw new Error(`the measured import ended ${status}`);
  return use;
}

/** The naive importer: one PutItem per item. */
export async function naiveImport(stack: ProvisionedStack, items: number): Promise<void> {
  const now = new Date().toISOString();
  for (let i = 0; i < items; i++) {
    const data = { name: `Item number ${i}`, score: i % 1000, city: ['Paris', 'Lyon', 'Nantes'][i % 3], tags: ['bulk', `g${i % 50}`] };
    await dynamo().send(new PutCommand({ TableName: stack.tableName('data'), Item: toItemRecord('bench', { collection: 'naive', id: `item-${i}`, data, version: 1, createdAt: now, updatedAt: now }, 1) })); // naive: one key per collection
  }
}

async function measureNaiveImport(meter: CostMeter, stack: ProvisionedStack, items: number): Promise<OperationUse> {
  return meter.measure(items, () => naiveImport(stack, items));
}

export async function measureCosts(endpoint: string, sizes: { analyticsEvents: number; importItems: number }): Promise<CostResults> {
  const stack = await freshStack(endpoint, 'cost');
  const recorder = new UsageRecorder(tableShapesOf(stack), clientConfig({ endpoint, region }));
  recorder.attach(dynamo());
  recorder.attach(eventBridge());
  recorder.attach(await sqs());
  const meter = new CostMeter(recorder, endpoint);
  const processor = await handlerOf<SqsHandler>(queues.analytics.consumer);

  const uses: Record<string, OperationUse> = {};
  for (const [route, use] of Object.entries(await measureRoutes(meter, stack))) uses[`route ${route}`] = use;
  uses.analytics_event = await measureAnalyticsEvents(meter, stack, sizes.analyticsEvents, processor);
  // The same with the analytics keys unsharded (before docs/SCALE.md's write shards): the event, and the analytics reads.
  process.env.ANALYTICS_KEY_SHARDS = '1';
  try {
    uses.analytics_event_unsharded = await measureAnalyticsEvents(meter, stack, sizes.analyticsEvents, processor);
    const unsharded = await measureRoutes(meter, stack, (routeKey) => routeKey.startsWith('GET /analytics/'));
    for (const [route, use] of Object.entries(unsharded)) uses[`route ${route} (unsharded)`] = use;
  } finally {
    delete process.env.ANALYTICS_KEY_SHARDS;
  }
  uses.analytics_event_naive = await measureAnalyticsEvents(meter, stack, sizes.analyticsEvents, naiveProcessor(stack));
  uses.import_item = await measureImport(meter, stack, sizes.importItems);
  uses.import_item_naive = await measureNaiveImport(meter, stack, sizes.importItems);
  return {
    operations: Object.fromEntries(Object.entries(uses).map(([name, use]) => [name, { ...use, ...usdPerMillion(use) }])),
    prices: { read_on: prices.read_on, region: prices.region },
  };
}

/** The figures bench-results.json keeps per operation. */
export function costSummary(op: OperationUse & Cost) {
  return { calls: round(totalCalls(op.usage)), write_units: round(op.usage.writeUnits), read_units: round(op.usage.readUnits), usd_per_million: op.usd_per_million };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { freePort, startMoto } = await import('../local/moto.ts');
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const print = console.log.bind(console);
  console.log = () => undefined;
  const emulator = await startMoto({ port: await freePort() });
  try {
    const results = await measureCosts(emulator.endpoint, { analyticsEvents: 100, importItems: 1000 });
    for (const [name, op] of Object.entries(results.operations)) print(`${name}: ${JSON.stringify(costSummary(op))} ${JSON.stringify(op.parts)}`);
  } finally {
    await emulator.stop();
  }
}
