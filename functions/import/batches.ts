/**
 * The worker's per-batch plan, which makes a redelivered message write exactly what the
 * first delivery wrote: before writing, the worker reads which items exist and decides
 * each item's version (existing + 1, or 1), createdAt (kept, or now) and whether it is new.
 * The plan is stored conditionally (first one wins), so every delivery of the message writes
 * the same records and counts the same new items, even after a crash half-way through.
 * Settling the batch (counting it) is one conditional update of its chunk: see
 * settleBatch in ../shared/imports/jobs.ts.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { dynamo } from '../shared/aws-clients.ts';
import { isConditionFailure } from '../shared/aws-errors.ts';
import { batchGetAll } from '../shared/batch-get.ts';
import { config } from '../shared/config.ts';
import { BATCH_RETENTION_SECONDS, batchSortKey, chunkSortKey, epochIn, failureSortKey, JOB_RETENTION_SECONDS, jobPartition } from '../shared/imports/jobs.ts';
import type { ImportMessage } from '../shared/imports/messages.ts';
import { transactWrite } from '../shared/imports/transact.ts';
import { itemPartition, itemSortKey } from '../shared/items/keys.ts';
import { shardOf, withShard } from '../shared/shards.ts';
import { legacyImportShards } from '../shared/items/shards.ts';

export interface PlannedItem {
  /** The version the import writes. */
  version: number;
  createdAt: string;
  /** No item had this id before. */
  isNew: boolean;
}

/**
 * Stored as a map on the batch's record. 98 items' plans (an id of ≤ 128 bytes, a version, a
 * createdAt and a flag each) stay under 20 KB, far from DynamoDB's 400 KB item limit.
 */
export interface BatchPlan {
  at: string;
  items: Record<string, PlannedItem>;
}

/** The shards the batch's plan records are spread over: the message's count (a message queued before item shards carries none: 1). */
const planShardsOf = (message: ImportMessage): number => message.itemShards ?? 1;

/** The collection's item shards the message's items are written to (../shared/items/shards.ts). */
export const itemShardsOf = async (message: ImportMessage): Promise<number> => message.itemShards ?? legacyImportShards(message.tenant, message.collection);

/**
 * The key of a batch's plan record. Every batch writes its plan and then its written ids
 * (about 20 write units per 98 items), so the plans are spread over as many partition keys
 * as the collection's items (by batch id; shard 0 is the job's own key): on one key they
 * would stop an import at about 5,000 items a second (docs/SCALE.md).
 */
export const planKeyOf = (message: ImportMessage) => ({
  pk: withShard(jobPartition(message.tenant, message.importId), shardOf(message.batchId, planShardsOf(message))),
  sk: batchSortKey(message.batchId),
});
const keyOf = planKeyOf;

/**
 * Settled before, or its job was cancelled (its chunk says so): nothing to write. Otherwise
 * the plan to write, and the ids an earlier delivery wrote already (../import/writer.ts).
 */
export type BatchState = { settled: true; cancelled?: boolean } | { settled: false; plan: BatchPlan; writtenIds: ReadonlySet<string> };

/**
 * One BatchGetItem for everything the worker needs to know before writing: whether the
 * batch is settled already (its chunk's doneBatches), its stored plan, and otherwise the
 * current version and createdAt of its items, from which a new plan is made.
 */
export async function loadBatch(message: ImportMessage, now = new Date().toISOString()): Promise<BatchState & { planIsNew?: boolean }> {
  const table = config.dataTable();
  const planKey = keyOf(message);
  const chunkKey = { pk: jobPartition(message.tenant, message.importId), sk: chunkSortKey(message.chunkId) };
  const shards = await itemShardsOf(message);
  const records = await batchGetAll(table, [planKey, chunkKey, ...message.items.map((item) => ({ pk: itemPartition(message.tenant, message.collection, item.id, shards), sk: itemSortKey(item.id) }))], {
    expression: 'pk, sk, #id, #version, createdAt, #plan, doneBatches, cancelled, writtenIds',
    names: { '#id': 'id', '#version': 'version', '#plan': 'plan' },
  });
  const existing = new Map<string, { version: number; createdAt: string }>();
  for (const record of records) {
    if (record.pk === chunkKey.pk && record.sk === chunkKey.sk) {
      const done = record.doneBatches;
      if (done instanceof Set && done.has(message.batch)) return { settled: true };
      if (record.cancelled === true) return { settled: true, cancelled: true };
    } else if (record.pk === planKey.pk && record.sk === planKey.sk) {
      if (record.plan) return { settled: false, plan: record.plan as BatchPlan, writtenIds: record.writtenIds instanceof Set ? (record.writtenIds as Set<string>) : new Set() };
    } else existing.set(String(record.id), { version: Number(record.version), createdAt: String(record.createdAt) });
  }
  const items: Record<string, PlannedItem> = {};
  for (const item of message.items) {
    const before = existing.get(item.id);
    items[item.id] = before ? { version: before.version + 1, createdAt: before.createdAt, isNew: false } : { version: 1, createdAt: now, isNew: true };
  }
  return { settled: false, plan: { at: now, items }, writtenIds: new Set(), planIsNew: true };
}

/** The batch's stored plan and the ids its deliveries wrote, if a plan was stored. */
export async function readPlan(message: ImportMessage): Promise<{ plan: BatchPlan; writtenIds: ReadonlySet<string> } | undefined> {
  const { Item } = await dynamo().send(new GetCommand({ TableName: config.dataTable(), Key: keyOf(message), ConsistentRead: true }));
  if (!Item?.plan) return undefined;
  return { plan: Item.plan as BatchPlan, writtenIds: Item.writtenIds instanceof Set ? (Item.writtenIds as Set<string>) : new Set() };
}

/** Stores the plan unless one is there already; returns the plan that counts. */
export async function savePlan(message: ImportMessage, plan: BatchPlan): Promise<BatchPlan> {
  try {
    await transactWrite([
      {
        Put: {
          TableName: config.dataTable(),
          Item: { ...keyOf(message), plan, expiresAt: epochIn(BATCH_RETENTION_SECONDS) },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
    ]);
    return plan;
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    const current = await readPlan(message);
    if (!current) throw error;
    return current.plan;
  }
}

/** The job's records of failed items (deterministic keys), written when the batch is settled (settleBatch). */
export function failureRecords(message: ImportMessage, failures: ReadonlyArray<{ id: string; reason: string }>): Record<string, unknown>[] {
  const now = new Date().toISOString();
  const indexOf = new Map(message.items.map((item, index) => [item.id, index]));
  return failures.map((failure) => ({
    pk: jobPartition(message.tenant, message.importId),
    sk: failureSortKey(message.batchId, indexOf.get(failure.id) ?? 0),
    id: failure.id,
    batchId: message.batchId,
    reason: failure.reason,
    at: now,
    expiresAt: epochIn(JOB_RETENTION_SECONDS),
  }));
}
