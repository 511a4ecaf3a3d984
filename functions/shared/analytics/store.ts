/**
 * The analytics table: storing an event once (with its aggregates, atomically) and the
 * reads the analytics API serves. Layout and identity: ./keys.ts.
 */
import { QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { dynamo } from '../aws-clients.ts';
import { cancellationCodes, isThrottling } from '../aws-errors.ts';
import { config } from '../config.ts';
import { transactWrite, type TransactItems } from '../imports/transact.ts';
import { type DeadLetterCause, type DeadLetterMark } from './dead-letter.ts';
import type { EventCategory } from './event.ts';
import { bucketAttribute, bucketOf, HISTOGRAM_PREFIX } from './histogram.ts';
import {
  aggregatePartition,
  aggregatePartitions,
  aggregateShardOf,
  eventPartitions,
  aggregateRetentionDays,
  aggregateSortKey,
  eventKey,
  expiresAt,
  FUNCTION_PREFIX,
  functionSortKey,
  minuteOfDay,
  REDRIVE_PREFIX,
  redriveSortKey,
  retentionDays,
  USER_DAY_MINUTE_PREFIX,
  USER_DAY_TYPE_PREFIX,
  userDayPartition,
  userDayPartitions,
  userDayPartitionsOf,
  timeParts,
  userPartition,
  type AdaptiveKind,
  type Granularity,
  type ShardCounts,
} from './keys.ts';
import { countsKey, growShardCounts, readerShardCounts, writerShardCounts } from './shard-counts.ts';
import { TYPE_NAME, type ValidAnalyticsEvent } from './schema.ts';

export interface Enrichment {
  eventId: string;
  tenant: string;
  receivedAt: string;
  processingLagMs: number;
  environment: string;
  day: string;
  hour: string;
  /** The EventBridge envelope id of the copy that was stored (copies differ; see eventId). */
  envelopeId: string;
}

export type StoredEvent = ValidAnalyticsEvent & Enrichment;

export type StoreOutcome = 'stored' | 'duplicate';

export interface EventToStore {
  event: ValidAnalyticsEvent;
  enrichment: Enrichment;
  /** Set when this copy came back from the analytics DLQ (./dead-letter.ts). */
  deadLetter?: DeadLetterMark;
}

/** The sums one transaction adds to one aggregate item. */
interface AggregateDelta {
  granularity: Granularity;
  /** The aggregate shard this batch adds to (./keys.ts). */
  shard: number;
  event: ValidAnalyticsEvent;
  tenant: string;
  count: number;
  failures: number;
  duplicates: number;
  durationCount: number;
  durationSum: number;
  buckets: Map<number, number>;
  lagBuckets: Map<number, number>;
  /** Failures only, on HOUR items: a few request/trace ids to follow, one per slot (bounded item size). */
  samples: Map<number, ErrorSample>;
}

export interface ErrorSample {
  requestId: string;
  traceId?: string;
  timestamp: string;
}

/** Sample slots per failing HOUR item; an event's slot comes from its id, so a redelivery rewrites the same slot. */
export const SAMPLE_SLOTS = 3;

/** The sums one transaction adds to one function's hourly performance item. */
interface FunctionDelta {
  event: ValidAnalyticsEvent;
  shard: number;
  tenant: string;
  functionName: string;
  memoryLimitMB: number;
  invocations: number;
  coldStarts: number;
  measured: number;
  rss: Map<number, number>;
  heap: Map<number, number>;
  init: Map<number, number>;
}

/** What one transaction adds to one user's day. */
interface UserDayDelta {
  event: ValidAnalyticsEvent;
  tenant: string;
  userId: string;
  /** The day's user-day shard count. */
  shards: number;
  minutes: Map<number, number>;
  types: Map<string, Set<number>>;
}

/** The import flow's events (import-api/handler.ts, import/handler.ts, shared/imports/complete.ts), summed per import. */
const IMPORT_COUNTS: Record<string, string[]> = {
  IMPORT_ITEMS_ANALYTICS: ['accepted', 'rejected'],
  IMPORT_COMMIT_ANALYTICS: ['accepted', 'rejected'],
  IMPORT_BATCH_ANALYTICS: ['batches', 'succeeded', 'failed', 'created', 'chunksCompleted'],
};
const IMPORT_ID = /^[0-9a-f-]{36}$/;

interface ImportDelta {
  shard: number;
  tenant: string;
  day: string;
  importId: string;
  /** The event's timestamp, for the item's expiry. */
  timestamp: string;
  adds: Map<string, number>;
  sets: Map<string, unknown>;
}

/** What one transaction adds to one REDRIVE item: events stored from a redriven copy, and how long after their first failure. */
interface RedriveDelta {
  event: ValidAnalyticsEvent;
  /** The aggregate shard this batch adds to (./keys.ts). */
  shard: number;
  tenant: string;
  stored: number;
  recoveryMsSum: number;
  recovery: Map<number, number>;
  causes: Map<DeadLetterCause, number>;
}

/** The attribute counting one cause on a REDRIVE item. */
export const causeAttribute = (cause: DeadLetterCause) => `cause_${cause}`;

const increment = (histogram: Map<number, number>, value: number) => {
  const bucket = bucketOf(value);
  histogram.set(bucket, (histogram.get(bucket) ?? 0) + 1);
};
const numberProperty = (properties: Record<string, unknown>, name: string) => (typeof properties[name] === 'number' ? (properties[name] as number) : undefined);

function aggregateKey(granularity: Granularity, event: ValidAnalyticsEvent, tenant: string, shard: number) {
  const { metadata } = event.detail;
  return {
    pk: aggregatePartition(tenant, timeParts(event.detail.timestamp).day, shard),
    sk: aggregateSortKey(granularity, event.detail.timestamp, event.eventType, metadata.eventCategory, metadata.errorType),
  };
}

function addToDeltas(deltas: Map<string, AggregateDelta>, item: EventToStore, duplicate: boolean, extras: boolean, shard: number): void {
  for (const granularity of ['MINUTE', 'HOUR'] as const) {
    // Duplicates are a diagnostic counted per minute only.
    if (duplicate && granularity === 'HOUR') continue;
    const key = aggregateKey(granularity, item.event, item.enrichment.tenant, shard);
    const id = `${key.pk}|${key.sk}`;
    let delta = deltas.get(id);
    if (!delta) {
      delta = { granularity, shard, event: item.event, tenant: item.enrichment.tenant, count: 0, failures: 0, duplicates: 0, durationCount: 0, durationSum: 0, buckets: new Map(), lagBuckets: new Map(), samples: new Map() };
      deltas.set(id, delta);
    }
    if (duplicate) {
      delta.duplicates++;
      continue;
    }
    const { metadata } = item.event.detail;
    delta.count++;
    if (extras) increment(delta.lagBuckets, item.enrichment.processingLagMs);
    if (metadata.status === 'FAILURE') {
      delta.failures++;
      if (extras && granularity === 'HOUR') {
        const slot = parseInt(item.enrichment.eventId.slice(0, 4), 16) % SAMPLE_SLOTS;
        delta.samples.set(slot, { requestId: item.event.requestId, ...(metadata.traceId ? { traceId: metadata.traceId } : {}), timestamp: item.event.detail.timestamp });
      }
    }
    if (metadata.duration !== undefined) {
      delta.durationCount++;
      delta.durationSum += metadata.duration;
      increment(delta.buckets, metadata.duration);
    }
  }
}

function functionKey(event: ValidAnalyticsEvent, tenant: string, functionName: string, shard: number) {
  return { pk: aggregatePartition(tenant, timeParts(event.detail.timestamp).day, shard), sk: functionSortKey(event.detail.timestamp, functionName) };
}

/** Per function and hour: invocations (events), cold starts with their init duration, RSS and heap distributions. */
function addToFunctionDeltas(deltas: Map<string, FunctionDelta>, { event, enrichment }: EventToStore, shard: number): void {
  const properties = event.detail.metadata.properties;
  const functionName = TYPE_NAME.test(properties.functionName) ? properties.functionName : 'unknown';
  const key = functionKey(event, enrichment.tenant, functionName, shard);
  const id = `${key.pk}|${key.sk}`;
  let delta = deltas.get(id);
  if (!delta) {
    delta = { event, shard, tenant: enrichment.tenant, functionName, memoryLimitMB: 0, invocations: 0, coldStarts: 0, measured: 0, rss: new Map(), heap: new Map(), init: new Map() };
    deltas.set(id, delta);
  }
  delta.invocations++;
  delta.memoryLimitMB = Math.max(delta.memoryLimitMB, properties.memoryLimitInMB);
  const rss = numberProperty(properties, 'rssMB');
  const heap = numberProperty(properties, 'heapUsedMB');
  if (rss !== undefined && heap !== undefined) {
    delta.measured++;
    increment(delta.rss, rss);
    increment(delta.heap, heap);
  }
  if (properties.coldStart === true) {
    delta.coldStarts++;
    const init = numberProperty(properties, 'initDurationMs');
    if (init !== undefined) increment(delta.init, init);
  }
}

function userDayKey(tenant: string, day: string, userId: string, shards: number) {
  return { pk: userDayPartition(tenant, day, userId, shards), sk: userId };
}

function addToUserDayDeltas(deltas: Map<string, UserDayDelta>, { event, enrichment }: EventToStore, shards: number): void {
  const userId = event.detail.userId;
  if (!userId) return;
  const timestamp = event.detail.timestamp;
  const id = `${enrichment.tenant}|${timestamp.slice(0, 10)}|${userId}`;
  let delta = deltas.get(id);
  if (!delta) {
    delta = { event, tenant: enrichment.tenant, userId, shards, minutes: new Map(), types: new Map() };
    deltas.set(id, delta);
  }
  const minute = minuteOfDay(timestamp);
  delta.minutes.set(minute, (delta.minutes.get(minute) ?? 0) + 1);
  const minutes = delta.types.get(event.eventType) ?? new Set();
  minutes.add(minute);
  delta.types.set(event.eventType, minutes);
}

function userDayUpdate(delta: UserDayDelta) {
  const adds = new Adds();
  let events = 0;
  for (const [minute, n] of delta.minutes) {
    adds.add(`${USER_DAY_MINUTE_PREFIX}${minute}`, n);
    events += n;
  }
  adds.add('events', events);
  // Sets: adding a minute that is already there changes nothing.
  for (const [type, minutes] of delta.types) adds.addSet(`${USER_DAY_TYPE_PREFIX}${type}`, minutes);
  const timestamp = delta.event.detail.timestamp;
  return {
    TableName: config.analyticsTable(),
    Key: userDayKey(delta.tenant, timestamp.slice(0, 10), delta.userId, delta.shards),
    UpdateExpression: `ADD ${adds.clauses.join(', ')} SET #expiresAt = :expiresAt`,
    ExpressionAttributeNames: { ...adds.names, '#expiresAt': 'expiresAt' },
    ExpressionAttributeValues: { ...adds.values, ':expiresAt': expiresAt(timestamp, aggregateRetentionDays()) },
  };
}

function redriveKey(event: ValidAnalyticsEvent, tenant: string, shard: number) {
  return { pk: aggregatePartition(tenant, timeParts(event.detail.timestamp).day, shard), sk: redriveSortKey(event.detail.timestamp, event.eventType) };
}

/**
 * Only for events this transaction stores for the first time: the conditional Put of the
 * event is what makes a redriven event count once, however many copies come back.
 */
function addToRedriveDeltas(deltas: Map<string, RedriveDelta>, { event, enrichment, deadLetter }: EventToStore, shard: number): void {
  if (!deadLetter) return;
  const key = redriveKey(event, enrichment.tenant, shard);
  const id = `${key.pk}|${key.sk}`;
  const delta = deltas.get(id) ?? { event, shard, tenant: enrichment.tenant, stored: 0, recoveryMsSum: 0, recovery: new Map(), causes: new Map() };
  deltas.set(id, delta);
  const recoveryMs = Math.max(0, Date.parse(enrichment.receivedAt) - Date.parse(deadLetter.failedAt));
  delta.stored++;
  delta.recoveryMsSum += recoveryMs;
  increment(delta.recovery, recoveryMs);
  delta.causes.set(deadLetter.cause, (delta.causes.get(deadLetter.cause) ?? 0) + 1);
}

function redriveUpdate(delta: RedriveDelta) {
  const adds = new Adds();
  adds.add('stored', delta.stored);
  adds.add('recoveryMsSum', delta.recoveryMsSum);
  adds.addHistogram(delta.recovery, HISTOGRAM_PREFIX.recovery);
  for (const [cause, n] of delta.causes) adds.add(causeAttribute(cause), n);
  const timestamp = delta.event.detail.timestamp;
  return {
    TableName: config.analyticsTable(),
    Key: redriveKey(delta.event, delta.tenant, delta.shard),
    UpdateExpression: `ADD ${adds.clauses.join(', ')} SET #expiresAt = :expiresAt, #eventType = :eventType, #bucket = :bucket`,
    ExpressionAttributeNames: { ...adds.names, '#expiresAt': 'expiresAt', '#eventType': 'eventType', '#bucket': 'bucket' },
    ExpressionAttributeValues: { ...adds.values, ':expiresAt': expiresAt(timestamp, aggregateRetentionDays()), ':eventType': delta.event.eventType, ':bucket': timestamp.slice(0, 13) },
  };
}

function importKey(tenant: string, day: string, importId: string, shard: number) {
  return { pk: aggregatePartition(tenant, day, shard), sk: `IMPORT#${importId}` };
}

/** Per import and day: events, the API's accepted/rejected, the worker's batch counts, the start and the outcome. */
function addToImportDeltas(deltas: Map<string, ImportDelta>, { event, enrichment }: EventToStore, shard: number): void {
  const properties = event.detail.metadata.properties;
  const importId = properties.importId;
  if (typeof importId !== 'string' || !IMPORT_ID.test(importId) || !event.eventType.startsWith('IMPORT_')) return;
  const timestamp = event.detail.timestamp;
  const day = timestamp.slice(0, 10);
  const id = `${enrichment.tenant}|${day}|${importId}`;
  const delta = deltas.get(id) ?? { shard, tenant: enrichment.tenant, day, importId, timestamp, adds: new Map(), sets: new Map() };
  deltas.set(id, delta);
  const add = (name: string, value: unknown) => {
    if (typeof value === 'number' && Number.isFinite(value)) delta.adds.set(name, (delta.adds.get(name) ?? 0) + value);
  };
  add('events', 1);
  if (typeof properties.collection === 'string') delta.sets.set('collection', properties.collection);
  for (const name of IMPORT_COUNTS[event.eventType] ?? []) add(name, properties[name]);
  if (event.eventType === 'IMPORT_CREATE_ANALYTICS' && event.detail.metadata.status === 'SUCCESS') delta.sets.set('startedAt', timestamp);
  if (event.eventType === 'IMPORT_BATCH_ANALYTICS' && event.detail.metadata.status === 'FAILURE') add('failedBatches', 1);
  if (event.eventType === 'IMPORT_COMPLETED_ANALYTICS') {
    delta.sets.set('outcome', {
      status: properties.importStatus,
      completedAt: timestamp,
      ...Object.fromEntries(['total', 'succeeded', 'failed', 'rejected', 'created'].filter((k) => typeof properties[k] === 'number').map((k) => [k, properties[k]])),
      ...(event.detail.metadata.duration !== undefined ? { durationMs: event.detail.metadata.duration } : {}),
    });
  }
}

function importUpdate(delta: ImportDelta) {
  const adds = new Adds();
  for (const [name, value] of delta.adds) adds.add(name, value);
  const names: Record<string, string> = { '#expiresAt': 'expiresAt', '#importId': 'importId' };
  const values: Record<string, unknown> = { ':expiresAt': expiresAt(delta.timestamp, aggregateRetentionDays()), ':importId': delta.importId };
  const sets = ['#expiresAt = :expiresAt', '#importId = :importId'];
  for (const [name, value] of delta.sets) {
    names[`#s_${name}`] = name;
    values[`:s_${name}`] = value;
    sets.push(`#s_${name} = :s_${name}`);
  }
  return {
    TableName: config.analyticsTable(),
    Key: importKey(delta.tenant, delta.day, delta.importId, delta.shard),
    UpdateExpression: `${adds.clauses.length > 0 ? `ADD ${adds.clauses.join(', ')} ` : ''}SET ${sets.join(', ')}`,
    ExpressionAttributeNames: { ...names, ...adds.names },
    ExpressionAttributeValues: { ...values, ...adds.values },
  };
}

/** `ADD` clauses built up with their placeholders. */
class Adds {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  readonly clauses: string[] = [];
  add(attribute: string, value: number): void {
    if (value === 0) return;
    const n = this.clauses.length;
    this.names[`#a${n}`] = attribute;
    this.values[`:a${n}`] = value;
    this.clauses.push(`#a${n} :a${n}`);
  }
  addSet(attribute: string, members: Set<number>): void {
    const n = this.clauses.length;
    this.names[`#a${n}`] = attribute;
    this.values[`:a${n}`] = members;
    this.clauses.push(`#a${n} :a${n}`);
  }
  addHistogram(histogram: Map<number, number>, prefix: string): void {
    for (const [bucket, n] of histogram) this.add(bucketAttribute(bucket, prefix), n);
  }
}

function functionUpdate(delta: FunctionDelta) {
  const adds = new Adds();
  adds.add('invocations', delta.invocations);
  adds.add('coldStarts', delta.coldStarts);
  adds.add('measured', delta.measured);
  adds.addHistogram(delta.rss, HISTOGRAM_PREFIX.rss);
  adds.addHistogram(delta.heap, HISTOGRAM_PREFIX.heap);
  adds.addHistogram(delta.init, HISTOGRAM_PREFIX.initDuration);
  return {
    TableName: config.analyticsTable(),
    Key: functionKey(delta.event, delta.tenant, delta.functionName, delta.shard),
    // memoryLimitMB: the configured limit; the largest seen this hour (a deploy may change it).
    UpdateExpression: `ADD ${adds.clauses.join(', ')} SET #expiresAt = :expiresAt, #functionName = :functionName, #bucket = :bucket, #limit = if_not_exists(#limit, :limit)`,
    ExpressionAttributeNames: { ...adds.names, '#expiresAt': 'expiresAt', '#functionName': 'functionName', '#bucket': 'bucket', '#limit': 'memoryLimitMB' },
    ExpressionAttributeValues: {
      ...adds.values,
      ':expiresAt': expiresAt(delta.event.detail.timestamp, aggregateRetentionDays()),
      ':functionName': delta.functionName,
      ':bucket': delta.event.detail.timestamp.slice(0, 13),
      ':limit': delta.memoryLimitMB,
    },
  };
}

function aggregateUpdate(delta: AggregateDelta) {
  const { event, granularity } = delta;
  const { metadata } = event.detail;
  const names: Record<string, string> = { '#expiresAt': 'expiresAt', '#eventType': 'eventType', '#category': 'category', '#errorType': 'errorType', '#bucket': 'bucket' };
  const values: Record<string, unknown> = {
    ':expiresAt': expiresAt(event.detail.timestamp, aggregateRetentionDays()),
    ':eventType': event.eventType,
    ':category': metadata.eventCategory,
    ':errorType': metadata.errorType ?? '-',
    ':bucket': granularity === 'MINUTE' ? event.detail.timestamp.slice(0, 16) : event.detail.timestamp.slice(0, 13),
  };
  const adds = new Adds();
  adds.add('count', delta.count);
  adds.add('failures', delta.failures);
  adds.add('duplicates', delta.duplicates);
  adds.add('durationCount', delta.durationCount);
  adds.add('durationSum', Math.round(delta.durationSum * 1000) / 1000);
  adds.addHistogram(delta.buckets, HISTOGRAM_PREFIX.duration);
  adds.addHistogram(delta.lagBuckets, HISTOGRAM_PREFIX.processingLag);
  const sets = ['#expiresAt = :expiresAt', '#eventType = :eventType', '#category = :category', '#errorType = :errorType', '#bucket = :bucket'];
  for (const [slot, sample] of delta.samples) {
    names[`#sample${slot}`] = `sample${slot}`;
    values[`:sample${slot}`] = sample;
    sets.push(`#sample${slot} = :sample${slot}`);
  }
  return {
    TableName: config.analyticsTable(),
    Key: aggregateKey(granularity, event, delta.tenant, delta.shard),
    UpdateExpression: `ADD ${adds.clauses.join(', ')} SET ${sets.join(', ')}`,
    ExpressionAttributeNames: { ...names, ...adds.names },
    ExpressionAttributeValues: { ...values, ...adds.values },
  };
}

function eventItem({ event, enrichment }: EventToStore) {
  const timestamp = event.detail.timestamp;
  const category: EventCategory = event.detail.metadata.eventCategory;
  return {
    ...eventKey(enrichment.tenant, timestamp, enrichment.eventId),
    ...(event.detail.userId ? { userPk: userPartition(enrichment.tenant, event.detail.userId), userSk: `${timestamp}#${enrichment.eventId}` } : {}),
    expiresAt: expiresAt(timestamp, retentionDays(category)),
    event,
    ...enrichment,
    // Flat copies for filters and exports.
    eventType: event.eventType,
    category,
    status: event.detail.metadata.status,
    ...(event.detail.metadata.errorType ? { errorType: event.detail.metadata.errorType } : {}),
    ...(event.detail.metadata.duration !== undefined ? { durationMs: event.detail.metadata.duration } : {}),
  };
}

/**
 * What issue 16 added to each transaction (per-function performance items, lag histograms,
 * failure samples, user-day and import items) can be switched off (ANALYTICS_INSIGHT_AGGREGATES=false) so that the
 * throughput benchmark measures its cost side by side in one run.
 */
function insightAggregates(): boolean {
  return process.env.ANALYTICS_INSIGHT_AGGREGATES !== 'false';
}

/**
 * Stores a batch of events and adds them to their minute and hour aggregates in ONE
 * transaction: each event's Put is conditional on it not being there yet, and the
 * aggregate updates are summed per aggregate item (a transaction may touch an item only
 * once, and a hot aggregate is then written once per batch, not once per event). If some
 * events were already stored, DynamoDB cancels the transaction naming them; they become
 * duplicates (counted in `duplicates`, not in `count`) and the rest is retried. So every
 * event is counted exactly once however often it is delivered. The transaction is idempotent
 * (../imports/transact.ts, which also retries conflicts with concurrent writers): resent
 * after a lost answer, it does not take its own events for duplicates.
 */
export async function storeEvents(items: EventToStore[]): Promise<StoreOutcome[]> {
  if (items.length === 0) return [];
  const outcomes: StoreOutcome[] = items.map(() => 'stored');
  const duplicates: number[] = [];
  let pending: number[] = [];
  const seen = new Set<string>();
  items.forEach((item, index) => {
    const id = `${item.enrichment.tenant}|${item.enrichment.eventId}`;
    if (seen.has(id)) duplicates.push(index);
    else {
      seen.add(id);
      pending.push(index);
    }
  });
  const counts = await writerShardCounts(tenantDaysOf(items));
  // Each round drops at least one event (as a duplicate) or ends: bounded by the batch size.
  for (;;) {
    const writes = storeTransaction(items, pending, duplicates, counts);
    try {
      await transactWrite(writes);
      for (const index of duplicates) outcomes[index] = 'duplicate';
      return outcomes;
    } catch (error) {
      const codes = cancellationCodes(error);
      const already = pending.filter((_, position) => codes?.[position] === 'ConditionalCheckFailed');
      if (already.length === 0) {
        // Throttled: grow the shard counts now, so that the batch's retry spreads wider.
        if (isThrottled(error, codes)) await growThrottled(writes, codes);
        throw error;
      }
      duplicates.push(...already);
      pending = pending.filter((index) => !already.includes(index));
    }
  }
}

const THROTTLED_ITEM = new Set(['ThrottlingError', 'ProvisionedThroughputExceeded', 'RequestLimitExceeded']);
const isThrottled = (error: unknown, codes: string[] | undefined) => isThrottling(error) || (codes?.some((code) => THROTTLED_ITEM.has(code)) ?? false);

/** The tenant-days of a batch (the events' own days: an event is stored under the day of its timestamp). */
function tenantDaysOf(items: EventToStore[]): Array<{ tenant: string; day: string }> {
  return items.map((item) => ({ tenant: item.enrichment.tenant, day: timeParts(item.event.detail.timestamp).day }));
}

/** The adaptive kind and tenant-day of an aggregate or user-day partition key (`AGG#<tenant>#<day>[#<shard>]`), else undefined. */
function adaptivePartitionOf(pk: string): { kind: AdaptiveKind; tenant: string; day: string } | undefined {
  const [prefix, tenant, day] = pk.split('#');
  const kind = prefix === 'AGG' ? 'aggregates' : prefix === 'UDAY' ? 'userDays' : undefined;
  return kind && tenant && day ? { kind, tenant, day } : undefined;
}

/**
 * Grows the counts of what was throttled: the items DynamoDB named in a cancelled
 * transaction, or, when it named none (the whole request throttled), every aggregate and
 * user-day partition the transaction wrote. Raw event shards are fixed (./keys.ts).
 */
async function growThrottled(writes: TransactItems, codes: string[] | undefined): Promise<void> {
  const named = codes?.some((code) => THROTTLED_ITEM.has(code)) ?? false;
  const grow = new Map<string, { tenant: string; day: string; kinds: Set<AdaptiveKind> }>();
  writes.forEach((write, position) => {
    if (named && !THROTTLED_ITEM.has(codes?.[position] ?? '')) return;
    const pk = String((write.Update?.Key ?? write.Put?.Item)?.pk ?? '');
    const partition = adaptivePartitionOf(pk);
    if (!partition) return;
    const entry = grow.get(countsKey(partition.tenant, partition.day)) ?? { tenant: partition.tenant, day: partition.day, kinds: new Set() };
    entry.kinds.add(partition.kind);
    grow.set(countsKey(partition.tenant, partition.day), entry);
  });
  // The grown counts are this process's from now on (./shard-counts.ts); this batch is failed and retried.
  await Promise.all([...grow.values()].map(({ tenant, day, kinds }) => growShardCounts(tenant, day, kinds)));
}

/**
 * The writes of one storing transaction (pure): a conditional Put per `pending` event (in
 * that order, so a cancellation's codes name them by position), then one Update per
 * aggregate item it touches, with `duplicates` counted as such. `counts` are the shard
 * counts of the batch's tenant-days (./shard-counts.ts: writerShardCounts), recorded before
 * this is written; a tenant-day missing from them is written to shard 0. Also what the read
 * benchmark applies to seed a table without a transaction per batch.
 */
export function storeTransaction(items: EventToStore[], pending: number[], duplicates: number[], counts: ReadonlyMap<string, ShardCounts>): TransactItems {
  const deltas = new Map<string, AggregateDelta>();
  const functionDeltas = new Map<string, FunctionDelta>();
  const extras = insightAggregates();
  const countsOf = (item: EventToStore) => counts.get(countsKey(item.enrichment.tenant, timeParts(item.event.detail.timestamp).day)) ?? { aggregates: 1, userDays: 1 };
  // One aggregate shard per tenant-day for the whole batch: its aggregates are summed once, on one partition (./keys.ts).
  const batch = [...pending, ...duplicates].map((index) => items[index]!.enrichment.eventId).sort()[0] ?? '';
  const shardOf = (item: EventToStore) => aggregateShardOf(batch, countsOf(item).aggregates);
  for (const index of pending) addToDeltas(deltas, items[index]!, false, extras, shardOf(items[index]!));
  for (const index of duplicates) addToDeltas(deltas, items[index]!, true, extras, shardOf(items[index]!));
  const userDayDeltas = new Map<string, UserDayDelta>();
  const importDeltas = new Map<string, ImportDelta>();
  const redriveDeltas = new Map<string, RedriveDelta>();
  if (extras) {
    for (const index of pending) {
      const item = items[index]!;
      addToFunctionDeltas(functionDeltas, item, shardOf(item));
      addToUserDayDeltas(userDayDeltas, item, countsOf(item).userDays);
      addToImportDeltas(importDeltas, item, shardOf(item));
      addToRedriveDeltas(redriveDeltas, item, shardOf(item));
    }
  }
  return [
    ...pending.map((index) => ({ Put: { TableName: config.analyticsTable(), Item: eventItem(items[index]!), ConditionExpression: 'attribute_not_exists(pk)' } })),
    ...[...deltas.values()].map((delta) => ({ Update: aggregateUpdate(delta) })),
    ...[...functionDeltas.values()].map((delta) => ({ Update: functionUpdate(delta) })),
    ...[...userDayDeltas.values()].map((delta) => ({ Update: userDayUpdate(delta) })),
    ...[...importDeltas.values()].map((delta) => ({ Update: importUpdate(delta) })),
    ...[...redriveDeltas.values()].map((delta) => ({ Update: redriveUpdate(delta) })),
  ];
}

/* ---------------------------------------------------------------- reads */

export interface AggregateRow {
  /** `yyyy-mm-ddThh:mm` (minute) or `yyyy-mm-ddThh` (hour). */
  bucket: string;
  eventType: string;
  category: EventCategory;
  errorType: string;
  count: number;
  failures: number;
  duplicates: number;
  durationCount: number;
  durationSum: number;
  item: Record<string, unknown>;
}

/**
 * Queries in flight at once in this process: a read over many days queries every shard of
 * each (./keys.ts), and hundreds of parallel requests would queue for the SDK's sockets and
 * run into its request timeout instead of finishing sooner.
 */
const MAX_QUERIES_IN_FLIGHT = 16;
let queriesInFlight = 0;
const waitingForQuery: Array<() => void> = [];

async function queryAll(input: QueryCommandInput): Promise<Record<string, unknown>[]> {
  // A finishing query hands its slot straight to the next waiting one.
  if (queriesInFlight >= MAX_QUERIES_IN_FLIGHT) await new Promise<void>((resolve) => waitingForQuery.push(resolve));
  else queriesInFlight++;
  try {
    const items: Record<string, unknown>[] = [];
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await dynamo().send(new QueryCommand({ ...input, ...(ExclusiveStartKey ? { ExclusiveStartKey } : {}) }));
      items.push(...((page.Items ?? []) as Record<string, unknown>[]));
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return items;
  } finally {
    const next = waitingForQuery.shift();
    if (next) next();
    else queriesInFlight--;
  }
}

const num = (value: unknown) => (typeof value === 'number' ? value : 0);

/** Attributes of an aggregate that are not sums: the partial items' largest is the aggregate's. */
const NOT_SUMMED = new Set(['expiresAt', 'memoryLimitMB']);

/**
 * The partial items one aggregate has in its shards (./keys.ts), as the one item an
 * unsharded table would hold: numbers added (counts, sums, histogram buckets), sets joined,
 * the largest expiry and memory limit, and any other value (names, samples, an import's
 * outcome) from the first partial item that has it. Items are grouped by sort key, in the
 * order they came.
 */
export function mergeShards(items: Record<string, unknown>[]): Record<string, unknown>[] {
  const merged = new Map<string, Record<string, unknown>>();
  for (const item of items) {
    const into = merged.get(String(item.sk));
    if (!into) {
      merged.set(String(item.sk), { ...item });
      continue;
    }
    for (const [name, value] of Object.entries(item)) {
      const have = into[name];
      if (typeof value === 'number' && typeof have === 'number') into[name] = NOT_SUMMED.has(name) ? Math.max(have, value) : have + value;
      else if (value instanceof Set && have instanceof Set) into[name] = new Set([...have, ...value]);
      else if (have === undefined) into[name] = value;
    }
  }
  return [...merged.values()];
}

/** The same query on each of a day's `shards` aggregate shards (./shard-counts.ts), merged. */
async function queryAggregateShards(tenant: string, day: string, shards: number, input: Omit<QueryCommandInput, 'TableName' | 'KeyConditionExpression'> & { sortKeyCondition: string }): Promise<Record<string, unknown>[]> {
  const { sortKeyCondition, ExpressionAttributeValues, ...rest } = input;
  const pages = await Promise.all(
    aggregatePartitions(tenant, day, shards).map((pk) =>
      queryAll({ ...rest, TableName: config.analyticsTable(), KeyConditionExpression: `pk = :pk AND ${sortKeyCondition}`, ExpressionAttributeValues: { ...ExpressionAttributeValues, ':pk': pk } }),
    ),
  );
  return mergeShards(pages.flat());
}

/** A tenant's stored raw events of one day (sort key, i.e. timestamp, in [from, to] if given), from every shard: for tests and tools. */
export async function readDayEvents(tenant: string, day: string, from = ' ', to = '\uffff'): Promise<Record<string, unknown>[]> {
  const pages = await Promise.all(
    eventPartitions(tenant, day).map((pk) =>
      queryAll({ TableName: config.analyticsTable(), KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to', ExpressionAttributeValues: { ':pk': pk, ':from': from, ':to': to } }),
    ),
  );
  return pages.flat();
}

/** Every aggregate item of a tenant's day (all kinds), merged across shards: for tests and tools. */
export async function readAggregateDay(tenant: string, day: string): Promise<Record<string, unknown>[]> {
  const { aggregates } = (await readerShardCounts(tenant, [day])).get(day)!;
  return queryAggregateShards(tenant, day, aggregates, { sortKeyCondition: 'sk > :none', ExpressionAttributeValues: { ':none': ' ' } });
}

/** The days from `first` to `last` (yyyy-mm-dd), both included. */
function daysBetween(first: string, last: string): string[] {
  const days: string[] = [];
  for (let day = first; day <= last; day = new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10)) days.push(day);
  return days;
}

/**
 * Aggregate rows of one granularity whose bucket starts in [from, to). `from`/`to` are
 * ISO timestamps already aligned to the granularity. One BatchGetItem for the days' shard
 * counts (./shard-counts.ts), then one Query per day and aggregate shard the day has (in
 * parallel), never a scan; the shards' partial items are merged.
 */
export async function readAggregates(tenant: string, granularity: Granularity, from: string, to: string): Promise<AggregateRow[]> {
  if (from >= to) return [];
  const rows: AggregateRow[] = [];
  const nowSeconds = Math.floor(Date.now() / 1000);
  const lastIncluded = new Date(Date.parse(to) - (granularity === 'MINUTE' ? 60_000 : 3_600_000)).toISOString();
  const days = daysBetween(from.slice(0, 10), lastIncluded.slice(0, 10));
  const counts = await readerShardCounts(tenant, days);
  for (const day of days) {
    const slot = (iso: string) => (granularity === 'MINUTE' ? iso.slice(11, 16) : iso.slice(11, 13));
    const start = day === from.slice(0, 10) ? slot(from) : granularity === 'MINUTE' ? '00:00' : '00';
    const end = day === lastIncluded.slice(0, 10) ? slot(lastIncluded) : granularity === 'MINUTE' ? '23:59' : '23';
    const items = await queryAggregateShards(tenant, day, counts.get(day)!.aggregates, {
      sortKeyCondition: 'sk BETWEEN :start AND :end',
      FilterExpression: 'expiresAt > :now',
      ExpressionAttributeValues: { ':start': `${granularity}#${start}#`, ':end': `${granularity}#${end}#\uffff`, ':now': nowSeconds },
    });
    for (const item of items) {
      rows.push({
        bucket: String(item.bucket),
        eventType: String(item.eventType),
        category: item.category as EventCategory,
        errorType: String(item.errorType),
        count: num(item.count),
        failures: num(item.failures),
        duplicates: num(item.duplicates),
        durationCount: num(item.durationCount),
        durationSum: num(item.durationSum),
        item,
      });
    }
  }
  return rows;
}

export interface UserEventsPage {
  events: Array<Record<string, unknown>>;
  lastKey?: Record<string, unknown>;
}

/** A user's events in time order, from the byUser index; expired ones (TTL not yet run) are filtered out. */
export async function readUserEvents(tenant: string, userId: string, from: string, to: string, limit: number, startKey?: Record<string, unknown>): Promise<UserEventsPage> {
  const events: Array<Record<string, unknown>> = [];
  let lastKey = startKey;
  const nowSeconds = Math.floor(Date.now() / 1000);
  // The filter may drop items; keep reading (a bounded number of pages) until the page is full.
  for (let pages = 0; pages < 10 && events.length < limit; pages++) {
    const page = await dynamo().send(
      new QueryCommand({
        TableName: config.analyticsTable(),
        IndexName: 'byUser',
        KeyConditionExpression: 'userPk = :pk AND userSk BETWEEN :from AND :to',
        FilterExpression: 'expiresAt > :now',
        ExpressionAttributeValues: { ':pk': userPartition(tenant, userId), ':from': from, ':to': `${to}`, ':now': nowSeconds },
        Limit: limit - events.length,
        ...(lastKey ? { ExclusiveStartKey: lastKey } : {}),
      }),
    );
    for (const item of page.Items ?? []) events.push(item);
    lastKey = page.LastEvaluatedKey;
    if (!lastKey) break;
  }
  return { events, ...(lastKey ? { lastKey } : {}) };
}

/**
 * The hourly items of one kind (`<prefix><hh>#...`: FUNCTION#, REDRIVE#) whose hour starts
 * in [from, to), both hour-aligned ISO timestamps. The days' shard counts, then one Query
 * per day of the range and aggregate shard, merged.
 */
async function readHourlyItems(prefix: string, tenant: string, from: string, to: string): Promise<Record<string, unknown>[]> {
  if (from >= to) return [];
  const nowSeconds = Math.floor(Date.now() / 1000);
  const lastHour = new Date(Date.parse(to) - 3_600_000).toISOString();
  const reads: Promise<Record<string, unknown>[]>[] = [];
  const days = daysBetween(from.slice(0, 10), lastHour.slice(0, 10));
  const counts = await readerShardCounts(tenant, days);
  for (const day of days) {
    const start = day === from.slice(0, 10) ? from.slice(11, 13) : '00';
    const end = day === lastHour.slice(0, 10) ? lastHour.slice(11, 13) : '23';
    reads.push(
      queryAggregateShards(tenant, day, counts.get(day)!.aggregates, {
        sortKeyCondition: 'sk BETWEEN :start AND :end',
        FilterExpression: 'expiresAt > :now',
        ExpressionAttributeValues: { ':start': `${prefix}${start}#`, ':end': `${prefix}${end}#\uffff`, ':now': nowSeconds },
      }),
    );
  }
  return (await Promise.all(reads)).flat();
}

/** The per-function hourly performance items (FUNCTION#<hh>#<name>) in [from, to): one Query per day and shard. */
export function readFunctionAggregates(tenant: string, from: string, to: string): Promise<Record<string, unknown>[]> {
  return readHourlyItems(FUNCTION_PREFIX, tenant, from, to);
}

/** The hourly items of events stored after a DLQ redrive (REDRIVE#<hh>#<eventType>) in [from, to): one Query per day and shard. */
export function readRedriveAggregates(tenant: string, from: string, to: string): Promise<Record<string, unknown>[]> {
  return readHourlyItems(REDRIVE_PREFIX, tenant, from, to);
}

/**
 * Every user's item of each day (the day's UDAY shards), or one user's (the few shards the
 * user's items can be in: ./keys.ts userDayPartitionsOf), day → items, a user's partial
 * items of a day merged into one. The days' shard counts first (./shard-counts.ts); paged
 * by DynamoDB's 1 MB.
 */
export async function readUserDays(tenant: string, days: string[], userId?: string): Promise<Map<string, Record<string, unknown>[]>> {
  const counts = await readerShardCounts(tenant, days);
  const nowSeconds = Math.floor(Date.now() / 1000);
  const byDay = new Map<string, Record<string, unknown>[]>();
  await Promise.all(
    [...counts].map(async ([day, { userDays }]) => {
      const partitions = userId ? userDayPartitionsOf(tenant, day, userId, userDays) : userDayPartitions(tenant, day, userDays);
      const pages = await Promise.all(
        partitions.map((pk) =>
          queryAll({
            TableName: config.analyticsTable(),
            KeyConditionExpression: userId ? 'pk = :pk AND sk = :user' : 'pk = :pk',
            FilterExpression: 'expiresAt > :now',
            ExpressionAttributeValues: { ':pk': pk, ':now': nowSeconds, ...(userId ? { ':user': userId } : {}) },
          }),
        ),
      );
      byDay.set(day, mergeShards(pages.flat()));
    }),
  );
  return byDay;
}

/** The per-import items (IMPORT#<importId>) of every day in [fromDay, toDay]: the days' shard counts, then one Query per day and shard, merged. */
export async function readImportAggregates(tenant: string, days: string[]): Promise<Record<string, unknown>[]> {
  const nowSeconds = Math.floor(Date.now() / 1000);
  const counts = await readerShardCounts(tenant, days);
  const pages = await Promise.all(
    days.map((day) =>
      queryAggregateShards(tenant, day, counts.get(day)!.aggregates, {
        sortKeyCondition: 'begins_with(sk, :prefix)',
        FilterExpression: 'expiresAt > :now',
        ExpressionAttributeValues: { ':prefix': 'IMPORT#', ':now': nowSeconds },
      }),
    ),
  );
  return pages.flat();
}
