/**
 * Accepting a chunk of items into an OPEN job: validate each item, split the accepted ones
 * into queue messages, record the chunk and its batch count with the job (one transaction),
 * then queue the messages. A chunkId makes the request idempotent: the same chunk sent
 * again is acknowledged with the first answer and queues nothing new (if the first attempt
 * died half-way through queueing, its messages are sent again; the worker skips batches it
 * has done). The same chunkId with other items is a 409.
 */
import { createHash, randomUUID } from 'node:crypto';
import { conflict } from '../shared/http/errors.ts';
import { validateItems, type Rejection } from '../shared/imports/items.ts';
import { attachChunk, getChunk, markChunkQueued, reserveChunk, type ChunkRecord, type ImportJob } from '../shared/imports/jobs.ts';
import { toMessages } from '../shared/imports/messages.ts';
import { sendImportMessages } from '../shared/imports/queue.ts';

export interface ChunkReceipt {
  chunkId: string;
  accepted: number;
  rejected: Rejection[];
  /** True when this chunk had been accepted before and nothing was queued this time. */
  replayed: boolean;
}

function hashOf(items: readonly unknown[]): string {
  return createHash('sha256').update(JSON.stringify(items)).digest('base64url');
}

export async function submitChunk(job: ImportJob, items: readonly unknown[], requestedChunkId?: string): Promise<ChunkReceipt> {
  const chunkId = requestedChunkId ?? randomUUID();
  const hash = hashOf(items);
  if (requestedChunkId) {
    const existing = await getChunk(job.tenant, job.importId, chunkId);
    if (existing) return replay(job, existing, hash, items);
  }
  if (job.status !== 'OPEN') throw conflict(`import ${job.importId} is ${job.status}; it takes no more items`);

  const { accepted, rejected } = validateItems(items);
  const messages = toMessages(job, chunkId, accepted);
  const record: ChunkRecord = {
    chunkId,
    hash,
    status: 'QUEUEING',
    accepted: accepted.length,
    rejected,
    batches: messages.length,
  };
  const outcome = await reserveChunk(job, record);
  if (outcome === 'not-open') throw conflict(`import ${job.importId} was committed; it takes no more items`);
  if (outcome === 'exists') {
    const existing = await getChunk(job.tenant, job.importId, chunkId);
    if (existing) return replay(job, existing, hash, items);
  }
  await sendImportMessages(messages);
  await markChunkQueued(job.tenant, job.importId, chunkId);
  return { chunkId, accepted: accepted.length, rejected: record.rejected, replayed: false };
}

async function replay(job: ImportJob, existing: ChunkRecord, hash: string, items: readonly unknown[]): Promise<ChunkReceipt> {
  if (existing.hash !== hash) throw conflict(`chunk ${existing.chunkId} was submitted before with other items`);
  if (existing.status === 'QUEUEING') {
    // The first attempt recorded the chunk but may not have listed it on the job or queued all of it.
    if (!(await attachChunk(job, existing.chunkId))) throw conflict(`import ${job.importId} was committed; it takes no more items`);
    await sendImportMessages(toMessages(job, existing.chunkId, validateItems(items).accepted));
    await markChunkQueued(job.tenant, job.importId, existing.chunkId);
  }
  return { chunkId: existing.chunkId, accepted: existing.accepted, rejected: existing.rejected, replayed: true };
}
