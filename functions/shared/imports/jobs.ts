/**
 * Import jobs in the data table. One partition per job (its batch plans aside), scoped by tenant, so another
 * tenant's importId simply is not there (404):
 *
 *   pk = TENANT#<tenant>#IMPORT#<importId>
 *   sk = JOB                    status, chunkIds (string set); the final counters once finished
 *   sk = CHUNK#<chunkId>        one accepted request chunk: content hash, its batch count and
 *                               its progress counters (processed, succeeded, failed, created,
 *                               batchesDone and the set of batch numbers done)
 *   sk = BATCH#<batchId>        one queue message's plan (versions decided before writing),
 *                               under pk `...#IMPORT#<importId>[#<shard>]`: spread over the
 *                               collection's item shards by batch id (../../import/batches.ts)
 *   sk = FAILURE#<batchId>#<n>  an item that failed after the last retry
 *
 * Why counters live on the chunk and not on the job: a batch is settled by ONE conditional
 * update of its chunk (`ADD doneBatches {n}, succeeded ... IF NOT contains(doneBatches, n)`),
 * which is exactly-once on one item and spreads the writes over many items. The
 * job's progress is the sum over its chunks (≤ 1,000 items each, so ≤ 100 chunk records for
 * 100,000 items). Completion is exact: committed, every chunk queued and every chunk's
 * batchesDone = batches. Finishing is a small state machine of single-item conditional
 * writes: the job record takes the final counters and `finalStatus`
 * (only while PROCESSING without one: one winner), the collection's stats take the number
 * of new items (guarded per import, see ../items/stats.ts), then the job's status becomes
 * its finalStatus. Whoever finds a job with a finalStatus but still PROCESSING resumes.
 *
 * Every conditional write here is an idempotent transaction (./transact.ts): a write the SDK
 * sends twice because its answer was lost counts as done, not as "someone else did it".
 */
