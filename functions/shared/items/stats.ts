/**
 * Per-collection statistics (pk = the collection's partition, sk = STATS): `itemCount` and
 * `lastWriteAt`, read by GET /collections/{collection}/stats.
 *
 * Kept exact without relying on event delivery:
 * - an item created or deleted through the API changes itemCount (+1/-1) in the very
 *   transaction that creates or deletes it (./repository.ts), conditional on the item's
 *   state and idempotent by its token: no event, copy or crash can make it drift. (It used
 *   to count ItemCreated/ItemDeleted events, deduplicated by envelope id; but copies of an
 *   event get new envelope ids, and an event held in memory dies with its function.);
 * - an import adds the number of items it *created* (not replaced) once, when it finishes:
 *   one conditional update that also adds `<createdAt>|<importId>` to the record's
 *   `appliedImports` string set, and refuses if it is there already. Tags older than
 *   APPLIED_IMPORTS_RETENTION are pruned afterwards;
 * - lastWriteAt only moves forward (a conditional max), which is idempotent by itself: its
 *   condition failing on a resend is the no-op it should be, so it needs no token. It is
 *   advanced by the item events (any copy will do), so it may lag or miss a write whose
 *   event was lost; the count never does.
 *
 * The conditional writes are idempotent transactions (../imports/transact.ts): a resend after
 * a lost answer is recognised as the same write, so `applied` is reported once, not `duplicate`.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { transactWrite } from '../imports/transact.ts';
import { dynamo } from '../aws-clients.ts';
import { isConditionFailure } from '../aws-errors.ts';
import { config } from '../config.ts';
import { collectionPartition, STATS_SORT_KEY } from './keys.ts';
import { shardsCondition, type CollectionShards } from './shards.ts';

export function statsKey(tenant: string, collection: string) {
  return { pk: collectionPartition(tenant, collection), sk: STATS_SORT_KEY };
}

/**
 * The Update that adds `delta` to a collection's itemCount; for use inside the item's own
 * transaction. With `shards` (the count the item's key was made with) it also records that
 * count on a collection's first write, and refuses unless it is the collection's count.
 */
export function itemCountUpdate(tenant: string, collection: string, delta: number, shards?: CollectionShards) {
  const check = shards ? shardsCondition(shards) : undefined;
  return {
    Update: {
      TableName: config.dataTable(),
      Key: statsKey(tenant, collection),
      UpdateExpression: `ADD itemCount :delta SET #tenant = :tenant, #collection = :collection${check?.set ? `, ${check.set}` : ''}`,
      ...(check ? { ConditionExpression: check.condition } : {}),
      ExpressionAttributeNames: { '#collection': 'collection', '#tenant': 'tenant' },
      ExpressionAttributeValues: { ':delta': delta, ':tenant': tenant, ':collection': collection, ...check?.values },
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

/** How long an import's tag stays in `appliedImports`: far longer than any retry of its completion. */
export const APPLIED_IMPORTS_RETENTION_MS = 7 * 24 * 3600 * 1000;

/**
 * Adds an import's new items to the collection's itemCount, at most once per import
 * (`duplicate` when it was added before).
 */
export async function applyImportToStats(input: { tenant: string; collection: string; importId: string; importCreatedAt: string; created: number }): Promise<'applied' | 'duplicate'> {
  if (input.created === 0) return 'applied';
  const tag = `${input.importCreatedAt}|${input.importId}`;
  try {
    await transactWrite([
      {
        Update: {
          TableName: config.dataTable(),
          Key: statsKey(input.tenant, input.collection),
          UpdateExpression: 'ADD itemCount :created, appliedImports :tags SET #tenant = :tenant, #collection = :collection',
          ConditionExpression: 'NOT contains(appliedImports, :tag)',
          ExpressionAttributeNames: { '#collection': 'collection', '#tenant': 'tenant' },
          ExpressionAttributeValues: { ':created': input.created, ':tags': new Set([tag]), ':tag': tag, ':tenant': input.tenant, ':collection': input.collection },
        },
      },
    ]);
  } catch (error) {
    if (isConditionFailure(error)) return 'duplicate';
    throw error;
  }
  await pruneAppliedImports(input.tenant, input.collection).catch(() => undefined);
  return 'applied';
}

async function pruneAppliedImports(tenant: string, collection: string): Promise<void> {
  const { Item } = await dynamo().send(new GetCommand({ TableName: config.dataTable(), Key: statsKey(tenant, collection), ProjectionExpression: 'appliedImports' }));
  const tags = Item?.appliedImports instanceof Set ? [...(Item.appliedImports as Set<string>)] : [];
  const cutoff = new Date(Date.now() - APPLIED_IMPORTS_RETENTION_MS).toISOString();
  const old = tags.filter((tag) => tag.split('|')[0]! < cutoff);
  if (old.length === 0) return;
  await dynamo().send(
    new UpdateCommand({ TableName: config.dataTable(), Key: statsKey(tenant, collection), UpdateExpression: 'DELETE appliedImports :old', ExpressionAttributeValues: { ':old': new Set(old) } }),
  );
}
