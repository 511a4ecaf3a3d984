/**
 * The analytics table: storing an event once (with its aggregates, atomically) and the
 * reads the analytics API serves. Layout and identity: ./keys.ts.
 */
import { QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { dynamo } from '../aws-clients.ts';
import { cancellationCodes } from '../aws-errors.ts';
import { config } from '../config.ts';
import { transactWrite } from '../imports/transact.ts';
import type { EventCategory } from './event.ts';
import { bucketAttribute, bucketOf } from './histogram.ts';
import {
  aggregatePartition,
  aggregateRetentionDays,
  aggregateSortKey,
  eventKey,
  expiresAt,
  retentionDays,
  timeParts,
  userPartition,
  type Granularity,
} from './keys.ts';
import type { ValidAnalyticsEvent } from './schema.ts';

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
}

/** The sums one transaction adds to one aggregate item. */
interface AggregateDelta {
  granularity: Granularity;
  event: ValidAnalyticsEvent;
  tenant: string;
  count: number;
  failures: number;
  duplicates: number;
  durationCount: number;
  durationSum: number;
  buckets: Map<number, number>;
}

function aggregateKey(granularity: Granularity, event: ValidAnalyticsEvent, tenant: string) {
  const { metadata } = event.detail;
  return {
    pk: aggregatePartition(tenant, timeParts(event.detail.timestamp).day),
    sk: aggregateSortKey(granularity, event.detail.timestamp, event.eventType, metadata.eventCategory, metadata.errorType),
  };
}

function addToDeltas(deltas: Map<string, AggregateDelta>, item: EventToStore, duplicate: boolean): void {
  for (const granularity of ['MINUTE', 'HOUR'] as const) {
    // Duplicates are a diagnostic counted per minute only.
    if (duplicate && granularity === 'HOUR') continue;
    const key = aggregateKey(granularity, item.event, item.enrichment.tenant);
    const id = `${key.pk}|${key.sk}`;
    let delta = deltas.get(id);
    if (!delta) {
      delta = { granularity, event: item.event, tenant: item.enrichment.tenant, count: 0, failures: 0, duplicates: 0, durationCount: 0, durationSum: 0, buckets: new Map() };
      deltas.set(id, delta);
    }
    if (duplicate) {
      delta.duplicates++;
      continue;
    }
    const { metadata } = item.event.detail;
    delta.count++;
    if (metadata.status === 'FAILURE') delta.failures++;
    if (metadata.duration !== undefined) {
      delta.durationCount++;
      delta.durationSum += metadata.duration;
      const bucket = bucketOf(metadata.duration);
      delta.buckets.set(bucket, (delta.buckets.get(bucket) ?? 0) + 1);
    }
  }
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
  const adds: string[] = [];
  const add = (attribute: string, value: number) => {
    if (value === 0) return;
    const n = adds.length;
    names[`#a${n}`] = attribute;
    values[`:a${n}`] = value;
    adds.push(`#a${n} :a${n}`);
  };
  add('count', delta.count);
  add('failures', delta.failures);
  add('duplicates', delta.duplicates);
  add('durationCount', delta.durationCount);
  add('durationSum', Math.round(delta.durationSum * 1000) / 1000);
  for (const [bucket, n] of delta.buckets) add(bucketAttribute(bucket), n);
  return {
    TableName: config.analyticsTable(),
    Key: aggregateKey(granularity, event, delta.tenant),
    UpdateExpression: `ADD ${adds.join(', ')} SET #expiresAt = :expiresAt, #eventType = :eventType, #category = :category, #errorType = :errorType, #bucket = :bucket`,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
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
  // Each round drops at least one event (as a duplicate) or ends: bounded by the batch size.
  for (;;) {
    const deltas = new Map<string, AggregateDelta>();
    for (const index of pending) addToDeltas(deltas, items[index]!, false);
    for (const index of duplicates) addToDeltas(deltas, items[index]!, true);
    try {
      await transactWrite([
        ...pending.map((index) => ({ Put: { TableName: config.analyticsTable(), Item: eventItem(items[index]!), ConditionExpression: 'attribute_not_exists(pk)' } })),
        ...[...deltas.values()].map((delta) => ({ Update: aggregateUpdate(delta) })),
      ]);
      for (const index of duplicates) outcomes[index] = 'duplicate';
      return outcomes;
    } catch (error) {
      const codes = cancellationCodes(error);
      const already = pending.filter((_, position) => codes?.[position] === 'ConditionalCheckFailed');
      if (already.length === 0) throw error;
      duplicates.push(...already);
      pending = pending.filter((index) => !already.includes(index));
    }
  }
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

async function queryAll(input: QueryCommandInput): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo().send(new QueryCommand({ ...input, ...(ExclusiveStartKey ? { ExclusiveStartKey } : {}) }));
    items.push(...((page.Items ?? []) as Record<string, unknown>[]));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
}

const num = (value: unknown) => (typeof value === 'number' ? value : 0);

/**
 * Aggregate rows of one granularity whose bucket starts in [from, to). `from`/`to` are
 * ISO timestamps already aligned to the granularity. One Query per day, never a scan.
 */
export async function readAggregates(tenant: string, granularity: Granularity, from: string, to: string): Promise<AggregateRow[]> {
  if (from >= to) return [];
  const rows: AggregateRow[] = [];
  const nowSeconds = Math.floor(Date.now() / 1000);
  const lastIncluded = new Date(Date.parse(to) - (granularity === 'MINUTE' ? 60_000 : 3_600_000)).toISOString();
  for (let day = from.slice(0, 10); day <= lastIncluded.slice(0, 10); day = new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10)) {
    const slot = (iso: string) => (granularity === 'MINUTE' ? iso.slice(11, 16) : iso.slice(11, 13));
    const start = day === from.slice(0, 10) ? slot(from) : granularity === 'MINUTE' ? '00:00' : '00';
    const end = day === lastIncluded.slice(0, 10) ? slot(lastIncluded) : granularity === 'MINUTE' ? '23:59' : '23';
    const items = await queryAll({
      TableName: config.analyticsTable(),
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :start AND :end',
      FilterExpression: 'expiresAt > :now',
      ExpressionAttributeValues: { ':pk': aggregatePartition(tenant, day), ':start': `${granularity}#${start}#`, ':end': `${granularity}#${end}#\uffff`, ':now': nowSeconds },
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