import { DeleteCommand, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { dynamo } from '../aws-clients.ts';
import { isConditionFailure } from '../aws-errors.ts';
import { config } from '../config.ts';
import { badRequest } from '../http/errors.ts';
import { reserveImportShards } from '../items/shards.ts';
import { advanceLastWriteAt, applyImportToStats, itemCountUpdate } from '../items/stats.ts';
import { MAX_CHUNKS_PER_JOB } from './limits.ts';
import { transactWrite } from './transact.ts';

export const IMPORT_STATUSES = ['OPEN', 'PROCESSING', 'COMPLETED', 'COMPLETED_WITH_ERRORS', 'FAILED', 'CANCELLED'] as const;
export type ImportStatus = (typeof IMPORT_STATUSES)[number];
/** What a read shows: the stored status, or STALLED for a PROCESSING job without progress for too long (never stored). */
export type ImportViewStatus = ImportStatus | 'STALLED';

/** A PROCESSING job with no progress for this long reads as STALLED (IMPORT_STALL_AFTER_SECONDS, default 15 minutes). */
export function stallAfterMs(): number {
  const value = Number(process.env.IMPORT_STALL_AFTER_SECONDS ?? 900);
  return (Number.isFinite(value) && value > 0 ? value : 900) * 1000;
}

const DAY = 24 * 3600;
/** Jobs, chunks and failures are kept 90 days; batch plans as long as a message may live (DLQ: 14 days) and a day more. */
export const JOB_RETENTION_SECONDS = 90 * DAY;
export const BATCH_RETENTION_SECONDS = 15 * DAY;

export interface Counters {
  /** Items accepted (queued). */
  total: number;
  /** Items the worker has settled: succeeded + failed. */
  processed: number;
  succeeded: number;
  failed: number;
  /** Items refused at submission (invalid); never queued. */
  rejected: number;
  /** Of the succeeded items, how many did not exist before (the rest replaced an item). */
  created: number;
}

export interface ImportJob extends Counters {
  importId: string;
  tenant: string;
  collection: string;
  /** The collection's item shards, fixed when the job was created (../items/shards.ts); its messages carry it to the worker. */
  itemShards: number;
  status: ImportStatus;
  chunks: number;
  batchesTotal: number;
  batchesDone: number;
  /** Chunks recorded whose messages are not all queued yet. */
  chunksQueueing: string[];
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
}

export interface ImportJobView extends Counters {
  importId: string;
  status: ImportViewStatus;
  /** Why the job is STALLED or CANCELLED, and what to do about it. */
  statusReason?: string;
  collection: string;
  replaced: number;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
}

export function jobPartition(tenant: string, importId: string): string {
  return `TENANT#${tenant}#IMPORT#${importId}`;
}
export const JOB_SORT_KEY = 'JOB';
export const CHUNK_PREFIX = 'CHUNK#';
export const chunkSortKey = (chunkId: string) => `${CHUNK_PREFIX}${chunkId}`;
export const batchSortKey = (batchId: string) => `BATCH#${batchId}`;
export const FAILURE_PREFIX = 'FAILURE#';
export const failureSortKey = (batchId: string, index: number) => `${FAILURE_PREFIX}${batchId}#${String(index).padStart(3, '0')}`;

export const epochIn = (offsetSeconds: number) => Math.floor(Date.now() / 1000) + offsetSeconds;

export function viewOf(job: ImportJob, now = Date.now()): ImportJobView {
  return {
    importId: job.importId,
    ...statusOf(job, now),
    collection: job.collection,
    total: job.total,
    processed: job.processed,
    succeeded: job.succeeded,
    failed: job.failed,
    rejected: job.rejected,
    created: job.created,
    replaced: job.succeeded - job.created,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    completedAt: isFinished(job.status) || job.status === 'CANCELLED' ? job.completedAt : null,
  };
}

/**
 * A PROCESSING job whose last progress (a chunk recorded or settled, the commit) is older than
 * stallAfterMs() is STALLED: something it waits for will not come by itself (a chunk whose
 * request died half-way and was never resent, messages in the import DLQ). The reason says
 * what, so the client can resend, redrive or cancel. Progress makes it PROCESSING again.
 */
function statusOf(job: ImportJob, now: number): { status: ImportViewStatus; statusReason?: string } {
  if (job.status === 'CANCELLED') return { status: 'CANCELLED', statusReason: 'cancelled by request; items written before the cancel stay written' };
  if (job.status !== 'PROCESSING' || now - Date.parse(job.updatedAt) < stallAfterMs()) return { status: job.status };
  const waiting: string[] = [];
  if (job.chunksQueueing.length > 0) waiting.push(`chunk(s) ${job.chunksQueueing.slice(0, 10).join(', ')} recorded but not fully queued: send them again with the same chunkId and items`);
  if (job.batchesDone < job.batchesTotal) waiting.push(`${job.batchesTotal - job.batchesDone} of ${job.batchesTotal} batches not settled: their messages may be in the import DLQ (npm run redrive)`);
  return { status: 'STALLED', statusReason: `no progress since ${job.updatedAt}${waiting.length > 0 ? `; ${waiting.join('; ')}` : ''}; or cancel it (POST /imports/{importId}/cancel)` };
}

/** The status a finished job ends in. */
export function finalStatus(job: Pick<Counters, 'succeeded' | 'failed' | 'rejected'>): ImportStatus {
  if (job.failed === 0 && job.rejected === 0) return 'COMPLETED';
  if (job.succeeded === 0) return 'FAILED';
  return 'COMPLETED_WITH_ERRORS';
}

export function isFinished(status: ImportStatus): boolean {
  return status === 'COMPLETED' || status === 'COMPLETED_WITH_ERRORS' || status === 'FAILED';
}

/** Everything finished: committed, every chunk queued, every batch settled. */
export function isSettled(job: ImportJob): boolean {
  return job.status === 'PROCESSING' && job.chunksQueueing.length === 0 && job.batchesDone >= job.batchesTotal;
}

/**
 * A new OPEN job. The collection's shard count is fixed first (recorded on its STATS item if
 * it has none), so the worker writes each item to its shard without reading it.
 */
export async function createJob(tenant: string, collection: string, createdBy: string): Promise<ImportJob> {
  const itemShards = await reserveImportShards(tenant, collection);
  const now = new Date().toISOString();
  const importId = randomUUID();
  await transactWrite([
    {
      Put: {
        TableName: config.dataTable(),
        Item: { pk: jobPartition(tenant, importId), sk: JOB_SORT_KEY, importId, tenant, collection, itemShards, status: 'OPEN', createdBy, createdAt: now, updatedAt: now, expiresAt: epochIn(JOB_RETENTION_SECONDS) },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    },
  ]);
  return {
    importId,
    tenant,
    collection,
    itemShards,
    status: 'OPEN',
    total: 0,
    processed: 0,
    succeeded: 0,
    failed: 0,
    rejected: 0,
    created: 0,
    chunks: 0,
    batchesTotal: 0,
    batchesDone: 0,
    chunksQueueing: [],
    createdBy,
    createdAt: now,
    updatedAt: now,
    completedAt: null,
  };
}

async function getJobRecord(tenant: string, importId: string): Promise<Record<string, unknown> | undefined> {
  const { Item } = await dynamo().send(new GetCommand({ TableName: config.dataTable(), Key: { pk: jobPartition(tenant, importId), sk: JOB_SORT_KEY }, ConsistentRead: true }));
  return Item;
}

const num = (record: Record<string, unknown>, name: string) => Number(record[name] ?? 0);

/** The job with its counters: stored once finished, summed over its chunks before. */
export async function getJob(tenant: string, importId: string, options: { withProgress?: boolean } = {}): Promise<ImportJob | undefined> {
  const record = await getJobRecord(tenant, importId);
  if (!record) return undefined;
  const job: ImportJob = {
    importId,
    tenant,
    collection: String(record.collection),
    // Jobs created before item shards wrote every item under the collection's one key.
    itemShards: Number(record.itemShards ?? 1),
    status: record.status as ImportStatus,
    total: num(record, 'total'),
    processed: num(record, 'processed'),
    succeeded: num(record, 'succeeded'),
    failed: num(record, 'failed'),
    rejected: num(record, 'rejected'),
    created: num(record, 'created'),
    chunks: num(record, 'chunks'),
    batchesTotal: num(record, 'batchesTotal'),
    batchesDone: num(record, 'batchesDone'),
    chunksQueueing: [],
    createdBy: String(record.createdBy ?? ''),
    createdAt: String(record.createdAt),
    updatedAt: String(record.updatedAt),
    completedAt: (record.completedAt as string | undefined) ?? null,
  };
  // Finished or finishing: the stored counters are the final ones. Without progress: the job record only.
  if (isFinished(job.status) || record.finalStatus || options.withProgress === false) return job;
  const chunkIds = record.chunkIds instanceof Set ? [...(record.chunkIds as Set<string>)] : [];
  for (const chunk of await getChunkProgress(tenant, importId, chunkIds)) {
    job.chunks++;
    job.total += num(chunk, 'accepted');
    job.rejected += num(chunk, 'rejectedCount');
    job.batchesTotal += num(chunk, 'batches');
    job.batchesDone += num(chunk, 'batchesDone');
    job.processed += num(chunk, 'processed');
    job.succeeded += num(chunk, 'succeeded');
    job.failed += num(chunk, 'failed');
    job.created += num(chunk, 'created');
    if (chunk.status !== 'QUEUED') job.chunksQueueing.push(String(chunk.chunkId));
    if (typeof chunk.updatedAt === 'string' && chunk.updatedAt > job.updatedAt) job.updatedAt = chunk.updatedAt;
  }
  return job;
}

/**
 * The progress fields of the job's listed chunks: a Query of the job's partition (its chunk
 * records, page by page), keeping the chunks listed on the job (a chunk is recorded just
 * before it is listed, and one taken back is unlisted).
 */
async function getChunkProgress(tenant: string, importId: string, chunkIds: readonly string[]): Promise<Array<Record<string, unknown>>> {
  const listed = new Set(chunkIds);
  const chunks: Array<Record<string, unknown>> = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const { Items = [], LastEvaluatedKey } = await dynamo().send(
      new QueryCommand({
        TableName: config.dataTable(),
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :chunk)',
        ExpressionAttributeValues: { ':pk': jobPartition(tenant, importId), ':chunk': CHUNK_PREFIX },
        ProjectionExpression: 'chunkId, #status, accepted, rejectedCount, batches, batchesDone, #processed, #succeeded, #failed, #created, updatedAt',
        ExpressionAttributeNames: { '#status': 'status', '#processed': 'processed', '#succeeded': 'succeeded', '#failed': 'failed', '#created': 'created' },
        ConsistentRead: true,
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    chunks.push(...Items.filter((item) => listed.has(String(item.chunkId))));
    startKey = LastEvaluatedKey;
  } while (startKey);
  return chunks;
}

/**
 * A chunk as recorded. Its rejections are not stored, only their count: a list of up to
 * 1,000 rejections, each echoing an id and a reason, can outgrow DynamoDB's 400 KB item
 * limit, and a replay (same chunkId, same items: the hash matches) recomputes the same list
 * from the items it is sent with.
 */
export interface ChunkRecord {
  chunkId: string;
  hash: string;
  status: 'QUEUEING' | 'QUEUED';
  accepted: number;
  rejectedCount: number;
  batches: number;
}

export async function getChunk(tenant: string, importId: string, chunkId: string): Promise<ChunkRecord | undefined> {
  const { Item } = await dynamo().send(
    new GetCommand({
      TableName: config.dataTable(),
      Key: { pk: jobPartition(tenant, importId), sk: chunkSortKey(chunkId) },
      ConsistentRead: true,
      ProjectionExpression: 'chunkId, #hash, #status, accepted, rejectedCount, batches',
      ExpressionAttributeNames: { '#hash': 'hash', '#status': 'status' },
    }),
  );
  if (!Item) return undefined;
  return {
    chunkId: String(Item.chunkId),
    hash: String(Item.hash),
    status: Item.status as ChunkRecord['status'],
    accepted: Number(Item.accepted),
    rejectedCount: Number(Item.rejectedCount ?? 0),
    batches: Number(Item.batches),
  };
}

/**
 * Records a chunk once per chunkId, while the job is OPEN: `exists` when it was recorded
 * before, `not-open` when the job was committed or `full` when it has MAX_CHUNKS_PER_JOB
 * chunks (the chunk is then taken back).
 */
export async function reserveChunk(job: Pick<ImportJob, 'tenant' | 'importId'>, chunk: ChunkRecord): Promise<'reserved' | 'exists' | 'not-open' | 'full'> {
  const key = { pk: jobPartition(job.tenant, job.importId), sk: chunkSortKey(chunk.chunkId) };
  const now = new Date().toISOString();
  try {
    await transactWrite([
      {
        Put: {
          TableName: config.dataTable(),
          Item: { ...key, ...chunk, batchesDone: 0, processed: 0, succeeded: 0, failed: 0, created: 0, createdAt: now, updatedAt: now, expiresAt: epochIn(JOB_RETENTION_SECONDS) },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
    ]);
  } catch (error) {
    if (isConditionFailure(error)) return 'exists';
    throw error;
  }
  // List the chunk on the job, only while it is OPEN and not full; otherwise take the chunk back (nothing was queued).
  const attached = await attachChunk(job, chunk.chunkId);
  if (attached !== 'attached') {
    await dynamo().send(new DeleteCommand({ TableName: config.dataTable(), Key: key }));
    return attached === 'full' ? 'full' : 'not-open';
  }
  return 'reserved';
}

/**
 * Adds the chunk to the job's `chunkIds` set while the job is OPEN and has fewer than
 * MAX_CHUNKS_PER_JOB (or if it is listed already: repeating is harmless). `closed` when the
 * job no longer takes chunks, `full` when it has as many as it takes.
 */
export async function attachChunk(job: Pick<ImportJob, 'tenant' | 'importId'>, chunkId: string): Promise<'attached' | 'closed' | 'full'> {
  try {
    await transactWrite([
      {
        Update: {
          TableName: config.dataTable(),
          Key: { pk: jobPartition(job.tenant, job.importId), sk: JOB_SORT_KEY },
          UpdateExpression: 'ADD chunkIds :ids SET updatedAt = :now',
          ConditionExpression: '(#status = :open AND (attribute_not_exists(chunkIds) OR size(chunkIds) < :max)) OR contains(chunkIds, :id)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':ids': new Set([chunkId]), ':id': chunkId, ':open': 'OPEN', ':max': MAX_CHUNKS_PER_JOB, ':now': new Date().toISOString() },
        },
      },
    ]);
    return 'attached';
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    return (await getJobRecord(job.tenant, job.importId))?.status === 'OPEN' ? 'full' : 'closed';
  }
}

/** Unconditional and the same however often it runs: needs no token. */
export async function markChunkQueued(tenant: string, importId: string, chunkId: string): Promise<void> {
  await dynamo().send(
    new UpdateCommand({
      TableName: config.dataTable(),
      Key: { pk: jobPartition(tenant, importId), sk: chunkSortKey(chunkId) },
      UpdateExpression: 'SET #status = :queued, updatedAt = :now',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':queued': 'QUEUED', ':now': new Date().toISOString() },
    }),
  );
}

/**
 * Settles batch `batch` of a chunk exactly once: `settled` with the chunk's progress after
 * it, or `duplicate` when that batch was settled before. A batch of a cancelled chunk (it was
 * loaded before the cancel) is settled with its new items added to the collection's stats
 * in the same transaction: the cancel counted only the batches settled before it marked the
 * chunk (see cancelJob).
 */
export async function settleBatch(
  message: { tenant: string; collection: string; importId: string; chunkId: string; batch: number },
  counts: { succeeded: number; failed: number; created: number },
  /** Written in the same transaction (the batch's failure records): counted iff recorded. At most 98 (100 actions). */
  records: ReadonlyArray<Record<string, unknown>> = [],
): Promise<{ outcome: 'settled'; chunkComplete: boolean } | { outcome: 'duplicate' }> {
  const puts = records.map((Item) => ({ Put: { TableName: config.dataTable(), Item } }));
  const key = { pk: jobPartition(message.tenant, message.importId), sk: chunkSortKey(message.chunkId) };
  const settle = (condition: string) => ({
    Update: {
      TableName: config.dataTable(),
      Key: key,
      UpdateExpression: 'ADD doneBatches :batch, batchesDone :one, #processed :processed, #succeeded :succeeded, #failed :failed, #created :created SET updatedAt = :now',
      ConditionExpression: condition,
      ExpressionAttributeNames: { '#processed': 'processed', '#succeeded': 'succeeded', '#failed': 'failed', '#created': 'created' },
      ExpressionAttributeValues: {
        ':batch': new Set([message.batch]),
        ':n': message.batch,
        ':one': 1,
        ':processed': counts.succeeded + counts.failed,
        ':succeeded': counts.succeeded,
        ':failed': counts.failed,
        ':created': counts.created,
        ':now': new Date().toISOString(),
      },
    },
  });
  const settleOnce = 'attribute_exists(pk) AND NOT contains(doneBatches, :n)';
  try {
    await transactWrite([settle(`${settleOnce} AND attribute_not_exists(cancelled)`), ...puts]);
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    const { Item: chunk } = await dynamo().send(new GetCommand({ TableName: config.dataTable(), Key: key, ConsistentRead: true, ProjectionExpression: 'doneBatches, cancelled' }));
    const done = chunk?.doneBatches instanceof Set && chunk.doneBatches.has(message.batch);
    if (!chunk || done || chunk.cancelled !== true) return { outcome: 'duplicate' };
    try {
      await transactWrite([settle(settleOnce), ...(counts.created > 0 ? [itemCountUpdate(message.tenant, message.collection, counts.created)] : []), ...puts]);
    } catch (again) {
      if (isConditionFailure(again)) return { outcome: 'duplicate' };
      throw again;
    }
    return { outcome: 'settled', chunkComplete: false };
  }
  // A transaction returns no values: read the chunk after (complete stays complete, so a later read is as good).
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: config.dataTable(), Key: key, ConsistentRead: true, ProjectionExpression: '#status, batchesDone, batches', ExpressionAttributeNames: { '#status': 'status' } }),
  );
  return { outcome: 'settled', chunkComplete: Item?.status === 'QUEUED' && Number(Item.batchesDone) >= Number(Item.batches) };
}

/** OPEN → PROCESSING. Committing a job that is already committed changes nothing. */
export async function commitJob(tenant: string, importId: string): Promise<void> {
  try {
    await transactWrite([
      {
        Update: {
          TableName: config.dataTable(),
          Key: { pk: jobPartition(tenant, importId), sk: JOB_SORT_KEY },
          UpdateExpression: 'SET #status = :processing, committedAt = :now, updatedAt = :now',
          ConditionExpression: '#status = :open',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':processing': 'PROCESSING', ':open': 'OPEN', ':now': new Date().toISOString() },
        },
      },
    ]);
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
  }
}

