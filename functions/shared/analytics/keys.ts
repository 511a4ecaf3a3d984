/**
 * The analytics table's layout (table keys pk/sk, GSI byUser(userPk, userSk), TTL expiresAt):
 *
 *   raw event   pk  EVENT#<tenant>#<yyyy-mm-dd>[#<shard>]   sk      <timestamp>#<eventId>
 *               userPk USER#<tenant>#<userId>               userSk  <timestamp>#<eventId>   (when the event has a user)
 *   aggregate   pk  AGG#<tenant>#<yyyy-mm-dd>[#<shard>]     sk      MINUTE#<hh:mm>#<eventType>#<category>#<errorType|->
 *                                                           sk      HOUR#<hh>#<eventType>#<category>#<errorType|->
 *                                                           sk      FUNCTION#<hh>#<functionName>   (invocations, cold starts, memory)
 *                                                           sk      IMPORT#<importId>              (an import's progress)
 *                                                           sk      REDRIVE#<hh>#<eventType>       (events stored after a DLQ redrive)
 *   user-day    pk  UDAY#<tenant>#<yyyy-mm-dd>[#<shard>]    sk      <userId>   (the user's active minutes and event types that day)
 *
 *   shard counts pk  SHARDS#<tenant>#<yyyy-mm-dd>             sk      COUNT    (aggregates, userDays: that day's shard counts)
 *   layout      pk  SHARDS                                  sk      LAYOUT   (legacyUntil: see ./shard-counts.ts)
 *
 * Write shards (docs/SCALE.md): DynamoDB takes about 1,000 write units a second per
 * partition, and every event of a tenant's day would otherwise land in the same three
 * partitions. So each can be split into up to SHARDS[kind] partition keys; shard 0 keeps the
 * unsharded key (`AGG#<tenant>#<day>`), the others add `#<shard>`.
 *
 * - Raw events: always SHARDS.events shards, by event id. The count cannot adapt: a
 *   redelivered copy must land on the partition of its stored copy for the conditional put to
 *   refuse it (exactly-once), and a copy written under a larger count would not.
 * - Aggregates and user-days: the partial items of one aggregate (or one user's day) in
 *   several shards are added up when read (./store.ts mergeShards), so it does not matter
 *   which shard a write went to, and their count is adaptive per tenant and day
 *   (./shard-counts.ts): it starts at 1 and grows GROWTH-fold up to SHARDS[kind] when a write to
 *   that tenant-day is throttled; a quiet tenant's day stays one partition and reads as one
 *   Query. An aggregate's shard is chosen per stored batch, a user-day's from the user id
 *   (so, after growth, a user may have one item per count the day had: userDayPartitionsOf).
 *
 * `ANALYTICS_KEY_SHARDS=1` writes and reads the unsharded layout without count items (the
 * scale benchmark's "before").
 *
 * Every key starts with the tenant, so a read can only ever see one tenant's analytics.
 * Events without a tenant (health checks, background work) belong to SYSTEM_TENANT; other
 * accounts' events to `_account-<id>` (functions/analytics/tenant.ts).
 */
import { createHash } from 'node:crypto';
import type { EventCategory } from './event.ts';
import { TENANT_NAME } from './schema.ts';
import { shardOf, withShard } from '../shards.ts';

export const SYSTEM_TENANT = '_system';
export type Granularity = 'MINUTE' | 'HOUR';

/** JSON with object keys sorted, so equal content always serialises the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * An event's identity: a hash of its whole content. Every copy of one event (a PutEvents
 * retry after a lost answer, the fallback DLQ plus a redrive, a replayed log line, SQS
 * at-least-once delivery) has the same content and so the same id, while the EventBridge
 * envelope id differs between those copies and cannot be used.
 */
export function eventIdOf(event: unknown): string {
  return createHash('sha256').update(canonicalJson(event)).digest('hex').slice(0, 32);
}

export function tenantOf(properties: Record<string, unknown>): string {
  const tenant = properties.tenant;
  return typeof tenant === 'string' && TENANT_NAME.test(tenant) ? tenant : SYSTEM_TENANT;
}

/** `2026-11-27T07:20:20.123Z` → day `2026-11-27`, hour `07`, minute `07:20`. */
export function timeParts(iso: string): { day: string; hour: string; minute: string } {
  return { day: iso.slice(0, 10), hour: iso.slice(11, 13), minute: iso.slice(11, 16) };
}

/** The most partitions per tenant and day: 64 × 1,000 write units a second for raw events and for user-days, 32 × for aggregates. */
export const SHARDS = { events: 64, userDays: 64, aggregates: 32 } as const;
export type ShardedKind = keyof typeof SHARDS;
/** The kinds whose shard count adapts per tenant and day (./shard-counts.ts). */
export type AdaptiveKind = Exclude<ShardedKind, 'events'>;
export const ADAPTIVE_KINDS: readonly AdaptiveKind[] = ['aggregates', 'userDays'];
/** One tenant-day's shard counts. */
export type ShardCounts = Record<AdaptiveKind, number>;
/** A throttled tenant-day's count is multiplied by this (up to the maximum): 1, 4, 16, 64 (32 for aggregates). */
export const GROWTH = 4;

/** The most shards of a kind: SHARDS[kind], or 1 with `ANALYTICS_KEY_SHARDS=1` (the unsharded layout). */
export function shardCount(kind: ShardedKind, env: NodeJS.ProcessEnv = process.env): number {
  return env.ANALYTICS_KEY_SHARDS === '1' ? 1 : SHARDS[kind];
}

/** The count after a throttled write: GROWTH times as many, at most the kind's maximum. */
export function grownShardCount(kind: AdaptiveKind, count: number): number {
  return Math.min(shardCount(kind), Math.max(1, count) * GROWTH);
}

