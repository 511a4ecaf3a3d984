/**
 * Single-table keys for the data table. The tenant is part of every key we build, so a query
 * can never cross tenants. Names are restricted to [A-Za-z0-9_.-], so the `#` separators are
 * unambiguous.
 *
 * A collection's items are spread over `shards` partition keys (fixed per collection, recorded
 * on its STATS item: ./shards.ts), by a stable hash of the item id: shard 0 is
 * `TENANT#<t>#COLLECTION#<c>` (which also holds STATS), shard s > 0 is `...#<s>`. One
 * partition key takes about 1,000 write units a second (docs/SCALE.md); a collection written
 * with one shard (every collection before sharding) keeps all its items under shard 0.
 */
import { shardOf, withShard } from '../shards.ts';


export const ITEM_PREFIX = 'ITEM#';
export const STATS_SORT_KEY = 'STATS';

export function collectionPartition(tenant: string, collection: string): string {
  return `TENANT#${tenant}#COLLECTION#${collection}`;
}

/** The partition key of item `id` of a collection spread over `shards`. */
export function itemPartition(tenant: string, collection: string, id: string, shards: number): string {
  return withShard(collectionPartition(tenant, collection), shardOf(id, shards));
}

/** Every partition key holding items of a collection spread over `shards`. */
export function collectionPartitions(tenant: string, collection: string, shards: number): string[] {
  return Array.from({ length: shards }, (_, shard) => withShard(collectionPartition(tenant, collection), shard));
}

export function itemSortKey(id: string): string {
  return `${ITEM_PREFIX}${id}`;
}

/** Index sort keys: the timestamp, then the id so equal timestamps still order stably. */
export function timeSortKey(timestamp: string, id: string): string {
  return `${timestamp}#${id}`;
}

export const SORT_INDEXES = {
  id: undefined,
  createdAt: { indexName: 'byCreatedAt', attribute: 'createdSort' },
  updatedAt: { indexName: 'byUpdatedAt', attribute: 'updatedSort' },
} as const;
export type SortField = keyof typeof SORT_INDEXES;
