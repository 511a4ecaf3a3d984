/**
 * How far one tenant scales before DynamoDB throttles a hot key: the analytics events per
 * second one tenant can send and the items per second one collection can import, first as
 * a model (units each operation puts on each partition and item, against DynamoDB's 1,000
 * write units per second per partition, an item never split), then as a simulation: the real
 * analytics processor and import worker, driven at increasing offered rates, writing through
 * the fault proxy's capacity mode (tests/support/fault-proxy.ts), which throttles as DynamoDB
 * does. Nothing may be lost: every event is stored exactly once, every item written.
 *
 * Time is simulated, not scaled: the emulator cannot take 20,000 events a second on 2 cores,
 * so the proxy's token buckets run on a simulated clock that this driver sets. An offered
 * rate R means batch b arrives at b × batchSize / R seconds; each batch (as the event source
 * mapping would hand it over: up to the queue's batch size, visible messages only) is handled
 * at its arrival time, the clock standing still while the handler runs; a record the handler
 * reports failed becomes visible again after the back-off the handler asks SQS for
 * (retryDelaySeconds) or the queue's visibility timeout. The buckets refill with the clock at
 * DynamoDB's rates, so what is measured is DynamoDB's limit, not the emulator's speed. Not
 * modelled: Lambda concurrency (see docs/SCALE.md), network latency, DynamoDB's burst of up
 * to 300 s of unused capacity (buckets here hold `burstSeconds`, and throughput is measured
 * after that burst has been spent), and split for heat (DynamoDB may, after a while, split a
 * hot partition by sort key; the per-item limit never moves).
 *
 * Alone: `npx tsx scripts/bench/scale.ts [--quick]` (its own emulator).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { drainAfterResponseTasks } from '../../functions/shared/after-response.ts';
import { readAggregates } from '../../functions/shared/analytics/store.ts';
import { setAwsClients } from '../../functions/shared/aws-clients.ts';
import { config } from '../../functions/shared/config.ts';
import { accountOfQueueUrl, toEnvelope } from '../../functions/shared/events/publisher.ts';
import { apiEvent, lambdaContext } from '../../tests/support/invoke.ts';
import { startFaultProxy, type CapacityStats, type FaultProxy } from '../../tests/support/fault-proxy.ts';
import { storedItems } from '../../tests/support/stored-items.ts';
import { clientConfig, type ProvisionedStack } from '../local/provision.ts';
import { queues, routes } from '../local/topology.ts';
import { benchAnalyticsEvent } from './analytics-throughput.ts';
import { shardCount, type ShardedKind } from '../../functions/shared/analytics/keys.ts';
import { tableShapesOf, writeCharges } from './aws-usage.ts';
import { freshStack, region } from './fixtures.ts';

/** DynamoDB's per-partition write limit (developer guide, "Partitions and data distribution"); one item lives in one partition. */
export const PARTITION_WRITE_UNITS_PER_SECOND = 1000;
/** Users the simulated tenant's events come from: a tenant sending thousands of events a second has many. */
const SIMULATED_USERS = 5000;
/** Uses of an item's stored image before the charges read it again (./aws-usage.ts writeCharges). */
const IMAGE_REREAD_AFTER = 10;

export interface ScalePoint {
  offered_per_s: number;
  /** Stored (events) or written (items) per simulated second, measured after the warm-up. */
  throughput_per_s: number;
  /** Writes DynamoDB refused per simulated second in the measured interval. */
  throttles_per_s: number;
  /** Operations simulated at this rate, and how many ended stored exactly once. */
  operations: number;
  stored: number;
}

export interface ScaleModel {
  /** Write units one operation puts on one partition of each of its hottest families (up to 5; a sharded family's units divided by its shards). */
  partitions: Array<{ key: string; units_per_operation: number }>;
  /** Write units one operation puts on its hottest partition and its hottest item. */
  hottest_partition: { key: string; units_per_operation: number };
  hottest_item: { key: string; units_per_operation: number };
  /** min(1000 / each): the operations per second before that key throttles. */
  ceiling_per_s: number;
}

