/** An item as the API shows it, and as the data table stores it. */
import { dynamoItemSize, MAX_DYNAMO_ITEM_BYTES } from '../dynamo-size.ts';
import { payloadTooLarge } from '../http/errors.ts';
import { MAX_ITEM_SHARDS } from '../config.ts';
import { withShard } from '../shards.ts';
import { collectionPartition, itemPartition, itemSortKey, timeSortKey } from './keys.ts';

export interface Item {
  collection: string;
  id: string;
  data: Record<string, unknown>;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface ItemRecord extends Item {
  pk: string;
  sk: string;
  tenant: string;
  createdSort: string;
  updatedSort: string;
}

/** The stored record of `item` in a collection spread over `shards` partition keys (./shards.ts). */
export function toItemRecord(tenant: string, item: Item, shards: number): ItemRecord {
  return {
    pk: itemPartition(tenant, item.collection, item.id, shards),
    sk: itemSortKey(item.id),
    tenant,
    ...item,
    createdSort: timeSortKey(item.createdAt, item.id),
    updatedSort: timeSortKey(item.updatedAt, item.id),
  };
}

export function toItem(record: Record<string, unknown>): Item {
  return {
    collection: String(record.collection),
    id: String(record.id),
    data: (record.data ?? {}) as Record<string, unknown>,
    version: Number(record.version),
    createdAt: String(record.createdAt),
    updatedAt: String(record.updatedAt),
  };
}

/** The largest request body PUT/PATCH /items reads (JSON bytes); the stored item is checked by checkItemSize. */
export const MAX_ITEM_DATA_BYTES = 350 * 1024;

/** The largest version we expect to write; sizes are estimated with it so a later version never grows past the check. */
const LARGEST_VERSION = Number.MAX_SAFE_INTEGER;

/**
 * The size DynamoDB will count for the record holding `data` (keys, metadata and indexed
 * sort keys included), with the largest version and timestamp so the estimate is an upper bound.
 */
export function storedItemSize(tenant: string, address: { collection: string; id: string }, data: Record<string, unknown>): number {
  const at = '9999-12-31T23:59:59.999Z';
  const record = toItemRecord(tenant, { collection: address.collection, id: address.id, data, version: LARGEST_VERSION, createdAt: at, updatedAt: at }, 1);
  // The longest partition key the item could get: the highest shard's suffix.
  return dynamoItemSize({ ...record, pk: withShard(collectionPartition(tenant, address.collection), MAX_ITEM_SHARDS - 1) });
}

/** 413 with the figure when the item DynamoDB would store is over its 400 KB limit. */
export function checkItemSize(tenant: string, address: { collection: string; id: string }, data: Record<string, unknown>): void {
  const bytes = storedItemSize(tenant, address, data);
  if (bytes > MAX_DYNAMO_ITEM_BYTES) {
    throw payloadTooLarge(`the item would be ${bytes} bytes as DynamoDB counts them (names, values and list/map overheads); at most ${MAX_DYNAMO_ITEM_BYTES} are stored`);
  }
}