const firstShards = (base: string, count: number) => Array.from({ length: Math.max(1, count) }, (_, shard) => withShard(base, shard));

export function eventKey(tenant: string, timestamp: string, eventId: string) {
  return { pk: withShard(`EVENT#${tenant}#${timestamp.slice(0, 10)}`, shardOf(eventId, shardCount('events'))), sk: `${timestamp}#${eventId}` };
}

/** Every partition holding a tenant's raw events of one day. */
export function eventPartitions(tenant: string, day: string): string[] {
  return firstShards(`EVENT#${tenant}#${day}`, shardCount('events'));
}

export function userPartition(tenant: string, userId: string): string {
  return `USER#${tenant}#${userId}`;
}

/** One aggregate partition of a tenant's day (shard 0: the unsharded key). */
export function aggregatePartition(tenant: string, day: string, shard = 0): string {
  return withShard(`AGG#${tenant}#${day}`, shard);
}

/** The partitions holding a tenant's aggregates of one day, whose aggregate shard count is `count`. */
export function aggregatePartitions(tenant: string, day: string, count: number): string[] {
  return firstShards(`AGG#${tenant}#${day}`, count);
}

/** The aggregate shard a stored batch adds to, from something that identifies the batch, among the day's `count`. */
export function aggregateShardOf(batch: string, count: number): number {
  return shardOf(batch, count);
}

/** The item holding a tenant-day's shard counts (./shard-counts.ts). */
export function shardCountKey(tenant: string, day: string) {
  return { pk: `SHARDS#${tenant}#${day}`, sk: 'COUNT' };
}
/** The table's one layout item (./shard-counts.ts): until which day old-layout data may exist. */
export const LAYOUT_KEY = { pk: 'SHARDS', sk: 'LAYOUT' } as const;

export function aggregateSortKey(granularity: Granularity, timestamp: string, eventType: string, category: EventCategory, errorType: string | undefined): string {
  const { hour, minute } = timeParts(timestamp);
  return `${granularity}#${granularity === 'MINUTE' ? minute : hour}#${eventType}#${category}#${errorType ?? '-'}`;
}

/** One item per user and day: minute counts `m<minute of day>` and, per event type, the set of its minutes `T:<eventType>`; in the shard of the user id among the day's `count`. */
export function userDayPartition(tenant: string, day: string, userId: string, count: number): string {
  return withShard(`UDAY#${tenant}#${day}`, shardOf(userId, count));
}

/**
 * Every partition that can hold a user's items of one day whose user-day count is `count`:
 * the user's shard under each count the day can have had on its way there (1, GROWTH,
 * GROWTH², … and `count`), since the shard moves when the count grows.
 */
export function userDayPartitionsOf(tenant: string, day: string, userId: string, count: number): string[] {
  const counts = new Set<number>([count]);
  for (let c = 1; c < count; c *= GROWTH) counts.add(c);
  return [...new Set([...counts].map((c) => userDayPartition(tenant, day, userId, c)))];
}

/** The partitions holding a tenant's user-days of one day whose user-day count is `count`. */
export function userDayPartitions(tenant: string, day: string, count: number): string[] {
  return firstShards(`UDAY#${tenant}#${day}`, count);
}
export const USER_DAY_TYPE_PREFIX = 'T:';
export const USER_DAY_MINUTE_PREFIX = 'm';

/** Minute of the day, 0-1439, of an ISO timestamp. */
export function minuteOfDay(iso: string): number {
  return Number(iso.slice(11, 13)) * 60 + Number(iso.slice(14, 16));
}

/** The hourly per-function performance aggregate (cold starts, init duration, memory). */
export function functionSortKey(timestamp: string, functionName: string): string {
  return `${FUNCTION_PREFIX}${timeParts(timestamp).hour}#${functionName}`;
}

/** The hourly item of events that went to the analytics DLQ, were redriven and were stored (./dead-letter.ts). */
export function redriveSortKey(timestamp: string, eventType: string): string {
  return `${REDRIVE_PREFIX}${timeParts(timestamp).hour}#${eventType}`;
}
export const REDRIVE_PREFIX = 'REDRIVE#';
export const FUNCTION_PREFIX = 'FUNCTION#';

export const DEFAULT_RETENTION_DAYS: Record<EventCategory, number> = { USER_ACTION: 90, AUTHENTICATION: 90, QUERY: 30, SYSTEM_EVENT: 30 };
export const DEFAULT_AGGREGATE_RETENTION_DAYS = 400;

function positiveDays(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const days = Number(raw);
  if (!Number.isFinite(days) || days <= 0) throw new Error(`retention must be a positive number of days, got ${JSON.stringify(raw)}`);
  return days;
}

/** ANALYTICS_RETENTION_DAYS_<CATEGORY>, else ANALYTICS_RETENTION_DAYS, else 90 (user, auth) / 30 (query, system) days. */
export function retentionDays(category: EventCategory, env: NodeJS.ProcessEnv = process.env): number {
  return positiveDays(env[`ANALYTICS_RETENTION_DAYS_${category}`]) ?? positiveDays(env.ANALYTICS_RETENTION_DAYS) ?? DEFAULT_RETENTION_DAYS[category];
}

export function aggregateRetentionDays(env: NodeJS.ProcessEnv = process.env): number {
  return positiveDays(env.ANALYTICS_AGGREGATE_RETENTION_DAYS) ?? DEFAULT_AGGREGATE_RETENTION_DAYS;
}

/** Epoch seconds `days` after `fromIso`: DynamoDB TTL's format. */
export function expiresAt(fromIso: string, days: number): number {
  return Math.floor(Date.parse(fromIso) / 1000 + days * 86_400);
}