export interface ScaleRun {
  model: ScaleModel;
  points: ScalePoint[];
  /** The highest throughput the simulation reached: the simulated ceiling when some offered rate exceeded it. */
  ceiling_per_s: number;
}

type Handler = (event: SQSEvent, context: never) => Promise<{ batchItemFailures: Array<{ itemIdentifier: string }> }>;

interface Pending {
  message: Message;
  availableAt: number;
  receives: number;
  storedAt?: number;
}

/** The proxy in capacity mode on a simulated clock, and this process's SDK clients sent through it. */
async function throttledStack(endpoint: string, label: string, limits: { partition: number; burstSeconds: number }) {
  // The handlers' warnings (a visibility change refused for a simulated receipt handle) are expected here.
  console.warn = () => undefined;
  const stack = await freshStack(endpoint, label);
  let now = 0;
  const proxy: FaultProxy = await startFaultProxy({
    upstream: endpoint,
    capacity: {
      partitionWriteUnitsPerSecond: limits.partition,
      itemWriteUnitsPerSecond: limits.partition,
      burstSeconds: limits.burstSeconds,
      clock: () => now,
      billing: 'on-demand',
      charges: writeCharges(tableShapesOf(stack), new DynamoDBClient(clientConfig({ endpoint, region })), { rereadAfter: IMAGE_REREAD_AFTER, fresh: true }),
    },
  });
  process.env.AWS_ENDPOINT_URL = proxy.url;
  setAwsClients({});
  const direct = DynamoDBDocumentClient.from(new DynamoDBClient(clientConfig({ endpoint, region })));
  const sqs = new SQSClient(clientConfig({ endpoint, region }));
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: stack.queueUrl('analytics'), AttributeNames: ['VisibilityTimeout'] }));
  return {
    stack,
    proxy,
    direct,
    sqs,
    visibilitySeconds: Number(Attributes?.VisibilityTimeout ?? 30),
    setNow: (t: number) => (now = t),
    async close() {
      process.env.AWS_ENDPOINT_URL = endpoint;
      setAwsClients({});
      await proxy.close();
    },
  };
}

/**
 * The event source mapping on the simulated clock: batches of the visible records, handled
 * at the time they become visible; failed records come back after `retryAfter`.
 */
async function drive(pending: Pending[], batchSize: number, queueArn: string, handler: Handler, setNow: (t: number) => void, retryAfter: (receives: number) => number): Promise<void> {
  for (;;) {
    const waiting = pending.filter((p) => p.storedAt === undefined).sort((a, b) => a.availableAt - b.availableAt);
    if (waiting.length === 0) return;
    const t = waiting[0]!.availableAt;
    const batch = waiting.filter((p) => p.availableAt <= t).slice(0, batchSize);
    setNow(t);
    for (const p of batch) p.receives++;
    const records: SQSRecord[] = batch.map((p) => ({
      messageId: p.message.MessageId!,
      receiptHandle: `sim-${p.message.MessageId}-${p.receives}`,
      body: p.message.Body!,
      attributes: { ApproximateReceiveCount: String(p.receives), SentTimestamp: String(Date.now()), SenderId: 'sim', ApproximateFirstReceiveTimestamp: String(Date.now()) },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: queueArn,
      awsRegion: region,
    }));
    const result = await handler({ Records: records }, lambdaContext('sim') as never);
    await drainAfterResponseTasks();
    const failed = new Set(result.batchItemFailures.map((f) => f.itemIdentifier));
    for (const p of batch) {
      if (failed.has(p.message.MessageId!)) p.availableAt = t + retryAfter(p.receives);
      else p.storedAt = t;
    }
    if (batch.some((p) => p.receives > 50)) throw new Error('a record failed 50 times in the simulation');
  }
}

function point(pending: Pending[], offered: number, warmUp: number, measured: number, throttledBefore: number, throttledAfter: number, stored: number, weight: (p: Pending) => number): ScalePoint {
  const inWindow = pending.filter((p) => p.storedAt !== undefined && p.storedAt >= warmUp && p.storedAt < warmUp + measured);
  const operations = pending.reduce((sum, p) => sum + weight(p), 0);
  return {
    offered_per_s: offered,
    throughput_per_s: Math.round(inWindow.reduce((sum, p) => sum + weight(p), 0) / measured),
    throttles_per_s: Math.round((throttledAfter - throttledBefore) / (warmUp + measured)),
    operations,
    stored,
  };
}

