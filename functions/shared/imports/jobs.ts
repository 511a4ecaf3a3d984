/**
 * Import jobs in the data table. One partition per job, scoped by tenant, so another
 * tenant's importId simply is not there (404):
 *
 *   pk = TENANT#<tenant>#IMPORT#<importId>
 *   sk = JOB                    status, chunkIds (string set); the final counters once finished
 *   sk = CHUNK#<chunkId>        one accepted request chunk: content hash, its batch count and
 *                               its progress counters (processed, succeeded, failed, created,
 *                               batchesDone and the set of batch numbers done)
 *   sk = BATCH#<batchId>        one queue message's plan (versions decided before writing)
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
import { batchGetAll } from '../batch-get.ts';
import { config } from '../config.ts';
import { badRequest } from '../http/errors.ts';
import { advanceLastWriteAt, applyImportToStats } from '../items/stats.ts';
import type { Rejection } from './items.ts';
import { transactWrite } from './transact.ts';

export const IMPORT_STATUSES = ['OPEN', 'PROCESSING', 'COMPLETED', 'COMPLETED_WITH_ERRORS', 'FAILED'] as const;
export type ImportStatus = (typeof IMPORT_STATUSES)[number];

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
  status: ImportStatus;
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

export function viewOf(job: ImportJob): ImportJobView {
  return {
    importId: job.importId,
    status: job.status,
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
    completedAt: isFinished(job.status) ? job.completedAt : null,
  };
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

export async function createJob(tenant: string, collection: string, createdBy: string): Promise<ImportJob> {
  const now = new Date().toISOString();
  const importId = randomUUID();
  await transactWrite([
    {
      Put: {
        TableName: config.dataTable(),
        Item: { pk: jobPartition(tenant, importId), sk: JOB_SORT_KEY, importId, tenant, collection, status: 'OPEN', createdBy, createdAt: now, updatedAt: now, expiresAt: epochIn(JOB_RETENTION_SECONDS) },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    },
  ]);
  return {
    importId,
    tenant,
    collection,
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
 * The progress fields of the given chunks, by key (BatchGetItem, 100 keys a call). Not a
 * Query of the job's partition: the emulator answers a Query in time proportional to the
 * whole table, which a status poll during a large import cannot afford.
 */
async function getChunkProgress(tenant: string, importId: string, chunkIds: readonly string[]): Promise<Array<Record<string, unknown>>> {
  const pk = jobPartition(tenant, importId);
  return batchGetAll(
    config.dataTable(),
    chunkIds.map((id) => ({ pk, sk: chunkSortKey(id) })),
    {
      expression: 'chunkId, #status, accepted, rejectedCount, batches, batchesDone, #processed, #succeeded, #failed, #created, updatedAt',
      names: { '#status': 'status', '#processed': 'processed', '#succeeded': 'succeeded', '#failed': 'failed', '#created': 'created' },
    },
  );
}

export interface ChunkRecord {
  chunkId: string;
  hash: string;
  status: 'QUEUEING' | 'QUEUED';
  accepted: number;
  rejected: Rejection[];
  batches: number;
}

export async function getChunk(tenant: string, importId: string, chunkId: string): Promise<ChunkRecord | undefined> {
  const { Item } = await dynamo().send(
    new GetCommand({
      TableName: config.dataTable(),
      Key: { pk: jobPartition(tenant, importId), sk: chunkSortKey(chunkId) },
      ConsistentRead: true,
      ProjectionExpression: 'chunkId, #hash, #status, accepted, rejected, batches',
      ExpressionAttributeNames: { '#hash': 'hash', '#status': 'status' },
    }),
  );
  if (!Item) return undefined;
  return {
    chunkId: String(Item.chunkId),
    hash: String(Item.hash),
    status: Item.status as ChunkRecord['status'],
    accepted: Number(Item.accepted),
    rejected: (Item.rejected ?? []) as Rejection[],
    batches: Number(Item.batches),
  };
}

/**
 * Records a chunk once per chunkId, while the job is OPEN: `exists` when it was recorded
 * before, `not-open` when the job was committed (the chunk is then taken back).
 */
export async function reserveChunk(job: Pick<ImportJob, 'tenant' | 'importId'>, chunk: ChunkRecord): Promise<'reserved' | 'exists' | 'not-open'> {
  const key = { pk: jobPartition(job.tenant, job.importId), sk: chunkSortKey(chunk.chunkId) };
  const now = new Date().toISOString();
  try {
    await transactWrite([
      {
        Put: {
          TableName: config.dataTable(),
          Item: { ...key, ...chunk, rejectedCount: chunk.rejected.length, batchesDone: 0, processed: 0, succeeded: 0, failed: 0, created: 0, createdAt: now, updatedAt: now, expiresAt: epochIn(JOB_RETENTION_SECONDS) },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
    ]);
  } catch (error) {
    if (isConditionFailure(error)) return 'exists';
    throw error;
  }
  // List the chunk on the job, only while it is OPEN; otherwise take the chunk back (nothing was queued).
  if (!(await attachChunk(job, chunk.chunkId))) {
    await dynamo().send(new DeleteCommand({ TableName: config.dataTable(), Key: key }));
    return 'not-open';
  }
  return 'reserved';
}

/**
 * Adds the chunk to the job's `chunkIds` set while the job is OPEN (or if it is listed
 * already: repeating is harmless). False when the job no longer takes chunks.
 */
export async function attachChunk(job: Pick<ImportJob, 'tenant' | 'importId'>, chunkId: string): Promise<boolean> {
  try {
    await transactWrite([
      {
        Update: {
          TableName: config.dataTable(),
          Key: { pk: jobPartition(job.tenant, job.importId), sk: JOB_SORT_KEY },
          UpdateExpression: 'ADD chunkIds :ids SET updatedAt = :now',
          ConditionExpression: '#status = :open OR contains(chunkIds, :id)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':ids': new Set([chunkId]), ':id': chunkId, ':open': 'OPEN', ':now': new Date().toISOString() },
        },
      },
    ]);
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
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
 * it, or `duplicate` when that batch was settled before.
 */
export async function settleBatch(
  message: { tenant: string; importId: string; chunkId: string; batch: number },
  counts: { succeeded: number; failed: number; created: number },
): Promise<{ outcome: 'settled'; chunkComplete: boolean } | { outcome: 'duplicate' }> {
  const key = { pk: jobPartition(message.tenant, message.importId), sk: chunkSortKey(message.chunkId) };
  try {
    await transactWrite([
      {
        Update: {
          TableName: config.dataTable(),
          Key: key,
          UpdateExpression: 'ADD doneBatches :batch, batchesDone :one, #processed :processed, #succeeded :succeeded, #failed :failed, #created :created SET updatedAt = :now',
          ConditionExpression: 'attribute_exists(pk) AND NOT contains(doneBatches, :n)',
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
      },
    ]);
  } catch (error) {
    if (isConditionFailure(error)) return { outcome: 'duplicate' };
    throw error;
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
