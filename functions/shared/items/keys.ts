/**
 * Single-table keys for the data table. A tenant's collection is one partition, so a query
 * can never cross tenants: the tenant is part of every key we build. Names are restricted
 * to [A-Za-z0-9_.-], so the `#` separators are unambiguous.
 */

export const ITEM_PREFIX = 'ITEM#';
export const STATS_SORT_KEY = 'STATS';

export function collectionPartition(tenant: string, collection: string): string {
  return `TENANT#${tenant}#COLLECTION#${collection}`;
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
