/**
 * Import jobs in the data table. One partition per job, scoped by tenant, so another
 * tenant's importId simply is not there (404):
 *
 *   pk = TENANT#<tenant>#IMPORT#<importId>
 *   sk = JOB                    the job: status and counters (only ever ADDed to: monotonic)
 *   sk = CHUNK#<chunkId>        one accepted request chunk: content hash, batch count, response
 *   sk = BATCH#<batchId>        one queue message: PLANNED (versions decided) → DONE
 *   sk = FAILURE#<batchId>#<n>  an item that failed after the last retry
 *
 * Completion is exact: the job counts batches queued (batchesTotal, reserved with the
 * chunk in one transaction) and batches done (batchesDone, added in the same transaction
 * that marks the batch DONE). Committed and batchesDone = batchesTotal means finished.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { transactWrite } from './transact.ts';
import { randomUUID } from 'node:crypto';
import { dynamo } from '../aws-clients.ts';
import { config } from '../config.ts';
import { badRequest } from '../http/errors.ts';
import type { Rejection } from './items.ts';

export const IMPORT_STATUSES = ['OPEN', 'PROCESSING', 'COMPLETED', 'COMPLETED_WITH_ERRORS', 'FAILED'] as const;
export type ImportStatus = (typeof IMPORT_STATUSES)[number];

const DAY = 24 * 3600;
/** Jobs, chunks and failures are kept 90 days; batch markers as long as a message may live (DLQ: 14 days) and a day more. */
const JOB_RETENTION_SECONDS = 90 * DAY;
export const BATCH_RETENTION_SECONDS = 15 * DAY;

export interface ImportJob {
  importId: string;
  tenant: string;
  collection: string;
  status: ImportStatus;
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
  batchesTotal: number;
  batchesDone: number;
  chunks: number;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
}

export interface ImportJobView {
  importId: string;
  status: ImportStatus;
  collection: string;
  total: number;
  processed: number;
  succeeded: number;
  failed: number;
  rejected: number;
  created: number;
  replaced: number;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
}

export function jobPartition(tenant: string, importId: string): string {
  return `TENANT#${tenant}#IMPORT#${importId}`;
}
export const JOB_SORT_KEY = 'JOB';
export const chunkSortKey = (chunkId: string) => `CHUNK#${chunkId}`;
export const batchSortKey = (batchId: string) => `BATCH#${batchId}`;
export const FAILURE_PREFIX = 'FAILURE#';
export const failureSortKey = (batchId: string, index: number) => `${FAILURE_PREFIX}${batchId}#${String(index).padStart(3, '0')}`;

const epoch = (offsetSeconds: number) => Math.floor(Date.now() / 1000) + offsetSeconds;

function toJob(record: Record<string, unknown>): ImportJob {
  const n = (name: string) => Number(record[name] ?? 0);
  return {
    importId: String(record.importId),
    tenant: String(record.tenant),
    collection: String(record.collection),
    status: record.status as ImportStatus,
    total: n('total'),
    processed: n('processed'),
    succeeded: n('succeeded'),
    failed: n('failed'),
    rejected: n('rejected'),
    created: n('created'),
    batchesTotal: n('batchesTotal'),
    batchesDone: n('batchesDone'),
    chunks: n('chunks'),
    createdBy: String(record.createdBy ?? ''),
    createdAt: String(record.createdAt),
    updatedAt: String(record.updatedAt),
    completedAt: (record.completedAt as string | undefined) ?? null,
  };
}

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
    completedAt: job.completedAt,
  };
}

/** The status a finished job ends in. */
export function finalStatus(job: Pick<ImportJob, 'succeeded' | 'failed' | 'rejected'>): ImportStatus {
  if (job.failed === 0 && job.rejected === 0) return 'COMPLETED';
  if (job.succeeded === 0) return 'FAILED';
  return 'COMPLETED_WITH_ERRORS';
}

export function isFinished(status: ImportStatus): boolean {
  return status === 'COMPLETED' || status === 'COMPLETED_WITH_ERRORS' || status === 'FAILED';
}

export async function createJob(tenant: string, collection: string, createdBy: string): Promise<ImportJob> {
  const now = new Date().toISOString();
  const job: ImportJob = {
    importId: randomUUID(),
    tenant,
    collection,
    status: 'OPEN',
    total: 0,
    processed: 0,
    succeeded: 0,
    failed: 0,
    rejected: 0,
    created: 0,
    batchesTotal: 0,
    batchesDone: 0,
    chunks: 0,
    createdBy,
    createdAt: now,
    updatedAt: now,
    completedAt: null,
  };
  const { completedAt: _unset, ...stored } = job;
  await dynamo().send(
    new PutCommand({
      TableName: config.dataTable(),
      Item: { pk: jobPartition(tenant, job.importId), sk: JOB_SORT_KEY, ...stored, expiresAt: epoch(JOB_RETENTION_SECONDS) },
      ConditionExpression: 'attribute_not_exists(pk)',
    }),
  );
  return job;
}