const totalThrottled = (stats: CapacityStats | undefined) => Object.values(stats?.throttled ?? {}).reduce((a, b) => a + b, 0);

/** The analytics key families spread over write shards (functions/shared/analytics/keys.ts), by their prefix. */
const SHARDED_FAMILIES: Array<[RegExp, ShardedKind]> = [
  [/^EVENT#/, 'events'],
  [/^AGG#/, 'aggregates'],
  [/^UDAY#/, 'userDays'],
];

/** A collection's partition key: the unsuffixed key, and the shard suffix if any. */
const COLLECTION_KEY = /^(TENANT#[^#]+#COLLECTION#[^#]+)(#\d+)?$/;

/**
 * A key's family (its partition key without the shard suffix) and how many partitions the
 * family is spread over at most: a hashed spread puts 1/shards of the family's units on each.
 */
function familyOf(key: string, shardedCollections: ReadonlySet<string>): { family: string; shards: number } {
  const [table = '', pk = '', ...rest] = key.split('|');
  for (const [prefix, kind] of SHARDED_FAMILIES) {
    if (prefix.test(pk)) {
      const family = pk.split('#').slice(0, 3).join('#'); // EVENT#<tenant>#<day>
      return { family: [table, family, ...rest].join('|'), shards: shardCount(kind) };
    }
  }
  // A collection's items (and their index entries) spread over its item shards by id (functions/shared/items/keys.ts).
  const collection = COLLECTION_KEY.exec(pk)?.[1];
  if (collection !== undefined && shardedCollections.has(collection) && rest.length === 0) return { family: `${table}|${collection}`, shards: config.itemShards() };
  // An import's batch plans on shards 1..N-1 of its job key (functions/import/batches.ts); shard 0, the job's own key, also
  // holds its job and chunk records, so it stays a family of its own, measured as it is.
  if (/^TENANT#[^#]+#IMPORT#[^#]+#\d+$/.test(pk) && rest.length === 0) {
    return { family: [table, `${pk.split('#').slice(0, 4).join('#')}#<shard>`].join('|'), shards: Math.max(1, config.itemShards() - 1) };
  }
  return { family: key, shards: 1 };
}

/**
 * The model from a run without limits: the write units one operation puts on each family
 * of partitions (and of items), divided by the partitions it is spread over; the ceiling is
 * where the hottest reaches DynamoDB's 1,000 units a second.
 */
function modelOf(stats: CapacityStats, operations: number): ScaleModel {
  // Collections written on more than their unsuffixed key (a naive import writes one key only).
  const shardedCollections = new Set(Object.keys(stats.unitsByKey).flatMap((key) => {
    const match = COLLECTION_KEY.exec(key.split('|')[1] ?? '');
    return match?.[2] ? [match[1]!] : [];
  }));
  const families = new Map<string, { units: number; shards: number; isItem: boolean }>();
  for (const [key, units] of Object.entries(stats.unitsByKey)) {
    const { family, shards } = familyOf(key, shardedCollections);
    const f = families.get(family) ?? { units: 0, shards, isItem: key.split('|').length === 3 };
    f.units += units;
    families.set(family, f);
  }
  const perPartition = [...families.entries()].map(([key, f]) => ({ key, isItem: f.isItem, units: f.units / f.shards / operations }));
  const partitions = perPartition.filter((e) => !e.isItem).sort((a, b) => b.units - a.units);
  const items = perPartition.filter((e) => e.isItem).sort((a, b) => b.units - a.units);
  const partition = partitions[0] ?? { key: '', units: 0 };
  const item = items[0] ?? { key: '', units: 0 };
  const round = (units: number) => Number(units.toPrecision(3));
  // Keys name this run's tables and tenant; the shape is what matters.
  const shape = (key: string) => key.replace(/^[^|/]*-(data|analytics)/, '$1').replace(/#model#|#scale#/, '#<tenant>#').replace(/\d{4}-\d{2}-\d{2}/, '<day>');
  return {
    partitions: partitions.slice(0, 5).map((p) => ({ key: shape(p.key), units_per_operation: round(p.units) })),
    hottest_partition: { key: shape(partition.key), units_per_operation: round(partition.units) },
    hottest_item: { key: shape(item.key), units_per_operation: round(item.units) },
    ceiling_per_s: Math.round(PARTITION_WRITE_UNITS_PER_SECOND / Math.max(partition.units, item.units)),
  };
}

/* ------------------------------------------------------------------ analytics */

async function analyticsMessages(stack: ProvisionedStack, tenant: string, events: number, offered: number, batchSize: number): Promise<Pending[]> {
  const account = accountOfQueueUrl(stack.queueUrl('analytics'));
  return Array.from({ length: events }, (_, i) => {
    const event = benchAnalyticsEvent(i, SIMULATED_USERS);
    event.detail.metadata.properties.tenant = tenant;
    const body = JSON.stringify(toEnvelope({ Source: event.source, DetailType: event.eventType, Detail: JSON.stringify(event) }, account));
    return { message: { MessageId: `${tenant}-${i}`, Body: body }, availableAt: Math.floor(i / batchSize) * (batchSize / offered), receives: 0 };
  });
}

async function storedEvents(direct: DynamoDBDocumentClient, stack: ProvisionedStack, tenant: string): Promise<number> {
  let count = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await direct.send(
      new ScanCommand({ TableName: stack.tableName('analytics'), FilterExpression: 'begins_with(pk, :p)', ExpressionAttributeValues: { ':p': `EVENT#${tenant}#` }, Select: 'COUNT', ...(start ? { ExclusiveStartKey: start } : {}) }),
    );
    count += page.Count ?? 0;
    start = page.LastEvaluatedKey;
  } while (start);
  return count;
}

/** Events counted in the tenant's minute aggregates (each must count each event once). */
async function aggregatedEvents(tenant: string): Promise<number> {
  const to = new Date(Date.now() + 3_600_000);
  const rows = await readAggregates(tenant, 'MINUTE', new Date(to.getTime() - 2 * 3_600_000).toISOString().slice(0, 16) + ':00.000Z', to.toISOString().slice(0, 16) + ':00.000Z');
  return rows.reduce((sum, row) => sum + row.count, 0);
}

/** Windows of simulated time: each long enough for many batches, each bucket holding more than one request's units. */
export const ANALYTICS_WINDOW: SimulationWindow = { warmUpSeconds: 0.02, measuredSeconds: 0.1, burstSeconds: 0.05 };
export const IMPORT_WINDOW: SimulationWindow = { warmUpSeconds: 0.4, measuredSeconds: 1, burstSeconds: 0.4 };

export interface SimulationWindow {
  /** Simulated seconds before measuring (spends the buckets' burst), then measured. */
  warmUpSeconds: number;
  measuredSeconds: number;
  burstSeconds: number;
}

/**
 * The analytics processor at each offered rate (events per second of one tenant), with the
 * analytics keys sharded (./functions/shared/analytics/keys.ts) or not (before). Sharded,
 * each rate is a new tenant whose aggregate and user-day counts start at 1 and grow as its
 * writes are throttled (./functions/shared/analytics/shard-counts.ts): the warm-up is where
 * they grow. The model's run has no limits, so nothing grows there; it divides each family's
 * units by the family's most shards (familyOf), the ceiling once the counts have grown.
 */
export async function simulateAnalytics(endpoint: string, layout: 'sharded' | 'unsharded', rates: number[], window: SimulationWindow, modelEvents: number): Promise<ScaleRun> {
  const previous = process.env.ANALYTICS_KEY_SHARDS;
  if (layout === 'unsharded') process.env.ANALYTICS_KEY_SHARDS = '1';
  else delete process.env.ANALYTICS_KEY_SHARDS;
  try {
    return await simulateAnalyticsLayout(endpoint, rates, window, modelEvents);
  } finally {
    if (previous === undefined) delete process.env.ANALYTICS_KEY_SHARDS;
    else process.env.ANALYTICS_KEY_SHARDS = previous;
  }
}

async function simulateAnalyticsLayout(endpoint: string, rates: number[], window: SimulationWindow, modelEvents: number): Promise<ScaleRun> {
  const { handler } = (await import('../../functions/analytics/handler.ts')) as unknown as { handler: Handler };
  const { retryDelaySeconds } = await import('../../functions/analytics/handler.ts');
  const batchSize = queues.analytics.batchSize;

  // The model: one run without limits (1e12 units a second) counts the units per event on each key.
  const free = await throttledStack(endpoint, 'scale-model', { partition: 1e12, burstSeconds: 1 });
  let model: ScaleModel;
  try {
    const arn = `arn:aws:sqs:${region}:${accountOfQueueUrl(free.stack.queueUrl('analytics'))}:${free.stack.queueUrl('analytics').split('/').pop()}`;
    const pending = await analyticsMessages(free.stack, 'model', modelEvents, 1000, batchSize);
    await drive(pending, batchSize, arn, handler, free.setNow, () => free.visibilitySeconds);
    model = modelOf(free.proxy.capacityStats()!, modelEvents);
  } finally {
    await free.close();
  }

  const sim = await throttledStack(endpoint, 'scale-analytics', { partition: PARTITION_WRITE_UNITS_PER_SECOND, burstSeconds: window.burstSeconds });
  const points: ScalePoint[] = [];
  try {
    const arn = `arn:aws:sqs:${region}:${accountOfQueueUrl(sim.stack.queueUrl('analytics'))}:${sim.stack.queueUrl('analytics').split('/').pop()}`;
    for (const offered of rates) {
      const tenant = `scale${offered}`;
      const events = Math.ceil(offered * (window.warmUpSeconds + window.measuredSeconds));
      const pending = await analyticsMessages(sim.stack, tenant, events, offered, batchSize);
      // Each rate on its own simulated day of buckets: far from the last one's.
      const base = points.length * 100_000;
      for (const p of pending) p.availableAt += base;
      const throttledBefore = totalThrottled(sim.proxy.capacityStats());
      let throttledInWindow = 0;
      await drive(pending, batchSize, arn, handler, (t) => {
        sim.setNow(t);
        if (t < base + window.warmUpSeconds + window.measuredSeconds) throttledInWindow = totalThrottled(sim.proxy.capacityStats());
      }, (receives) => retryDelaySeconds(receives, sim.visibilitySeconds));
      for (const p of pending) p.storedAt! -= base;
      const stored = await storedEvents(sim.direct, sim.stack, tenant);
      const aggregated = await aggregatedEvents(tenant);
      if (stored !== events || aggregated !== events) throw new Error(`analytics at ${offered}/s: ${events} events sent, ${stored} stored, ${aggregated} in the aggregates`);
      points.push(point(pending, offered, window.warmUpSeconds, window.measuredSeconds, throttledBefore, throttledInWindow, stored, () => 1));
    }
  } finally {
    await sim.close();
  }
  return { model, points, ceiling_per_s: Math.max(0, ...points.map((p) => p.throughput_per_s)) };
}

/* ------------------------------------------------------------------ import */

/** An import of `items` items into one collection, committed: its messages are on the import queue. */
async function queuedImport(stack: ProvisionedStack, sqs: SQSClient, collection: string, items: number): Promise<{ importId: string; messages: Message[] }> {
  const api = ((await import(`../../functions/${routes['POST /imports'].function}/handler.ts`)) as { handler: (e: unknown, c: unknown) => Promise<{ statusCode?: number; body?: string }> }).handler;
  const claims = { sub: 'scale', tenant: 'scale', scope: 'admin' };
  const call = async (routeKey: string, path: string, pathParameters?: Record<string, string>, body?: object) => {
    const result = await api(apiEvent({ routeKey, path, claims, ...(pathParameters ? { pathParameters } : {}), ...(body ? { body } : {}) }), lambdaContext());
    await drainAfterResponseTasks();
    if ((result.statusCode ?? 200) >= 300) throw new Error(`${routeKey} → ${result.statusCode} ${result.body}`);
    return JSON.parse(result.body ?? '{}') as Record<string, unknown>;
  };
  const importId = String((await call('POST /imports', '/imports', undefined, { collection })).importId);
  for (let chunk = 0; chunk * 500 < items; chunk++) {
    const batch = Array.from({ length: Math.min(500, items - chunk * 500) }, (_, j) => ({ id: `item-${chunk * 500 + j}`, data: { name: `Item number ${j}`, score: j % 1000, city: ['Paris', 'Lyon', 'Nantes'][j % 3], tags: ['bulk', `g${j % 50}`] } }));
    await call('POST /imports/{importId}/items', `/imports/${importId}/items`, { importId }, { items: batch, chunkId: `c${chunk}` });
  }
  await call('POST /imports/{importId}/commit', `/imports/${importId}/commit`, { importId });
  const messages: Message[] = [];
  for (let empty = 0; empty < 3; ) {
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: stack.queueUrl('import'), MaxNumberOfMessages: 10, VisibilityTimeout: 43_200, MessageSystemAttributeNames: ['All'] }));
    if (Messages.length === 0) empty++;
    messages.push(...Messages);
  }
  return { importId, messages };
}

async function itemsOf(direct: DynamoDBDocumentClient, stack: ProvisionedStack, collection: string): Promise<Array<{ id: unknown; version: unknown }>> {
  return (await storedItems(direct, stack.tableName('data'), 'scale', collection)).map((item) => ({ id: item.id, version: item.version }));
}

const itemsIn = (message: Message) => (JSON.parse(message.Body!) as { items: unknown[] }).items.length;

/**
 * The import worker at each offered rate (items per second into one collection), the
 * collection spread over `itemShards` partition keys (default: the deployment's, 32; 1 is
 * the layout before item shards).
 */
export async function simulateImport(endpoint: string, rates: number[], window: SimulationWindow, modelItems: number, itemShards?: number): Promise<ScaleRun> {
  const { handler } = (await import(`../../functions/${queues.import.consumer}/handler.ts`)) as { handler: Handler };
  const batchSize = queues.import.batchSize;
  const run = async (label: string, limit: number, burstSeconds: number, offered: number, items: number, measure: (pending: Pending[], proxy: FaultProxy, throttledBefore: number, throttledInWindow: number, stored: number) => void) => {
    const sim = await throttledStack(endpoint, label, { partition: limit, burstSeconds });
    if (itemShards !== undefined) process.env.ITEM_SHARDS = String(itemShards); // after the stack's environment, which sets the default
    try {
      const collection = `c${offered}`;
      const { importId, messages } = await queuedImport(sim.stack, sim.sqs, collection, items);
      const { Attributes } = await sim.sqs.send(new GetQueueAttributesCommand({ QueueUrl: sim.stack.queueUrl('import'), AttributeNames: ['QueueArn', 'VisibilityTimeout'] }));
      // Messages arrive at the offered item rate: each carries its items.
      let at = 1000;
      const pending: Pending[] = messages.map((message) => {
        const p = { message, availableAt: at, receives: 0 };
        at += itemsIn(message) / offered;
        return p;
      });
      const start = pending[0]!.availableAt;
      const throttledBefore = totalThrottled(sim.proxy.capacityStats());
      let throttledInWindow = throttledBefore;
      await drive(pending, batchSize, String(Attributes?.QueueArn), handler, (t) => {
        sim.setNow(t);
        if (t < start + window.warmUpSeconds + window.measuredSeconds) throttledInWindow = totalThrottled(sim.proxy.capacityStats());
      }, () => Number(Attributes?.VisibilityTimeout ?? 30));
      for (const p of pending) p.storedAt! -= start;
      // Every item written, once: the collection holds exactly the imported ids, at version 1.
      const written = await itemsOf(sim.direct, sim.stack, collection);
      if (written.length !== items || new Set(written.map((i) => i.id)).size !== items || written.some((i) => i.version !== 1)) {
        throw new Error(`import ${importId} at ${offered}/s: ${items} items sent, ${written.length} in the collection`);
      }
      measure(pending, sim.proxy, throttledBefore, throttledInWindow, written.length);
    } finally {
      await sim.close();
    }
  };

  let model: ScaleModel | undefined;
  await run('scale-import-model', 1e12, 1, 1000, modelItems, (_, proxy) => (model = modelOf(proxy.capacityStats()!, modelItems)));
  const points: ScalePoint[] = [];
  for (const offered of rates) {
    const items = Math.ceil(offered * (window.warmUpSeconds + window.measuredSeconds));
    await run(`scale-import-${offered}`, PARTITION_WRITE_UNITS_PER_SECOND, window.burstSeconds, offered, items, (pending, _, before, inWindow, stored) => {
      points.push(point(pending, offered, window.warmUpSeconds, window.measuredSeconds, before, inWindow, stored, (p) => itemsIn(p.message)));
    });
  }
  return { model: model!, points, ceiling_per_s: Math.max(0, ...points.map((p) => p.throughput_per_s)) };
}

/**
 * The naive designs' models (runs without limits): an analytics processor writing one PutItem
 * per event (all of a tenant's day in one partition), an importer writing one PutItem per item.
 */
export async function modelNaive(endpoint: string, operations: number): Promise<{ analytics: ScaleModel; import: ScaleModel }> {
  const { naiveProcessor, naiveImport } = await import('./cost.ts');
  const previous = process.env.ANALYTICS_KEY_SHARDS;
  process.env.ANALYTICS_KEY_SHARDS = '1'; // the naive layout has one partition per tenant and day
  const free = await throttledStack(endpoint, 'scale-naive', { partition: 1e12, burstSeconds: 1 });
  try {
    const arn = `arn:aws:sqs:${region}:${accountOfQueueUrl(free.stack.queueUrl('analytics'))}:${free.stack.queueUrl('analytics').split('/').pop()}`;
    const pending = await analyticsMessages(free.stack, 'model', operations, 1000, queues.analytics.batchSize);
    await drive(pending, queues.analytics.batchSize, arn, naiveProcessor(free.stack) as Handler, free.setNow, () => free.visibilitySeconds);
    const analytics = modelOf(free.proxy.capacityStats()!, operations);
    const importProxyBefore = structuredClone(free.proxy.capacityStats()!);
    await naiveImport(free.stack, operations);
    const after = free.proxy.capacityStats()!;
    const importOnly: CapacityStats = { throttled: {}, admitted: 0, unitsByKey: Object.fromEntries(Object.entries(after.unitsByKey).map(([key, units]) => [key, units - (importProxyBefore.unitsByKey[key] ?? 0)]).filter(([, units]) => (units as number) > 0)) };
    return { analytics, import: modelOf(importOnly, operations) };
  } finally {
    await free.close();
    if (previous === undefined) delete process.env.ANALYTICS_KEY_SHARDS;
    else process.env.ANALYTICS_KEY_SHARDS = previous;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { freePort, startMoto } = await import('../local/moto.ts');
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const print = console.log.bind(console);
  console.log = () => undefined;
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (() => true) as typeof process.stdout.write; // the functions' JSON logs
  const emulator = await startMoto({ port: await freePort() });
  const out = (line: string) => write(`${line}\n`);
  try {
    const which = process.argv.includes('--import') ? 'import' : 'analytics';
    const layout = process.argv.includes('--before') ? 'unsharded' : 'sharded';
    const rates = (process.argv.find((a) => a.startsWith('--rates='))?.slice('--rates='.length) ?? '').split(',').filter(Boolean).map(Number);
    const started = performance.now();
    const r =
      which === 'analytics'
        ? await simulateAnalytics(emulator.endpoint, layout, rates, ANALYTICS_WINDOW, 500)
        : await simulateImport(emulator.endpoint, rates, IMPORT_WINDOW, 490, layout === 'unsharded' ? 1 : undefined);
    out(JSON.stringify(r, null, 1));
    out(`${((performance.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    await emulator.stop();
  }
  void print;
}
