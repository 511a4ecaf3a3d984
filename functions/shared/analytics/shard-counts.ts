/**
 * Adaptive shard counts (./keys.ts, docs/SCALE.md): how many aggregate and user-day shards
 * one tenant's day is spread over. One small item per tenant and day holds the counts; it
 * only ever grows.
 *
 * The rule that keeps reads complete: a writer records a count BEFORE writing to a shard
 * that count allows (the item is created before the day's first write, and grown before a
 * write to a new shard), so a reader that read the counts queries every shard holding data
 * written before its read. Writers may use a count that is stale-low (writing to fewer
 * shards than recorded is always safe), so each container caches the counts and refreshes
 * them only when a write is throttled (growShardCounts), which is also when they grow.
 *
 * Data written before adaptive counts (every day spread over the fixed maximum, SHARDS):
 * the first adaptive writer of a table records, once, in the table's layout item until which
 * day such data may exist (`legacyUntil`): the day after it started if the table held any
 * item, none if the table was empty. A day up to `legacyUntil` starts at the maximum counts
 * (its count item is created with them) and is read with them when it has no count item; a
 * later day starts at 1, and without a count item has no data beyond shard 0.
 *
 * Plain UpdateItem, not a transaction (../imports/transact.ts): creating with
 * `if_not_exists` and growing with `if smaller` are safe to apply twice, and a growth whose
 * condition failed is followed by a read of the count that won.
 */