export async function getJob(tenant: string, importId: string): Promise<ImportJob | undefined> {
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: config.dataTable(), Key: { pk: jobPartition(tenant, importId), sk: JOB_SORT_KEY }, ConsistentRead: true }),
  );
  return Item ? toJob(Item) : undefined;
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
    new GetCommand({ TableName: config.dataTable(), Key: { pk: jobPartition(tenant, importId), sk: chunkSortKey(chunkId) }, ConsistentRead: true }),
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
 * Records a chunk and adds its counts to the job in one transaction, only while the job is
 * OPEN and only once per chunkId. `exists` when the chunk was recorded before; `not-open`
 * when the job was committed (or finished) in the meantime.
 */
export async function reserveChunk(job: ImportJob, chunk: ChunkRecord): Promise<'reserved' | 'exists' | 'not-open'> {
  const pk = jobPartition(job.tenant, job.importId);
  try {
    await transactWrite([
          {
            Put: {
              TableName: config.dataTable(),
              Item: { pk, sk: chunkSortKey(chunk.chunkId), ...chunk, createdAt: new Date().toISOString(), expiresAt: epoch(JOB_RETENTION_SECONDS) },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          {
            Update: {
              TableName: config.dataTable(),
              Key: { pk, sk: JOB_SORT_KEY },
              UpdateExpression: 'ADD #total :accepted, #rejected :rejected, batchesTotal :batches, chunks :one SET updatedAt = :now',
              ConditionExpression: '#status = :open',
              ExpressionAttributeNames: { '#total': 'total', '#status': 'status', '#rejected': 'rejected' },
              ExpressionAttributeValues: {
                ':accepted': chunk.accepted,
                ':rejected': chunk.rejected.length,
                ':batches': chunk.batches,
                ':one': 1,
                ':now': new Date().toISOString(),
                ':open': 'OPEN',
              },
            },
          },
    ]);
    return 'reserved';
  } catch (error) {
    if ((error as Error).name !== 'TransactionCanceledException') throw error;
    // Which condition failed: read rather than trust every emulator's CancellationReasons.
    if (await getChunk(job.tenant, job.importId, chunk.chunkId)) return 'exists';
    const current = await getJob(job.tenant, job.importId);
    if (current && current.status !== 'OPEN') return 'not-open';
    throw error;
  }
}

export async function markChunkQueued(tenant: string, importId: string, chunkId: string): Promise<void> {
  await dynamo().send(
    new UpdateCommand({
      TableName: config.dataTable(),
      Key: { pk: jobPartition(tenant, importId), sk: chunkSortKey(chunkId) },
      UpdateExpression: 'SET #status = :queued',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':queued': 'QUEUED' },
    }),
  );
}

/** Chunks reserved whose messages were not all sent yet (the request failed half-way). */
export async function chunksStillQueueing(tenant: string, importId: string): Promise<string[]> {
  const ids: string[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo().send(
      new QueryCommand({
        TableName: config.dataTable(),
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :chunk)',
        FilterExpression: '#status = :queueing',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':pk': jobPartition(tenant, importId), ':chunk': 'CHUNK#', ':queueing': 'QUEUEING' },
        ProjectionExpression: 'chunkId',
        ConsistentRead: true,
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    for (const item of page.Items ?? []) ids.push(String(item.chunkId));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return ids;
}

/** OPEN → PROCESSING. Committing a job that is already committed changes nothing. */
export async function commitJob(tenant: string, importId: string): Promise<void> {
  try {
    await dynamo().send(
      new UpdateCommand({
        TableName: config.dataTable(),
        Key: { pk: jobPartition(tenant, importId), sk: JOB_SORT_KEY },
        UpdateExpression: 'SET #status = :processing, committedAt = :now, updatedAt = :now',
        ConditionExpression: '#status = :open',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':processing': 'PROCESSING', ':open': 'OPEN', ':now': new Date().toISOString() },
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
}

/**
 * Marks the job finished if it is committed and every batch is done; safe to call from
 * anywhere, any number of times: exactly one caller wins (the conditional update), and it
 * gets the finished job back to announce it.
 */
export async function tryCompleteJob(tenant: string, importId: string): Promise<ImportJob | undefined> {
  const job = await getJob(tenant, importId);
  if (!job || job.status !== 'PROCESSING' || job.batchesDone < job.batchesTotal) return undefined;
  const status = finalStatus(job);
  const now = new Date().toISOString();
  try {
    await dynamo().send(
      new UpdateCommand({
        TableName: config.dataTable(),
        Key: { pk: jobPartition(tenant, importId), sk: JOB_SORT_KEY },
        UpdateExpression: 'SET #status = :final, completedAt = :now, updatedAt = :now',
        ConditionExpression: '#status = :processing AND batchesDone = batchesTotal AND #processed = :processed AND #failed = :failed',
        ExpressionAttributeNames: { '#status': 'status', '#processed': 'processed', '#failed': 'failed' },
        ExpressionAttributeValues: { ':final': status, ':now': now, ':processing': 'PROCESSING', ':processed': job.processed, ':failed': job.failed },
      }),
    );
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return undefined;
    throw error;
  }
  return { ...job, status, completedAt: now, updatedAt: now };
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
