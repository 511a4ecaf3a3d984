/**
 * Reading a collection's items straight from the data table, for checks that must not go
 * through the code under test: wherever the collection's recorded shard count puts them
 * (functions/shared/items/shards.ts; no STATS item: never written).
 */
import { GetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { collectionPartition, collectionPartitions, ITEM_PREFIX, itemPartition, itemSortKey, STATS_SORT_KEY } from '../../functions/shared/items/keys.ts';

/** The collection's recorded shard count (a STATS item without one: 1), or undefined when it has no STATS item. */
export async function recordedShards(dynamo: DynamoDBDocumentClient, table: string, tenant: string, collection: string): Promise<number | undefined> {
  const { Item } = await dynamo.send(new GetCommand({ TableName: table, Key: { pk: collectionPartition(tenant, collection), sk: STATS_SORT_KEY }, ConsistentRead: true }));
  return Item ? Number(Item.itemShards ?? 1) : undefined;
}

/** The stored record of one item, or undefined. */
export async function storedItem(dynamo: DynamoDBDocumentClient, table: string, tenant: string, collection: string, id: string): Promise<Record<string, unknown> | undefined> {
  const shards = await recordedShards(dynamo, table, tenant, collection);
  if (shards === undefined) return undefined;
  const { Item } = await dynamo.send(new GetCommand({ TableName: table, Key: { pk: itemPartition(tenant, collection, id, shards), sk: itemSortKey(id) }, ConsistentRead: true }));
  return Item;
}

/** Every stored item record of the collection, from all its shards. */
export async function storedItems(dynamo: DynamoDBDocumentClient, table: string, tenant: string, collection: string): Promise<Record<string, unknown>[]> {
  const shards = await recordedShards(dynamo, table, tenant, collection);
  if (shards === undefined) return [];
  const items: Record<string, unknown>[] = [];
  for (const pk of collectionPartitions(tenant, collection, shards)) {
    let start: Record<string, unknown> | undefined;
    do {
      const page = await dynamo.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :item)',
          ExpressionAttributeValues: { ':pk': pk, ':item': ITEM_PREFIX },
          ConsistentRead: true,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
  }
  return items;
}
