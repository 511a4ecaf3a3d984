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
 * Write shards (docs/SCALE.md): DynamoDB takes about 1,000 write units a second per
 * partition, and every event of a tenant's day would otherwise land in the same three
 * partitions. So each is split into SHARDS[kind] partition keys; shard 0 keeps the unsharded
 * key (`EVENT#<tenant>#<day>`), the others add `#<shard>`. A raw event's shard comes from
 * its id and a user-day's from the user id, so a redelivered event meets its stored copy and
 * a user has one item a day; an aggregate's shard is chosen per stored batch, so one
 * aggregate (a minute of one event type, say) has up to SHARDS.aggregates partial items,
 * which the reads in ./store.ts query together and add up. `ANALYTICS_KEY_SHARDS=1` writes
 * the unsharded layout (the scale benchmark's "before"); data written with more shards is
 * only read back with as many (the count may grow, never shrink).
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

/** Partitions per tenant and day: 64 × 1,000 write units a second for raw events and for user-days, 32 × for aggregates. */
export const SHARDS = { events: 64, userDays: 64, aggregates: 32 } as const;
export type ShardedKind = keyof typeof SHARDS;

export function shardCount(kind: ShardedKind, env: NodeJS.ProcessEnv = process.env): number {
  return env.ANALYTICS_KEY_SHARDS === '1' ? 1 : SHARDS[kind];
}

const allShards = (base: string, kind: ShardedKind) => Array.from({ length: shardCount(kind) }, (_, shard) => withShard(base, shard));

export function eventKey(tenant: string, timestamp: string, eventId: string) {
  return { pk: withShard(`EVENT#${tenant}#${timestamp.slice(0, 10)}`, shardOf(eventId, shardCount('events'))), sk: `${timestamp}#${eventId}` };
}

/** Every partition holding a tenant's raw events of one day. */
export function eventPartitions(tenant: string, day: string): string[] {
  return allShards(`EVENT#${tenant}#${day}`, 'events');
}

export function userPartition(tenant: string, userId: string): string {
  return `USER#${tenant}#${userId}`;
}

/** One aggregate partition of a tenant's day (shard 0: the unsharded key). */
export function aggregatePartition(tenant: string, day: string, shard = 0): string {
  return withShard(`AGG#${tenant}#${day}`, shard);
}

/** Every partition holding a tenant's aggregates of one day. */
export function aggregatePartitions(tenant: string, day: string): string[] {
  return allShards(`AGG#${tenant}#${day}`, 'aggregates');
}

/** The aggregate shard a stored batch adds to, from something that identifies the batch. */
export function aggregateShardOf(batch: string): number {
  return shardOf(batch, shardCount('aggregates'));
}

export function aggregateSortKey(granularity: Granularity, timestamp: string, eventType: string, category: EventCategory, errorType: string | undefined): string {
  const { hour, minute } = timeParts(timestamp);
  return `${granularity}#${granularity === 'MINUTE' ? minute : hour}#${eventType}#${category}#${errorType ?? '-'}`;
}

/** One item per user and day: minute counts `m<minute of day>` and, per event type, the set of its minutes `T:<eventType>`. */
export function userDayPartition(tenant: string, day: string, userId: string): string {
  return withShard(`UDAY#${tenant}#${day}`, shardOf(userId, shardCount('userDays')));
}

/** Every partition holding a tenant's user-days of one day. */
export function userDayPartitions(tenant: string, day: string): string[] {
  return allShards(`UDAY#${tenant}#${day}`, 'userDays');
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
