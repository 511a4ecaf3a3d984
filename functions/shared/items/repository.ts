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
import { isConditionFailure } from '../aws-errors.ts';
import { config } from '../config.ts';
import { conflict, notFound, preconditionFailed } from '../http/errors.ts';
import { transactWrite } from '../imports/transact.ts';
import { RETRY_POLICIES } from '../retry.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { itemCountUpdate } from './stats.ts';
import { toItem, toItemRecord, type Item } from './item.ts';
import { collectionPartition, ITEM_PREFIX, itemSortKey, SORT_INDEXES, STATS_SORT_KEY, timeSortKey, type SortField } from './keys.ts';

export interface ItemAddress {
  tenant: string;
  collection: string;
  id: string;
}

function keyOf(address: ItemAddress) {
  return { pk: collectionPartition(address.tenant, address.collection), sk: itemSortKey(address.id) };
}

export async function getItem(address: ItemAddress): Promise<Item | undefined> {
  const { Item: record } = await dynamo().send(new GetCommand({ TableName: config.dataTable(), Key: keyOf(address), ConsistentRead: true }));
  return record ? toItem(record) : undefined;
}

/**
 * Writes `data` as the item's next version, on the condition that `current` (what was read;
 * undefined: no item) is still what is stored. Creates keep nothing; replacements keep
 * createdAt. The condition failing means someone wrote in between (isConditionFailure).
 */
async function writeNextVersion(address: ItemAddress, current: Item | undefined, data: Record<string, unknown>): Promise<Item> {
  const now = new Date().toISOString();
  if (!current) {
    const item: Item = { collection: address.collection, id: address.id, data, version: 1, createdAt: now, updatedAt: now };
    await transactWrite([
      { Put: { TableName: config.dataTable(), Item: toItemRecord(address.tenant, item), ConditionExpression: 'attribute_not_exists(pk)' } },
      itemCountUpdate(address.tenant, address.collection, 1),
    ]);
    return item;
  }
  const item: Item = { ...current, data, version: current.version + 1, updatedAt: now };
  await transactWrite([
    {
      Update: {
        TableName: config.dataTable(),
        Key: keyOf(address),
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
    const current = await getItem(address);
    if (expectedVersion !== undefined && current?.version !== expectedVersion) {
      throw preconditionFailed(current ? `the item's version is ${current.version}, not ${expectedVersion}` : `the item's version is not ${expectedVersion}`);
    }
    const data = decide(current);
    try {
      return { item: await writeNextVersion(address, current, data), created: !current };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
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
    const current = await getItem(address);
    if (!current) throw notFound(`no item ${address.id} in ${address.collection}`);
    if (expectedVersion !== undefined && current.version !== expectedVersion) throw preconditionFailed(`the item's version is ${current.version}, not ${expectedVersion}`);
    try {
      await transactWrite([
        {
          Delete: {
            TableName: config.dataTable(),
            Key: keyOf(address),
            ConditionExpression: '#version = :read',
            ExpressionAttributeNames: { '#version': 'version' },
            ExpressionAttributeValues: { ':read': current.version },
          },
        },
        itemCountUpdate(address.tenant, address.collection, -1),
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
}

/** Most items one list call reads while filters skip items, so a rare match cannot run it past its timeout. */
export const MAX_ITEMS_EVALUATED = 10_000;

/**
 * One page of a collection. The page is filled even when filters skip items: we keep
 * querying until `limit` items matched (reading one more to know whether a next page
 * exists) or the collection ends. The cursor is the key of the last item returned.
 *
 * Sorted by id, the table itself is queried (filters run in DynamoDB). Sorted by time, the
 * index is queried: it projects keys only (a copy of every item, up to 400 KB, in each of
 * two indexes would make every write pay three times), so each page of keys is fetched
 * with BatchGetItem and the filters are applied here, with the same equality DynamoDB uses.
 */
export async function listItems(tenant: string, collection: string, options: ListOptions): Promise<{ items: Item[]; nextCursor: string | null; evaluated: number }> {
  const partition = collectionPartition(tenant, collection);
  const index = SORT_INDEXES[options.sort];
  const filter = buildFilter(options.filters);
  const filtering = Object.keys(options.filters).length > 0;
  const base: QueryCommandInput = {
    TableName: config.dataTable(),
    ...(index ? { IndexName: index.indexName } : {}),
    KeyConditionExpression: index ? '#pk = :pk' : '#pk = :pk AND begins_with(#sk, :itemPrefix)',
    ExpressionAttributeNames: { '#pk': 'pk', ...(index ? {} : { '#sk': 'sk', ...filter.names }) },
    ExpressionAttributeValues: { ':pk': partition, ...(index ? {} : { ':itemPrefix': ITEM_PREFIX, ...filter.values }) },
    ...(!index && filter.expression ? { FilterExpression: filter.expression } : {}),
    ScanIndexForward: options.order === 'asc',
    // Read one page without filters or with; strongly consistent reads are only possible on the table.
    ...(index ? {} : { ConsistentRead: true }),
  };
  const keyAttributes = index ? ['pk', 'sk', index.attribute] : ['pk', 'sk'];
  const keyOfRecord = (record: Record<string, unknown>) => Object.fromEntries(keyAttributes.map((name) => [name, String(record[name])]));

  const matched: Record<string, unknown>[] = [];
  let startKey: Record<string, string> | undefined = options.cursor ? decodeCursor(options.cursor, { partition, sort: options.sort, order: options.order }) : undefined;
  let evaluated = 0;
  let exhausted = false;
  while (matched.length <= options.limit && evaluated < MAX_ITEMS_EVALUATED) {
    const wanted = options.limit + 1 - matched.length;
    const { Items = [], LastEvaluatedKey, ScannedCount = 0 } = await dynamo().send(
      new QueryCommand({ ...base, Limit: filtering ? Math.max(wanted, 100) : wanted, ...(startKey ? { ExclusiveStartKey: startKey } : {}) }),
    );
    evaluated += ScannedCount;
    const records = index ? await withItems(Items, index.attribute) : Items;
    for (const record of records) {
      if (index && filtering && !matchesFilters(record, options.filters)) continue;
      matched.push(record);
      if (matched.length > options.limit) break;
    }
    if (matched.length > options.limit) break;
    if (!LastEvaluatedKey) {
      exhausted = true;
      break;
    }
    startKey = LastEvaluatedKey as Record<string, string>;
  }

  const page = matched.slice(0, options.limit);
  let nextKey: Record<string, string> | undefined;
  if (matched.length > options.limit) nextKey = keyOfRecord(page[page.length - 1]!);
  // The evaluation budget ran out before the page filled: continue from where we stopped.
  else if (!exhausted && startKey) nextKey = startKey;
  return {
    items: page.map(toItem),
    nextCursor: nextKey ? encodeCursor({ sort: options.sort, order: options.order, key: nextKey }) : null,
    evaluated,
  };
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
