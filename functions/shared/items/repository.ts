/** Reads and writes items in the data table, always within one tenant's collection. */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { dynamo } from '../aws-clients.ts';
import { config } from '../config.ts';
import { conflict, notFound, preconditionFailed } from '../http/errors.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { toItem, type Item } from './item.ts';
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
 * Creates or replaces an item's data in one conditional update: the version counts up from
 * 1, createdAt survives replacement. `created` is true when no item was there before.
 */
export async function putItem(address: ItemAddress, data: Record<string, unknown>, expectedVersion?: number): Promise<{ item: Item; created: boolean }> {
  const now = new Date().toISOString();
  try {
    const { Attributes } = await dynamo().send(
      new UpdateCommand({
        TableName: config.dataTable(),
        Key: keyOf(address),
        UpdateExpression:
          'SET #data = :data, #version = if_not_exists(#version, :zero) + :one, createdAt = if_not_exists(createdAt, :now), ' +
          'createdSort = if_not_exists(createdSort, :createdSort), updatedAt = :now, updatedSort = :updatedSort, ' +
          'tenant = :tenant, #collection = :collection, #id = :id',
        ...(expectedVersion !== undefined ? { ConditionExpression: '#version = :expected' } : {}),
        ExpressionAttributeNames: { '#data': 'data', '#version': 'version', '#collection': 'collection', '#id': 'id' },
        ExpressionAttributeValues: {
          ':data': data,
          ':zero': 0,
          ':one': 1,
          ':now': now,
          ':createdSort': timeSortKey(now, address.id),
          ':updatedSort': timeSortKey(now, address.id),
          ':tenant': address.tenant,
          ':collection': address.collection,
          ':id': address.id,
          ...(expectedVersion !== undefined ? { ':expected': expectedVersion } : {}),
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    const item = toItem(Attributes ?? {});
    return { item, created: item.version === 1 };
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) throw preconditionFailed(`the item's version is not ${expectedVersion}`);
    throw error;
  }
}

/**
 * Shallow-merges `patch` into the item's data (a null value removes the field, as in JSON
 * Merge Patch). Read, merge, write back only if nobody wrote in between; retried a few
 * times on a race unless the caller pinned a version with If-Match.
 */
export async function patchItem(
  address: ItemAddress,
  patch: Record<string, unknown>,
  expectedVersion: number | undefined,
  check: (merged: Record<string, unknown>) => void,
): Promise<Item> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const current = await getItem(address);
    if (!current) throw notFound(`no item ${address.id} in ${address.collection}`);
    if (expectedVersion !== undefined && current.version !== expectedVersion) throw preconditionFailed(`the item's version is ${current.version}, not ${expectedVersion}`);
    const data: Record<string, unknown> = { ...current.data };
    for (const [field, value] of Object.entries(patch)) {
      if (value === null) delete data[field];
      else data[field] = value;
    }
    check(data);
    const updatedAt = new Date().toISOString();
    const next: Item = { ...current, data, version: current.version + 1, updatedAt };
    try {
      await dynamo().send(
        new PutCommand({
          TableName: config.dataTable(),
          Item: { ...keyOf(address), tenant: address.tenant, ...next, createdSort: timeSortKey(next.createdAt, next.id), updatedSort: timeSortKey(updatedAt, next.id) },
          ConditionExpression: '#version = :read',
          ExpressionAttributeNames: { '#version': 'version' },
          ExpressionAttributeValues: { ':read': current.version },
        }),
      );
      return next;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      if (expectedVersion !== undefined) throw preconditionFailed(`the item changed; its version is no longer ${expectedVersion}`);
    }
  }
  throw conflict('the item is being changed by others; retry');
}

/** Deletes an item; 404 when it is not there, 412 when If-Match names another version. */
export async function deleteItem(address: ItemAddress, expectedVersion?: number): Promise<Item> {
  try {
    const { Attributes } = await dynamo().send(
      new DeleteCommand({
        TableName: config.dataTable(),
        Key: keyOf(address),
        ConditionExpression: expectedVersion === undefined ? 'attribute_exists(pk)' : 'attribute_exists(pk) AND #version = :expected',
        ...(expectedVersion === undefined ? {} : { ExpressionAttributeNames: { '#version': 'version' }, ExpressionAttributeValues: { ':expected': expectedVersion } }),
        ReturnValues: 'ALL_OLD',
      }),
    );
    return toItem(Attributes ?? {});
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    const current = await getItem(address);
    if (!current) throw notFound(`no item ${address.id} in ${address.collection}`);
    throw preconditionFailed(`the item's version is ${current.version}, not ${expectedVersion}`);
  }
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
 */
export async function listItems(tenant: string, collection: string, options: ListOptions): Promise<{ items: Item[]; nextCursor: string | null; evaluated: number }> {
  const partition = collectionPartition(tenant, collection);
  const index = SORT_INDEXES[options.sort];
  const filter = buildFilter(options.filters);
  const base: QueryCommandInput = {
    TableName: config.dataTable(),
    ...(index ? { IndexName: index.indexName } : {}),
    KeyConditionExpression: index ? '#pk = :pk' : '#pk = :pk AND begins_with(#sk, :itemPrefix)',
    ExpressionAttributeNames: { '#pk': 'pk', ...(index ? {} : { '#sk': 'sk' }), ...filter.names },
    ExpressionAttributeValues: { ':pk': partition, ...(index ? {} : { ':itemPrefix': ITEM_PREFIX }), ...filter.values },
    ...(filter.expression ? { FilterExpression: filter.expression } : {}),
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
      new QueryCommand({ ...base, Limit: filter.expression ? Math.max(wanted, 100) : wanted, ...(startKey ? { ExclusiveStartKey: startKey } : {}) }),
    );
    evaluated += ScannedCount;
    for (const record of Items) {
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
