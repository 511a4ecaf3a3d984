/** An item as the API shows it, and as the data table stores it. */
import { collectionPartition, itemSortKey, timeSortKey } from './keys.ts';

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

export function toItemRecord(tenant: string, item: Item): ItemRecord {
  return {
    pk: collectionPartition(tenant, item.collection),
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

/** An item must fit DynamoDB's 400 KB item limit with room for its keys. */
export const MAX_ITEM_DATA_BYTES = 350 * 1024;
