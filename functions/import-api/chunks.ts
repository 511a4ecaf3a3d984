/**
 * Accepting a chunk of items into an OPEN job: validate each item, split the accepted ones
 * into queue messages, record the chunk and its batch count with the job (one transaction),
 * then queue the messages. A chunkId makes the request idempotent: the same chunk sent
 * again is acknowledged with the first answer and queues nothing new (if the first attempt
 * died half-way through queueing, its messages are sent again; the worker skips batches it
 * has done). The same chunkId with other items is a 409.
 */
import { createHash, randomUUID } from 'node:crypto';
import { ApiError, conflict } from '../shared/http/errors.ts';
import { log } from '../shared/log.ts';
import { validateItems, type Rejection } from '../shared/imports/items.ts';
import { attachChunk, getChunk, markChunkQueued, reserveChunk, type ChunkRecord, type ImportJob } from '../shared/imports/jobs.ts';
import { MAX_CHUNKS_PER_JOB } from '../shared/imports/limits.ts';
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

  const { accepted, rejected } = validateItems(items, job);
  const messages = toMessages(job, chunkId, accepted);
  const record: ChunkRecord = { chunkId, hash, status: 'QUEUEING', accepted: accepted.length, rejectedCount: rejected.length, batches: messages.length };
  const outcome = await reserveChunk(job, record);
  if (outcome === 'not-open') throw conflict(`import ${job.importId} was committed; it takes no more items`);
  if (outcome === 'full') throw conflict(`import ${job.importId} has ${MAX_CHUNKS_PER_JOB} chunks, as many as a job takes; commit it and start another import`);
  if (outcome === 'exists') {
    const existing = await getChunk(job.tenant, job.importId, chunkId);
    if (existing) return replay(job, existing, hash, items);
  }
  await queueChunk(job, chunkId, messages);
  return { chunkId, accepted: accepted.length, rejected, replayed: false };
}

/**
 * Queues a recorded chunk's messages and marks it queued. If that fails, the chunk is
 * recorded but not (fully) queued, and the job cannot finish until the same items are sent
 * again with the same chunkId: the 503 carries it (the server may have made it up), so a
 * client that sent none can still resend.
 */
async function queueChunk(job: ImportJob, chunkId: string, messages: ReturnType<typeof toMessages>): Promise<void> {
  try {
    await sendImportMessages(messages);
    await markChunkQueued(job.tenant, job.importId, chunkId);
  } catch (error) {
    log.warn('chunk recorded but not fully queued', { importId: job.importId, chunkId, error: String(error) });
    throw new ApiError(503, 'SERVICE_UNAVAILABLE', `chunk ${chunkId} was recorded but not fully queued; send the same items again with chunkId "${chunkId}"`, [
      { field: 'body.chunkId', issue: 'send the same items again with this chunkId', value: chunkId },
    ]);
  }
}

/** The same items as the first time (the hash matches), so validating them again gives the same answer. */
async function replay(job: ImportJob, existing: ChunkRecord, hash: string, items: readonly unknown[]): Promise<ChunkReceipt> {
  if (existing.hash !== hash) throw conflict(`chunk ${existing.chunkId} was submitted before with other items`);
  const { accepted, rejected } = validateItems(items, job);
  if (existing.status === 'QUEUEING') {
    // The first attempt recorded the chunk but may not have listed it on the job or queued all of it.
    const attached = await attachChunk(job, existing.chunkId);
    if (attached !== 'attached') throw conflict(attached === 'full' ? `import ${job.importId} has ${MAX_CHUNKS_PER_JOB} chunks, as many as a job takes` : `import ${job.importId} was committed; it takes no more items`);
    await queueChunk(job, existing.chunkId, toMessages(job, existing.chunkId, accepted));
  }
  return { chunkId: existing.chunkId, accepted: existing.accepted, rejected, replayed: true };
}
