/**
 * How many partition keys a collection's items are spread over (./keys.ts): fixed at the
 * collection's first write and recorded on its STATS item as `itemShards`, so every later
 * read and write finds each item where it was written. New collections take the deployment's
 * ITEM_SHARDS (config.itemShards); a STATS item without `itemShards` belongs to a collection
 * written before sharding, whose items all live under shard 0: it counts as 1 shard, for
 * ever (nothing ever records a count on it). Changing ITEM_SHARDS therefore affects new
 * collections only.
 *
 * Recording is conditional (itemCountUpdate in ./stats.ts, reserveImportShards below), so
 * two first writes deciding different counts cannot both succeed. Since a recorded count
 * never changes, a container caches it after one read.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { dynamo } from '../aws-clients.ts';
import { config } from '../config.ts';
import { collectionPartition, STATS_SORT_KEY } from './keys.ts';

/**
 * A collection's shard count and how it was learnt: `new` (no STATS item yet: the count a
 * first write will record), `legacy` (STATS without itemShards: 1) or `recorded`.
 */
export interface CollectionShards {
  shards: number;
  state: 'new' | 'legacy' | 'recorded';
}

/** Recorded and legacy counts never change; bounded so a container serving many collections does not grow without end. */
const known = new Map<string, CollectionShards>();
const MAX_CACHED = 10_000;
const cacheKey = (tenant: string, collection: string) => `${config.dataTable()}\u0000${tenant}\u0000${collection}`;

function remember(tenant: string, collection: string, shards: CollectionShards): CollectionShards {
  if (known.size >= MAX_CACHED) known.clear();
  known.set(cacheKey(tenant, collection), shards);
  return shards;
}

/** Forgets what a container knows (a condition on the count failed; tests). */
export function forgetCollectionShards(tenant?: string, collection?: string): void {
  if (tenant === undefined || collection === undefined) known.clear();
  else known.delete(cacheKey(tenant, collection));
}

/** The collection's recorded (or legacy) count; undefined when it has no STATS item, i.e. was never written. */
export async function readCollectionShards(tenant: string, collection: string): Promise<CollectionShards | undefined> {
  const cached = known.get(cacheKey(tenant, collection));
  if (cached) return cached;
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: config.dataTable(), Key: { pk: collectionPartition(tenant, collection), sk: STATS_SORT_KEY }, ProjectionExpression: 'pk, itemShards', ConsistentRead: true }),
  );
  if (!Item) return undefined;
  return remember(tenant, collection, Item.itemShards === undefined ? { shards: 1, state: 'legacy' } : { shards: Number(Item.itemShards), state: 'recorded' });
}

/** The count a write uses: the recorded one, or the deployment's for a collection's first write. */
export async function shardsForWrite(tenant: string, collection: string): Promise<CollectionShards> {
  return (await readCollectionShards(tenant, collection)) ?? { shards: config.itemShards(), state: 'new' };
}

/**
 * The condition (and SET clause) a STATS update in the same transaction as an item write
 * carries, so the item lands where the recorded count says: a first write records its count
 * only while there is no STATS item, a later one only if the count is still the one it used.
 */
export function shardsCondition(shards: CollectionShards): { condition: string; set?: string; values: Record<string, unknown> } {
  switch (shards.state) {
    case 'new':
      return { condition: 'attribute_not_exists(pk)', set: 'itemShards = :itemShards', values: { ':itemShards': shards.shards } };
    case 'legacy':
      return { condition: 'attribute_exists(pk) AND attribute_not_exists(itemShards)', values: {} };
    case 'recorded':
      return { condition: 'itemShards = :itemShards', values: { ':itemShards': shards.shards } };
  }
}

/**
 * Fixes the collection's count when an import is created (before any of its items is
 * written): records the deployment's count unless one is there, and returns the count that
 * holds. A legacy collection (STATS without a count) keeps 1.
 */
export function reserveImportShards(tenant: string, collection: string): Promise<number> {
  return settleImportShards(tenant, collection, config.itemShards());
}

/**
 * The count for an import message queued before item shards existed (it carries none): its
 * job recorded nothing, so the collection may still have no STATS item. Creating one without
 * a count marks the collection legacy (1 shard, where the job's earlier batches wrote), so a
 * PUT arriving later cannot record the deployment's count and hide those items; if a write
 * recorded a count first, that count holds and is returned.
 */
export function legacyImportShards(tenant: string, collection: string): Promise<number> {
  return settleImportShards(tenant, collection, undefined);
}

/**
 * Makes sure the collection has a STATS item, recording `proposed` on it unless a count is
 * there or the collection is legacy (proposed undefined: records none), and returns the
 * count that holds.
 */
async function settleImportShards(tenant: string, collection: string, proposed: number | undefined): Promise<number> {
  const cached = known.get(cacheKey(tenant, collection));
  if (cached) return cached.shards;
  const names = { '#tenant': 'tenant', '#collection': 'collection' };
  const values = { ':tenant': tenant, ':collection': collection };
  try {
    const { Attributes } = await dynamo().send(
      new UpdateCommand({
        TableName: config.dataTable(),
        Key: { pk: collectionPartition(tenant, collection), sk: STATS_SORT_KEY },
        ...(proposed === undefined
          ? { UpdateExpression: 'SET #tenant = :tenant, #collection = :collection', ExpressionAttributeValues: values }
          : {
              UpdateExpression: 'SET itemShards = if_not_exists(itemShards, :itemShards), #tenant = :tenant, #collection = :collection',
              // A STATS item without a count is a legacy collection: it keeps 1.
              ConditionExpression: 'attribute_not_exists(pk) OR attribute_exists(itemShards)',
              ExpressionAttributeValues: { ...values, ':itemShards': proposed },
            }),
        ExpressionAttributeNames: names,
        // ALL_NEW, not UPDATED_NEW: an attribute if_not_exists left as it was need not be among the "updated" ones.
        ReturnValues: 'ALL_NEW',
      }),
    );
    const recorded = Attributes?.itemShards;
    return remember(tenant, collection, Number.isInteger(recorded) ? { shards: recorded as number, state: 'recorded' } : { shards: 1, state: 'legacy' }).shards;
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    return remember(tenant, collection, { shards: 1, state: 'legacy' }).shards;
  }
}