/**
 * Marks the job finished if it is settled; safe to call from anywhere, any number of times.
 * Exactly one caller gets the finished job back (to announce it); the others get undefined.
 */
export async function tryCompleteJob(tenant: string, importId: string, known?: ImportJob): Promise<ImportJob | undefined> {
  const key = { pk: jobPartition(tenant, importId), sk: JOB_SORT_KEY };
  const record = await getJobRecord(tenant, importId);
  if (!record || record.status !== 'PROCESSING') return undefined;
  if (!record.finalStatus) {
    const job = known && known.status === 'PROCESSING' ? known : await getJob(tenant, importId);
    if (!job || !isSettled(job)) return undefined;
    const now = new Date().toISOString();
    try {
      await transactWrite([
        {
          Update: {
            TableName: config.dataTable(),
            Key: key,
            UpdateExpression:
              'SET finalStatus = :final, completedAt = :now, updatedAt = :now, #total = :total, #processed = :processed, #succeeded = :succeeded, ' +
              '#failed = :failed, #rejected = :rejected, #created = :created, chunks = :chunks, batchesTotal = :batchesTotal, batchesDone = :batchesDone',
            ConditionExpression: '#status = :processing AND attribute_not_exists(finalStatus)',
            ExpressionAttributeNames: { '#status': 'status', '#total': 'total', '#processed': 'processed', '#succeeded': 'succeeded', '#failed': 'failed', '#rejected': 'rejected', '#created': 'created' },
            ExpressionAttributeValues: {
              ':final': finalStatus(job),
              ':now': now,
              ':processing': 'PROCESSING',
              ':total': job.total,
              ':processed': job.processed,
              ':succeeded': job.succeeded,
              ':failed': job.failed,
              ':rejected': job.rejected,
              ':created': job.created,
              ':chunks': job.chunks,
              ':batchesTotal': job.batchesTotal,
              ':batchesDone': job.batchesDone,
            },
          },
        },
      ]);
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }
  // Finishing (by us or by a caller that stopped half-way): stats once, then the status.
  const finishing = await getJob(tenant, importId);
  if (!finishing || finishing.status !== 'PROCESSING') return undefined;
  const stored = await getJobRecord(tenant, importId);
  const status = stored?.finalStatus as ImportStatus | undefined;
  if (!status) return undefined;
  await applyImportToStats({ tenant, collection: finishing.collection, importId, importCreatedAt: finishing.createdAt, created: finishing.created });
  // The import's last write: when its last batch was settled (idempotent: only moves forward).
  if (finishing.succeeded > 0) await advanceLastWriteAt(tenant, finishing.collection, finishing.updatedAt);
  try {
    await transactWrite([
      {
        Update: {
          TableName: config.dataTable(),
          Key: key,
          UpdateExpression: 'SET #status = finalStatus',
          ConditionExpression: '#status = :processing',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':processing': 'PROCESSING' },
        },
      },
    ]);
  } catch (error) {
    if (isConditionFailure(error)) return undefined;
    throw error;
  }
  return { ...finishing, status };
}