import { GetCommand, PutCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { dynamo } from '../aws-clients.ts';
import { isConditionFailure } from '../aws-errors.ts';
import { batchGetAll } from '../batch-get.ts';
import { config } from '../config.ts';
import { ADAPTIVE_KINDS, aggregateRetentionDays, expiresAt, grownShardCount, LAYOUT_KEY, shardCount, shardCountKey, type AdaptiveKind, type ShardCounts } from './keys.ts';

interface Layout {
  /** The last day that may hold data written with the fixed maximum counts; '' when none. */
  legacyUntil: string;
}

const DAY_MS = 86_400_000;

/** Without adaptive counts (`ANALYTICS_KEY_SHARDS=1`): the unsharded layout, no count items. */
const adaptive = () => shardCount('aggregates') > 1 || shardCount('userDays') > 1;
const ones = (): ShardCounts => ({ aggregates: 1, userDays: 1 });
const maxima = (): ShardCounts => ({ aggregates: shardCount('aggregates'), userDays: shardCount('userDays') });

/** The counts a day starts with (and is read with while it has no count item). */
function startingCounts(layout: Layout | undefined, day: string): ShardCounts {
  return layout === undefined || day <= layout.legacyUntil ? maxima() : ones();
}

function countsOf(item: Record<string, unknown>, fallback: ShardCounts): ShardCounts {
  const counts = { ...fallback };
  for (const kind of ADAPTIVE_KINDS) {
    const value = item[kind];
    if (typeof value === 'number' && Number.isInteger(value) && value >= 1) counts[kind] = Math.min(value, shardCount(kind));
  }
  return counts;
}

/** The layout item never changes once written: kept for the container's life once seen (per table: tools switch tables). */
const layoutSeen = new Map<string, Layout>();
const layoutOf = (item: Record<string, unknown>): Layout => ({ legacyUntil: typeof item.legacyUntil === 'string' ? item.legacyUntil : '' });

async function readLayout(): Promise<Layout | undefined> {
  const table = config.analyticsTable();
  if (layoutSeen.has(table)) return layoutSeen.get(table);
  const { Item } = await dynamo().send(new GetCommand({ TableName: table, Key: LAYOUT_KEY, ConsistentRead: true }));
  if (Item) layoutSeen.set(table, layoutOf(Item));
  return layoutSeen.get(table);
}

/** The layout, written by the first adaptive writer of the table (a conditional put: the first one wins, the others read it). */
async function writerLayout(): Promise<Layout> {
  const known = await readLayout();
  if (known) return known;
  const table = config.analyticsTable();
  // Any item at all (this runs before the first adaptive write) is old-layout data, or a concurrent first writer's: both fine.
  const { Items } = await dynamo().send(new ScanCommand({ TableName: table, Limit: 1, ProjectionExpression: 'pk' }));
  // The day after: an old-layout writer still finishing during the deploy writes events of its present.
  const legacyUntil = (Items ?? []).length > 0 ? new Date(Date.now() + DAY_MS).toISOString().slice(0, 10) : '';
  try {
    await dynamo().send(new PutCommand({ TableName: table, Item: { ...LAYOUT_KEY, legacyUntil }, ConditionExpression: 'attribute_not_exists(pk)' }));
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
  }
  const layout = await readLayout();
  if (!layout) throw new Error('the analytics layout item is missing after it was written');
  return layout;
}

/** A writer's counts per `<tenant>#<day>`: possibly stale-low, which is safe. Bounded: cleared when full. */
const writerCache = new Map<string, ShardCounts>();
const WRITER_CACHE_LIMIT = 10_000;
/** How a tenant-day's counts are keyed in the maps this module returns. */
export const countsKey = (tenant: string, day: string) => `${tenant}#${day}`;
const cached = (tenant: string, day: string) => writerCache.get(`${config.analyticsTable()}|${countsKey(tenant, day)}`);

function remember(tenant: string, day: string, counts: ShardCounts): ShardCounts {
  if (writerCache.size >= WRITER_CACHE_LIMIT) writerCache.clear();
  const had = cached(tenant, day);
  // Never lower what this container already knew (a stale read after another container grew it).
  const merged = had ? { aggregates: Math.max(had.aggregates, counts.aggregates), userDays: Math.max(had.userDays, counts.userDays) } : counts;
  writerCache.set(`${config.analyticsTable()}|${countsKey(tenant, day)}`, merged);
  return merged;
}

/** The count item lives as long as the longest-lived data of its day (aggregates and user-days expire with the aggregates), and a day more. */
const countExpiry = (day: string) => expiresAt(`${day}T23:59:59.999Z`, aggregateRetentionDays() + 1);

/** Creates a tenant-day's count item with its starting counts unless it exists, and returns what it holds. */
async function ensureCounts(tenant: string, day: string): Promise<ShardCounts> {
  const start = startingCounts(await writerLayout(), day);
  const { Attributes } = await dynamo().send(
    new UpdateCommand({
      TableName: config.analyticsTable(),
      Key: shardCountKey(tenant, day),
      UpdateExpression: 'SET #a = if_not_exists(#a, :a), #u = if_not_exists(#u, :u), #e = if_not_exists(#e, :e)',
      ExpressionAttributeNames: { '#a': 'aggregates', '#u': 'userDays', '#e': 'expiresAt' },
      ExpressionAttributeValues: { ':a': start.aggregates, ':u': start.userDays, ':e': countExpiry(day) },
      ReturnValues: 'ALL_NEW',
    }),
  );
  return countsOf(Attributes ?? {}, start);
}

/**
 * The counts a writer may use for each tenant-day (`<tenant>#<day>` → counts), each
 * recorded in its count item before this returns: from the cache, else created or read.
 */
export async function writerShardCounts(tenantDays: Iterable<{ tenant: string; day: string }>): Promise<Map<string, ShardCounts>> {
  const counts = new Map<string, ShardCounts>();
  if (!adaptive()) {
    for (const { tenant, day } of tenantDays) counts.set(countsKey(tenant, day), ones());
    return counts;
  }
  const missing = new Map<string, { tenant: string; day: string }>();
  for (const { tenant, day } of tenantDays) {
    const known = cached(tenant, day);
    if (known) counts.set(countsKey(tenant, day), known);
    else missing.set(countsKey(tenant, day), { tenant, day });
  }
  await Promise.all([...missing.values()].map(async ({ tenant, day }) => counts.set(countsKey(tenant, day), remember(tenant, day, await ensureCounts(tenant, day)))));
  return counts;
}

/**
 * A write to these kinds of a tenant-day was throttled: record a larger count (GROWTH
 * times this container's, if the stored one is smaller), so that the retry spreads over
 * more shards. If another writer grew it already, adopt the stored count.
 */
export async function growShardCounts(tenant: string, day: string, kinds: Iterable<AdaptiveKind>): Promise<ShardCounts> {
  if (!adaptive()) return ones();
  let counts = cached(tenant, day) ?? (await ensureCounts(tenant, day));
  for (const kind of new Set(kinds)) {
    const grown = grownShardCount(kind, counts[kind]);
    if (grown <= counts[kind]) continue;
    try {
      const { Attributes } = await dynamo().send(
        new UpdateCommand({
          TableName: config.analyticsTable(),
          Key: shardCountKey(tenant, day),
          UpdateExpression: 'SET #k = :grown',
          ConditionExpression: 'attribute_exists(pk) AND #k < :grown',
          ExpressionAttributeNames: { '#k': kind },
          ExpressionAttributeValues: { ':grown': grown },
          ReturnValues: 'ALL_NEW',
        }),
      );
      counts = remember(tenant, day, countsOf(Attributes ?? {}, counts));
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const { Item } = await dynamo().send(new GetCommand({ TableName: config.analyticsTable(), Key: shardCountKey(tenant, day), ConsistentRead: true }));
      counts = remember(tenant, day, countsOf(Item ?? {}, counts));
    }
  }
  return counts;
}

/**
 * Counts a reader read (or is reading), kept READER_MEMO_MS: one API request reads the same
 * days in several steps, some at once (summary: minutes and hours; errors: an hour at a
 * time), and a count read that recently misses at most the writes of that moment, as the
 * eventually consistent Queries after it may.
 */
const READER_MEMO_MS = 2000;
const readerMemo = new Map<string, { counts: Promise<ShardCounts>; at: number }>();

/**
 * The counts to read each of a tenant's days with (day → counts): one strongly consistent
 * BatchGetItem for the days' count items and the layout item (100 keys a call), unless read
 * in the last READER_MEMO_MS. A day without a count item is read with its starting counts.
 */
export async function readerShardCounts(tenant: string, days: string[]): Promise<Map<string, ShardCounts>> {
  if (!adaptive()) return new Map(days.map((day) => [day, ones()]));
  const table = config.analyticsTable();
  const now = Date.now();
  const memoKey = (day: string) => `${table}|${countsKey(tenant, day)}`;
  const unread = [...new Set(days)].filter((day) => {
    const memo = readerMemo.get(memoKey(day));
    return !memo || now - memo.at >= READER_MEMO_MS;
  });
  if (unread.length > 0) {
    if (readerMemo.size >= WRITER_CACHE_LIMIT) readerMemo.clear();
    const read = readCounts(table, tenant, unread);
    read.catch(() => unread.forEach((day) => readerMemo.delete(memoKey(day))));
    for (const day of unread) readerMemo.set(memoKey(day), { counts: read.then((counts) => counts.get(day)!), at: now });
  }
  return new Map(await Promise.all(days.map(async (day) => [day, await readerMemo.get(memoKey(day))!.counts] as const)));
}

async function readCounts(table: string, tenant: string, days: string[]): Promise<Map<string, ShardCounts>> {
  const keys: Array<Record<string, string>> = days.map((day) => shardCountKey(tenant, day));
  if (!layoutSeen.has(table)) keys.push({ ...LAYOUT_KEY });
  const items = await batchGetAll(table, keys, {
    expression: '#pk, #sk, #a, #u, #l',
    names: { '#pk': 'pk', '#sk': 'sk', '#a': 'aggregates', '#u': 'userDays', '#l': 'legacyUntil' },
  });
  const layoutItem = items.find((item) => item.pk === LAYOUT_KEY.pk && item.sk === LAYOUT_KEY.sk);
  if (layoutItem) layoutSeen.set(table, layoutOf(layoutItem));
  const byPk = new Map(items.map((item) => [String(item.pk), item]));
  return new Map(
    days.map((day) => {
      const start = startingCounts(layoutSeen.get(table), day);
      const item = byPk.get(shardCountKey(tenant, day).pk);
      return [day, item ? countsOf(item, start) : start];
    }),
  );
}

/** Forgets what this process cached: all (tests that rewrite the table under a running process), or what readers keep (benchmarks measuring each request as a new one). */
export function forgetShardCounts(which: 'all' | 'reads' = 'all'): void {
  readerMemo.clear();
  if (which === 'reads') return;
  writerCache.clear();
  layoutSeen.clear();
}
