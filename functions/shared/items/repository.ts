/**
 * Reads and writes items in the data table, always within one tenant's collection.
 *
 * Every change is read-decide-write: read the item, decide its next version, and write it in
 * one idempotent transaction (../imports/transact.ts) on the condition that nobody wrote in
 * between (its version is still the one read, or it is still absent). The response and the
 * domain event then describe exactly the change this request made, even when the SDK had to
 * send the write twice because the first answer was lost.
 *
 * A create or a delete changes the collection's itemCount in the same transaction (./stats.ts):
 * the count is exact by construction, whatever happens to the domain event afterwards (held
 * in memory until after the response, it is lost if the function dies; delivered copies get
 * new envelope ids).
 */
import { GetCommand, QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { dynamo } from '../aws-clients.ts';
import { batchGetAll } from '../batch-get.ts';
import { mapBounded } from '../bounded.ts';
import { isConditionFailure } from '../aws-errors.ts';
import { config } from '../config.ts';
import { conflict, notFound, preconditionFailed } from '../http/errors.ts';
import { transactWrite } from '../imports/transact.ts';
import { RETRY_POLICIES } from '../retry.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { itemCountUpdate } from './stats.ts';
import { toItem, toItemRecord, type Item } from './item.ts';
import { collectionPartition, collectionPartitions, ITEM_PREFIX, itemPartition, itemSortKey, SORT_INDEXES, STATS_SORT_KEY, timeSortKey, type SortField } from './keys.ts';
import { forgetCollectionShards, readCollectionShards, shardsForWrite, type CollectionShards } from './shards.ts';

export interface ItemAddress {
  tenant: string;
  collection: string;
  id: string;
}

function keyOf(address: ItemAddress, shards: number) {
  return { pk: itemPartition(address.tenant, address.collection, address.id, shards), sk: itemSortKey(address.id) };
}

/** One GetItem on the item's shard; a collection without a STATS item was never written: no item, no further read. */
export async function getItem(address: ItemAddress): Promise<Item | undefined> {
  const shards = await readCollectionShards(address.tenant, address.collection);
  return shards ? readItem(address, shards.shards) : undefined;
}

async function readItem(address: ItemAddress, shards: number): Promise<Item | undefined> {
  const { Item: record } = await dynamo().send(new GetCommand({ TableName: config.dataTable(), Key: keyOf(address, shards), ConsistentRead: true }));
  return record ? toItem(record) : undefined;
}

/**
 * Writes `data` as the item's next version, on the condition that `current` (what was read;
 * undefined: no item) is still what is stored. Creates keep nothing; replacements keep
 * createdAt. The condition failing means someone wrote in between (isConditionFailure).
 */
async function writeNextVersion(address: ItemAddress, shards: CollectionShards, current: Item | undefined, data: Record<string, unknown>): Promise<Item> {
  const now = new Date().toISOString();
  if (!current) {
    const item: Item = { collection: address.collection, id: address.id, data, version: 1, createdAt: now, updatedAt: now };
    await transactWrite([
      { Put: { TableName: config.dataTable(), Item: toItemRecord(address.tenant, item, shards.shards), ConditionExpression: 'attribute_not_exists(pk)' } },
      // Records the collection's shard count on its first write; refuses if another first write recorded another.
      itemCountUpdate(address.tenant, address.collection, 1, shards),
    ]);
    return item;
  }
  const item: Item = { ...current, data, version: current.version + 1, updatedAt: now };
  await transactWrite([
    {
      Update: {
        TableName: config.dataTable(),
        Key: keyOf(address, shards.shards),
        UpdateExpression: 'SET #data = :data, #version = :next, updatedAt = :now, updatedSort = :updatedSort',
        ConditionExpression: '#version = :read',
        ExpressionAttributeNames: { '#data': 'data', '#version': 'version' },
        ExpressionAttributeValues: { ':data': data, ':next': item.version, ':now': now, ':updatedSort': timeSortKey(now, address.id), ':read': current.version },
      },
    },
  ]);
  return item;
}

/**
 * Read, decide, write until the write's condition holds: re-read and decide again when
 * someone wrote in between, unless the caller pinned a version with If-Match (then 412).
 * `decide` gets the current item (or undefined) and returns the new data, or throws.
 */
async function changeItem(
  address: ItemAddress,
  expectedVersion: number | undefined,
  decide: (current: Item | undefined) => Record<string, unknown>,
): Promise<{ item: Item; created: boolean }> {
  for (let attempt = 0; attempt < RETRY_POLICIES.optimisticWrite.attempts; attempt++) {
    const shards = await shardsForWrite(address.tenant, address.collection);
    const current = shards.state === 'new' ? undefined : await readItem(address, shards.shards);
    if (expectedVersion !== undefined && current?.version !== expectedVersion) {
      throw preconditionFailed(current ? `the item's version is ${current.version}, not ${expectedVersion}` : `the item's version is not ${expectedVersion}`);
    }
    const data = decide(current);
    try {
      return { item: await writeNextVersion(address, shards, current, data), created: !current };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      // Perhaps another first write recorded the collection's shard count meanwhile: read it again.
      forgetCollectionShards(address.tenant, address.collection);
      if (expectedVersion !== undefined) throw preconditionFailed(`the item changed; its version is no longer ${expectedVersion}`);
    }
  }
  throw conflict('the item is being changed by others; retry');
}

/**
 * Creates or replaces an item's data: the version counts up from 1, createdAt survives
 * replacement. `created` is true when no item was there before.
 */
export async function putItem(address: ItemAddress, data: Record<string, unknown>, expectedVersion?: number): Promise<{ item: Item; created: boolean }> {
  return changeItem(address, expectedVersion, () => data);
}

/**
 * Shallow-merges `patch` into the item's data (a null value removes the field, as in JSON
 * Merge Patch); `check` vets the merged data before anything is written.
 */
export async function patchItem(
  address: ItemAddress,
  patch: Record<string, unknown>,
  expectedVersion: number | undefined,
  check: (merged: Record<string, unknown>) => void,
): Promise<Item> {
  const { item } = await changeItem(address, expectedVersion, (current) => {
    if (!current) throw notFound(`no item ${address.id} in ${address.collection}`);
    const data: Record<string, unknown> = { ...current.data };
    for (const [field, value] of Object.entries(patch)) {
      if (value === null) delete data[field];
      else data[field] = value;
    }
    check(data);
    return data;
  });
  return item;
}

/** Deletes an item and returns it as it was; 404 when it is not there, 412 when If-Match names another version. */
export async function deleteItem(address: ItemAddress, expectedVersion?: number): Promise<Item> {
  for (let attempt = 0; attempt < RETRY_POLICIES.optimisticWrite.attempts; attempt++) {
    const shards = await readCollectionShards(address.tenant, address.collection);
    const current = shards ? await readItem(address, shards.shards) : undefined;
    if (!shards || !current) throw notFound(`no item ${address.id} in ${address.collection}`);
    if (expectedVersion !== undefined && current.version !== expectedVersion) throw preconditionFailed(`the item's version is ${current.version}, not ${expectedVersion}`);
    try {
      await transactWrite([
        {
          Delete: {
            TableName: config.dataTable(),
            Key: keyOf(address, shards.shards),
            ConditionExpression: '#version = :read',
            ExpressionAttributeNames: { '#version': 'version' },
            ExpressionAttributeValues: { ':read': current.version },
          },
        },
        itemCountUpdate(address.tenant, address.collection, -1, shards),
      ]);
      return current;
    } catch (error) {
      // Changed or deleted in between: look again (404, 412, or delete the newer version).
      if (!isConditionFailure(error)) throw error;
    }
  }
  throw conflict('the item is being changed by others; retry');
}

export interface ListOptions {
  limit: number;
  sort: SortField;
  order: 'asc' | 'desc';
  cursor?: string;
  /** Equality filters on top-level data fields; each value matches as text or as its JSON scalar. */
  filters: Record<string, string>;
  /** Items one call may read before it returns what it has (default MAX_ITEMS_EVALUATED). */
  maxEvaluated?: number;
}

/** Most items one list call reads while filters skip items, so a rare match cannot run it past its timeout. */
export const MAX_ITEMS_EVALUATED = 10_000;

/** Shard queries a list runs at once. */
const SHARD_QUERY_CONCURRENCY = 8;
/** About how many items a filtered list reads per round (spread over the shards), as it did with one partition. */
const FILTERED_ROUND_ITEMS = 100;

/** One partition key of the collection as the list reads it: what it returned and has not been merged yet, and where it stopped. */
interface ShardReader {
  pk: string;
  buffered: Record<string, unknown>[];
  /** The last key the shard's queries evaluated (filtered out or not): where its next query starts. */
  startKey?: Record<string, unknown>;
  exhausted: boolean;
  queries: number;
}

/**
 * One page of a collection, in the order of its sort across all its shards (./shards.ts).
 *
 * Each shard is queried lazily with a small Limit (its share of the page, plus one), and a
 * shard is queried again only when its buffered items run out before the page is full; the
 * shards' items are merged by their sort value, which is global (the id for id order,
 * `<timestamp>#<id>` for the time orders). So the cursor is one position, the last item
 * returned: each shard then continues strictly after it. A page is filled even when filters
 * skip items, reading one more item to know whether a next page exists, until the
 * collection ends or MAX_ITEMS_EVALUATED items were read; a page stopped by that budget
 * returns a cursor at the first position not yet read in every shard, so the next page
 * resumes exactly there.
 *
 * Sorted by id, the table itself is queried (filters run in DynamoDB). Sorted by time, the
 * index is queried: it projects keys only (a copy of every item, up to 400 KB, in each of
 * two indexes would make every write pay three times), so each round's keys are fetched
 * with BatchGetItem and the filters are applied here, with the same equality DynamoDB uses.
 */
export async function listItems(tenant: string, collection: string, options: ListOptions): Promise<{ items: Item[]; nextCursor: string | null; evaluated: number }> {
  const partition = collectionPartition(tenant, collection);
  const start = options.cursor ? decodeCursor(options.cursor, { partition, sort: options.sort, order: options.order }) : undefined;
  const shards = await readCollectionShards(tenant, collection);
  if (!shards) return { items: [], nextCursor: null, evaluated: 0 }; // never written
  const index = SORT_INDEXES[options.sort];
  const sortAttribute = index ? index.attribute : 'sk';
  const sortOf = (record: Record<string, unknown>) => String(record[sortAttribute]);
  const asc = options.order === 'asc';
  const before = (a: string, b: string) => (asc ? a < b : a > b);
  const after = start?.[sortAttribute];
  const filter = buildFilter(options.filters);
  const filtering = Object.keys(options.filters).length > 0;
  const keyCondition = after !== undefined ? `#pk = :pk AND #sort ${asc ? '>' : '<'} :after` : index ? '#pk = :pk' : '#pk = :pk AND begins_with(#sort, :itemPrefix)';
  const base: Omit<QueryCommandInput, 'ExpressionAttributeValues'> & { ExpressionAttributeValues: Record<string, unknown> } = {
    TableName: config.dataTable(),
    ...(index ? { IndexName: index.indexName } : {}),
    KeyConditionExpression: keyCondition,
    ExpressionAttributeNames: { '#pk': 'pk', ...(keyCondition.includes('#sort') ? { '#sort': sortAttribute } : {}), ...(index ? {} : filter.names) },
    ExpressionAttributeValues: { ...(after !== undefined ? { ':after': after } : index ? {} : { ':itemPrefix': ITEM_PREFIX }), ...(index ? {} : filter.values) },
    ...(!index && filter.expression ? { FilterExpression: filter.expression } : {}),
    ScanIndexForward: asc,
    // Strongly consistent reads are only possible on the table.
    ...(index ? {} : { ConsistentRead: true }),
  };

  const readers: ShardReader[] = collectionPartitions(tenant, collection, shards.shards).map((pk) => ({ pk, buffered: [], exhausted: false, queries: 0 }));
  const matched: Record<string, unknown>[] = [];
  const budget = options.maxEvaluated ?? MAX_ITEMS_EVALUATED;
  let evaluated = 0;

  /** Queries each reader once more (a few at a time) and buffers what it returned, with the items for index keys. */
  const refill = async (stalled: ShardReader[]) => {
    const wanted = options.limit + 1 - matched.length;
    const share = Math.ceil(wanted / shards.shards) + 1;
    const budgetLeft = budget - evaluated;
    const pages = await mapBounded(stalled, SHARD_QUERY_CONCURRENCY, async (reader) => {
      // A shard that needs reading again holds more than its share: ask it for twice as much each time.
      const grown = Math.max(share, filtering ? Math.ceil(FILTERED_ROUND_ITEMS / shards.shards) : 0) * 2 ** reader.queries;
      const limit = Math.max(1, Math.min(grown, filtering ? 1000 : wanted, Math.ceil(budgetLeft / stalled.length)));
      reader.queries++;
      const { Items = [], LastEvaluatedKey, ScannedCount = 0 } = await dynamo().send(
        new QueryCommand({ ...base, ExpressionAttributeValues: { ...base.ExpressionAttributeValues, ':pk': reader.pk }, Limit: limit, ...(reader.startKey ? { ExclusiveStartKey: reader.startKey } : {}) }),
      );
      evaluated += ScannedCount;
      // Past the last item, ascending from a cursor, the table holds the collection's STATS record: the shard ends there.
      const items = Items.filter((record) => String(record.sk).startsWith(ITEM_PREFIX));
      const stillItems = LastEvaluatedKey !== undefined && String(LastEvaluatedKey.sk).startsWith(ITEM_PREFIX) && items.length === Items.length;
      reader.startKey = stillItems ? LastEvaluatedKey : undefined;
      reader.exhausted = !stillItems;
      return items;
    });
    const records = index ? await withItems(pages.flat(), index.attribute) : pages.flat();
    const byReader = new Map(stalled.map((reader) => [reader.pk, reader]));
    for (const record of records) byReader.get(String(record.pk))!.buffered.push(record);
  };

  let budgetSpent = false;
  while (matched.length <= options.limit) {
    const stalled = readers.filter((reader) => reader.buffered.length === 0 && !reader.exhausted);
    if (stalled.length > 0 && evaluated < budget) {
      await refill(stalled);
      continue;
    }
    budgetSpent = stalled.length > 0;
    // The next item in the list's order: the earliest head among the shards' buffers.
    let next: ShardReader | undefined;
    for (const reader of readers) if (reader.buffered.length > 0 && (!next || before(sortOf(reader.buffered[0]!), sortOf(next.buffered[0]!)))) next = reader;
    if (!next) break;
    // Out of budget: a shard not read that far might hold an earlier item.
    if (budgetSpent && stalled.some((reader) => !before(sortOf(next.buffered[0]!), sortOf(reader.startKey!)))) break;
    const record = next.buffered.shift()!;
    if (index && filtering && !matchesFilters(record, options.filters)) continue;
    matched.push(record);
  }

  const page = matched.slice(0, options.limit);
  let position: Record<string, string> | undefined;
  if (matched.length > options.limit) position = positionOf(page[page.length - 1]!, sortAttribute, partition);
  else if (budgetSpent) {
    // The earliest place a shard stopped reading: everything before it in every shard was merged.
    const frontiers = readers.filter((reader) => reader.buffered.length === 0 && !reader.exhausted).map((reader) => reader.startKey!);
    const earliest = frontiers.reduce((a, b) => (before(sortOf(b), sortOf(a)) ? b : a));
    position = positionOf(earliest, sortAttribute, partition);
  }
  return {
    items: page.map(toItem),
    nextCursor: position ? encodeCursor({ sort: options.sort, order: options.order, key: position }) : null,
    evaluated,
  };
}

/** A cursor's key: the collection (not the shard: the cursor continues in every shard) and the item's sort values. */
function positionOf(record: Record<string, unknown>, sortAttribute: string, partition: string): Record<string, string> {
  return { pk: partition, sk: String(record.sk), ...(sortAttribute === 'sk' ? {} : { [sortAttribute]: String(record[sortAttribute]) }) };
}


/**
 * The items behind a page of index keys, in the index's order (BatchGetItem). An item
 * deleted since the index was read is left out; the index sort key is kept for the cursor.
 */
async function withItems(keys: ReadonlyArray<Record<string, unknown>>, indexAttribute: string): Promise<Record<string, unknown>[]> {
  if (keys.length === 0) return [];
  const records = await batchGetAll(
    config.dataTable(),
    keys.map((key) => ({ pk: String(key.pk), sk: String(key.sk) })),
    { expression: 'pk, sk, #collection, #id, #data, #version, createdAt, updatedAt', names: { '#collection': 'collection', '#id': 'id', '#data': 'data', '#version': 'version' } },
  );
  const bySortKey = new Map(records.map((record) => [String(record.sk), record]));
  return keys.flatMap((key) => {
    const record = bySortKey.get(String(key.sk));
    return record ? [{ ...record, [indexAttribute]: key[indexAttribute] }] : [];
  });
}

/** The filters of buildFilter, applied to a fetched item: a top-level data field equal to one of the value's readings. */
function matchesFilters(record: Record<string, unknown>, filters: Record<string, string>): boolean {
  const data = (record.data ?? {}) as Record<string, unknown>;
  return Object.entries(filters).every(([field, raw]) => Object.hasOwn(data, field) && scalarReadings(raw).some((reading) => reading === data[field]));
}

/** Field names and values travel as expression placeholders: no expression injection. */
function buildFilter(filters: Record<string, string>): { expression?: string; names: Record<string, string>; values: Record<string, unknown> } {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const clauses = Object.entries(filters).map(([field, raw], i) => {
    names['#data'] = 'data';
    names[`#f${i}`] = field;
    const candidates = scalarReadings(raw);
    const placeholders = candidates.map((candidate, j) => {
      values[`:f${i}v${j}`] = candidate;
      return `:f${i}v${j}`;
    });
    return `#data.#f${i} IN (${placeholders.join(', ')})`;
  });
  return clauses.length > 0 ? { expression: clauses.join(' AND '), names, values } : { names, values };
}

/** `filter.n=3` matches 3 and "3"; `true`/`false`/`null` match the JSON scalar too. */
export function scalarReadings(raw: string): unknown[] {
  const readings: unknown[] = [raw];
  if (/^-?(0|[1-9]\d{0,15})(\.\d{1,15})?$/.test(raw)) readings.push(Number(raw));
  else if (raw === 'true' || raw === 'false') readings.push(raw === 'true');
  else if (raw === 'null') readings.push(null);
  return readings;
}

export interface CollectionStats {
  collection: string;
  itemCount: number;
  lastWriteAt: string | null;
}

export async function getCollectionStats(tenant: string, collection: string): Promise<CollectionStats> {
  const { Item: record } = await dynamo().send(
    new GetCommand({ TableName: config.dataTable(), Key: { pk: collectionPartition(tenant, collection), sk: STATS_SORT_KEY } }),
  );
  return { collection, itemCount: Number(record?.itemCount ?? 0), lastWriteAt: (record?.lastWriteAt as string | undefined) ?? null };
}