/**
 * Cancels a job that has not finished: OPEN or PROCESSING → CANCELLED. No chunk is taken
 * after it (chunks attach only to an OPEN job), and the worker skips the messages of the
 * job's chunks, which are marked `cancelled` (it reads the chunk with every message anyway).
 * Items written before stay written, and the collection's stats take the new ones exactly:
 * marking a chunk snapshots its `created` count (`createdAtCancel`, kept on a repeat), the
 * cancel adds the sum of the snapshots once (guarded per import, as a completion is), and a
 * batch settled after the marking adds its own (settleBatch). `cancelled`, `already`
 * (cancelled before: repeating it is harmless and finishes an interrupted cancel) or
 * `finished` (too late: it completed).
 */
export async function cancelJob(tenant: string, importId: string): Promise<'cancelled' | 'already' | 'finished'> {
  const key = { pk: jobPartition(tenant, importId), sk: JOB_SORT_KEY };
  const now = new Date().toISOString();
  let outcome: 'cancelled' | 'already' = 'cancelled';
  try {
    await transactWrite([
      {
        Update: {
          TableName: config.dataTable(),
          Key: key,
          UpdateExpression: 'SET #status = :cancelled, completedAt = :now, updatedAt = :now',
          ConditionExpression: '#status IN (:open, :processing) AND attribute_not_exists(finalStatus)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':cancelled': 'CANCELLED', ':open': 'OPEN', ':processing': 'PROCESSING', ':now': now },
        },
      },
    ]);
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    const record = await getJobRecord(tenant, importId);
    if (record?.status !== 'CANCELLED') return 'finished';
    outcome = 'already';
  }
  // After the status changed no chunk can attach, so this list is complete.
  const record = await getJobRecord(tenant, importId);
  if (!record) return outcome;
  const chunkIds = record.chunkIds instanceof Set ? [...(record.chunkIds as Set<string>)] : [];
  let created = 0;
  let lastWrite: string | undefined;
  for (const chunkId of chunkIds) {
    try {
      const { Attributes } = await dynamo().send(
        new UpdateCommand({
          TableName: config.dataTable(),
          Key: { pk: key.pk, sk: chunkSortKey(chunkId) },
          // Idempotent: the first marking fixes the snapshot; settleBatch counts what settles after it.
          UpdateExpression: 'SET cancelled = :yes, createdAtCancel = if_not_exists(createdAtCancel, #created)',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#created': 'created' },
          ExpressionAttributeValues: { ':yes': true },
          ReturnValues: 'ALL_NEW',
        }),
      );
      created += Number(Attributes?.createdAtCancel ?? 0);
      // The chunk's last settle wrote items: the import's last write so far.
      const settledAt = Attributes?.updatedAt;
      if (Number(Attributes?.succeeded ?? 0) > 0 && typeof settledAt === 'string' && (!lastWrite || settledAt > lastWrite)) lastWrite = settledAt;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }
  const collection = String(record.collection);
  await applyImportToStats({ tenant, collection, importId, importCreatedAt: String(record.createdAt), created });
  if (lastWrite) await advanceLastWriteAt(tenant, collection, lastWrite);
  return outcome;
}

export interface ImportFailure {
  id: string;
  batchId: string;
  reason: string;
  at: string;
}

export async function listFailures(tenant: string, importId: string, limit: number, cursor?: string): Promise<{ failures: ImportFailure[]; nextCursor: string | null }> {
  const pk = jobPartition(tenant, importId);
  let startKey: Record<string, string> | undefined;
  if (cursor) {
    let sk: unknown;
    try {
      sk = (JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { sk?: unknown }).sk;
    } catch {
      sk = undefined;
    }
    if (typeof sk !== 'string' || !sk.startsWith(FAILURE_PREFIX)) throw badRequest('invalid cursor', [{ field: 'query.cursor', issue: 'invalid cursor' }]);
    startKey = { pk, sk };
  }
  const { Items = [], LastEvaluatedKey } = await dynamo().send(
    new QueryCommand({
      TableName: config.dataTable(),
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :failure)',
      ExpressionAttributeValues: { ':pk': pk, ':failure': FAILURE_PREFIX },
      Limit: limit,
      ConsistentRead: true,
      ...(startKey ? { ExclusiveStartKey: startKey } : {}),
    }),
  );
  return {
    failures: Items.map((item) => ({ id: String(item.id), batchId: String(item.batchId), reason: String(item.reason), at: String(item.at) })),
    nextCursor: LastEvaluatedKey ? Buffer.from(JSON.stringify({ sk: LastEvaluatedKey.sk })).toString('base64url') : null,
  };
}

/**
 * Deletes a job that no chunk was ever listed on (a create whose items could not be
 * recorded): its id was never given to anyone, so nothing could finish it. False when a
 * chunk is listed on it (it holds accepted items and stays). Sent twice, it is still right:
 * a job already deleted meets the condition and deleting it again changes nothing.
 */
export async function discardUnusedJob(tenant: string, importId: string): Promise<boolean> {
  try {
    await dynamo().send(
      new DeleteCommand({
        TableName: config.dataTable(),
        Key: { pk: jobPartition(tenant, importId), sk: JOB_SORT_KEY },
        ConditionExpression: 'attribute_not_exists(chunkIds)',
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}
