/**
 * The worker's per-batch record, which makes a queue message idempotent:
 *
 * 1. PLANNED: before writing, the worker reads which items exist and decides each item's
 *    version (existing + 1, or 1), createdAt (kept, or now) and whether it is new; the plan is
 *    stored conditionally, so every later delivery of the message writes exactly the same
 *    records and counts the same new items, even after a crash half-way through.
 * 2. DONE: one transaction marks the batch done, adds its counts to the job (processed,
 *    succeeded, failed, created, batchesDone), adds the new items to the collection's
 *    itemCount and records the failed items. A delivery that finds the batch DONE does nothing.
 */
import { BatchGetCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { dynamo } from '../shared/aws-clients.ts';
import { config } from '../shared/config.ts';
import { BATCH_RETENTION_SECONDS, batchSortKey, failureSortKey, JOB_SORT_KEY, jobPartition } from '../shared/imports/jobs.ts';
import type { ImportMessage } from '../shared/imports/messages.ts';
import { transactWrite } from '../shared/imports/transact.ts';
import { collectionPartition, itemSortKey } from '../shared/items/keys.ts';
import { itemCountUpdate } from '../shared/items/stats.ts';

export interface PlannedItem {
  /** The version the import writes. */
  version: number;
  createdAt: string;
  /** No item had this id before. */
  isNew: boolean;
}

export interface BatchPlan {
  at: string;
  items: Record<string, PlannedItem>;
}

export type BatchState = { status: 'PLANNED'; plan: BatchPlan } | { status: 'DONE' };

const keyOf = (message: ImportMessage) => ({ pk: jobPartition(message.tenant, message.importId), sk: batchSortKey(message.batchId) });

export async function getBatch(message: ImportMessage): Promise<BatchState | undefined> {
  const { Item } = await dynamo().send(new GetCommand({ TableName: config.dataTable(), Key: keyOf(message), ConsistentRead: true }));
  if (!Item) return undefined;
  return Item.status === 'DONE' ? { status: 'DONE' } : { status: 'PLANNED', plan: Item.plan as BatchPlan };
}

/** Reads the batch's items as they are now and decides what the import writes. */
export async function makePlan(message: ImportMessage, now = new Date().toISOString()): Promise<BatchPlan> {
  const pk = collectionPartition(message.tenant, message.collection);
  const existing = new Map<string, { version: number; createdAt: string }>();
  let keys: Array<Record<string, string>> = message.items.map((item) => ({ pk, sk: itemSortKey(item.id) }));
  for (let attempt = 0; keys.length > 0; attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 25 * 2 ** attempt)));
    if (attempt >= 8) throw new Error('BatchGetItem kept returning unprocessed keys');
    const result = await dynamo().send(
      new BatchGetCommand({
        RequestItems: {
          [config.dataTable()]: { Keys: keys, ConsistentRead: true, ProjectionExpression: '#id, #version, createdAt', ExpressionAttributeNames: { '#id': 'id', '#version': 'version' } },
        },
      }),
    );
    for (const record of result.Responses?.[config.dataTable()] ?? []) {
      existing.set(String(record.id), { version: Number(record.version), createdAt: String(record.createdAt) });
    }
    keys = (result.UnprocessedKeys?.[config.dataTable()]?.Keys ?? []) as Array<Record<string, string>>;
  }
  const items: Record<string, PlannedItem> = {};
  for (const item of message.items) {
    const before = existing.get(item.id);
    items[item.id] = before ? { version: before.version + 1, createdAt: before.createdAt, isNew: false } : { version: 1, createdAt: now, isNew: true };
  }
  return { at: now, items };
}

/** Stores the plan unless one is there already; returns the plan that counts, or DONE. */
export async function savePlan(message: ImportMessage, plan: BatchPlan): Promise<BatchState> {
  try {
    await dynamo().send(
      new PutCommand({
        TableName: config.dataTable(),
        Item: { ...keyOf(message), status: 'PLANNED', plan, expiresAt: Math.floor(Date.now() / 1000) + BATCH_RETENTION_SECONDS },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return { status: 'PLANNED', plan };
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    const current = await getBatch(message);
    if (!current) throw error;
    return current;
  }
}

export interface BatchOutcome {
  succeeded: number;
  created: number;
  failures: Array<{ id: string; reason: string }>;
}

/** Marks the batch DONE with its counts (see above). `duplicate` when another delivery did it first. */
export async function finishBatch(message: ImportMessage, outcome: BatchOutcome): Promise<'done' | 'duplicate'> {
  const table = config.dataTable();
  const now = new Date().toISOString();
  const jobPk = jobPartition(message.tenant, message.importId);
  const indexOf = new Map(message.items.map((item, index) => [item.id, index]));
  try {
    await transactWrite([
      {
        Update: {
          TableName: table,
          Key: keyOf(message),
          UpdateExpression: 'SET #status = :done, #succeeded = :succeeded, #failed = :failed, #created = :created, doneAt = :now',
          ConditionExpression: '#status = :planned',
          ExpressionAttributeNames: { '#status': 'status', '#succeeded': 'succeeded', '#failed': 'failed', '#created': 'created' },
          ExpressionAttributeValues: { ':done': 'DONE', ':planned': 'PLANNED', ':succeeded': outcome.succeeded, ':failed': outcome.failures.length, ':created': outcome.created, ':now': now },
        },
      },
      {
        Update: {
          TableName: table,
          Key: { pk: jobPk, sk: JOB_SORT_KEY },
          UpdateExpression: 'ADD #processed :processed, #succeeded :succeeded, #failed :failed, #created :created, batchesDone :one SET updatedAt = :now',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#processed': 'processed', '#succeeded': 'succeeded', '#failed': 'failed', '#created': 'created' },
          ExpressionAttributeValues: {
            ':processed': outcome.succeeded + outcome.failures.length,
            ':succeeded': outcome.succeeded,
            ':failed': outcome.failures.length,
            ':created': outcome.created,
            ':one': 1,
            ':now': now,
          },
        },
      },
      ...(outcome.created > 0 ? [itemCountUpdate(message.tenant, message.collection, outcome.created)] : []),
      ...outcome.failures.map((failure) => ({
        Put: {
          TableName: table,
          Item: {
            pk: jobPk,
            sk: failureSortKey(message.batchId, indexOf.get(failure.id) ?? 0),
            id: failure.id,
            batchId: message.batchId,
            reason: failure.reason,
            at: now,
            expiresAt: Math.floor(Date.now() / 1000) + 90 * 24 * 3600,
          },
        },
      })),
    ]);
    return 'done';
  } catch (error) {
    if ((error as Error).name !== 'TransactionCanceledException') throw error;
    if ((await getBatch(message))?.status === 'DONE') return 'duplicate';
    throw error;
  }
}
