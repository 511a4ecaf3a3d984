/**
 * Per-collection statistics (pk = the collection's partition, sk = STATS): `itemCount` and
 * `lastWriteAt`, read by GET /collections/{collection}/stats.
 *
 * Kept exact under at-least-once delivery:
 * - item events (ItemCreated +1, ItemDeleted -1) are applied in a transaction with a
 *   conditional per-event marker (`EVENT#<event id>`, expires via `expiresAt`), so a
 *   redelivered event changes nothing;
 * - imports add the number of items they *created* (not replaced) in the same transaction
 *   that marks their batch done (see functions/import), so they are counted exactly once;
 * - lastWriteAt only moves forward (a conditional max), which is idempotent by itself.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { transactWrite } from '../imports/transact.ts';
import { dynamo } from '../aws-clients.ts';
import { config } from '../config.ts';
import { collectionPartition, STATS_SORT_KEY } from './keys.ts';

/** Event markers outlive any redelivery: SQS keeps a message 4 days, its DLQ 14. */
export const EVENT_MARKER_TTL_SECONDS = 15 * 24 * 3600;

export function statsKey(tenant: string, collection: string) {
  return { pk: collectionPartition(tenant, collection), sk: STATS_SORT_KEY };
}

/** The Update that adds `delta` to a collection's itemCount; for use inside a transaction. */
export function itemCountUpdate(tenant: string, collection: string, delta: number) {
  return {
    Update: {
      TableName: config.dataTable(),
      Key: statsKey(tenant, collection),
      UpdateExpression: 'ADD itemCount :delta SET #tenant = :tenant, #collection = :collection',
      ExpressionAttributeNames: { '#collection': 'collection', '#tenant': 'tenant' },
      ExpressionAttributeValues: { ':delta': delta, ':tenant': tenant, ':collection': collection },
    },
  };
}

/** Moves lastWriteAt forward to `at` (never back). */
export async function advanceLastWriteAt(tenant: string, collection: string, at: string): Promise<void> {
  try {
    await dynamo().send(
      new UpdateCommand({
        TableName: config.dataTable(),
        Key: statsKey(tenant, collection),
        UpdateExpression: 'SET lastWriteAt = :at, #tenant = :tenant, #collection = :collection',
        ConditionExpression: 'attribute_not_exists(lastWriteAt) OR lastWriteAt < :at',
        ExpressionAttributeNames: { '#collection': 'collection', '#tenant': 'tenant' },
        ExpressionAttributeValues: { ':at': at, ':tenant': tenant, ':collection': collection },
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
}

/**
 * Applies one item event to the stats at most once: `applied`, or `duplicate` when this
 * event id was applied before.
 */
export async function applyItemEvent(event: { eventId: string; tenant: string; collection: string; delta: number; at: string }): Promise<'applied' | 'duplicate'> {
  let outcome: 'applied' | 'duplicate' = 'applied';
  if (event.delta !== 0) {
    const marker = { pk: `EVENT#${event.eventId}`, sk: 'STATS' };
    try {
      await transactWrite([
            {
              Put: {
                TableName: config.dataTable(),
                Item: { ...marker, appliedAt: new Date().toISOString(), expiresAt: Math.floor(Date.now() / 1000) + EVENT_MARKER_TTL_SECONDS },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            itemCountUpdate(event.tenant, event.collection, event.delta),
      ]);
    } catch (error) {
      if ((error as Error).name !== 'TransactionCanceledException') throw error;
      // Cancelled for the marker's condition (counted before) or for something else: look.
      const { Item } = await dynamo().send(new GetCommand({ TableName: config.dataTable(), Key: marker, ConsistentRead: true }));
      if (!Item) throw error;
      outcome = 'duplicate';
    }
  }
  await advanceLastWriteAt(event.tenant, event.collection, event.at);
  return outcome;
}
