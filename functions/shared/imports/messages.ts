/**
 * The import queue's message: one batch of at most 98 items (ITEMS_PER_MESSAGE) of one job, within SQS's size
 * limit. `batchId` is `<chunkId>.<n>`: stable, so a chunk sent again produces the same
 * batches, and the chunk's set of settled batch numbers makes a second delivery a no-op.
 */
import * as v from 'valibot';
import { MAX_ITEM_SHARDS } from '../config.ts';
import { ITEMS_PER_MESSAGE, MESSAGE_ENVELOPE_BYTES, MESSAGES_PER_SEND_BATCH, SQS_MAX_MESSAGE_BYTES } from './limits.ts';
import type { AcceptedItem, ImportItem } from './items.ts';

export const ImportMessageSchema = v.object({
  v: v.literal(1),
  tenant: v.string(),
  collection: v.string(),
  /** The collection's item shards (../items/shards.ts), fixed when the job was created; absent on messages queued before shards (the worker then asks legacyImportShards). */
  itemShards: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_ITEM_SHARDS))),
  importId: v.string(),
  chunkId: v.string(),
  /** The batch's number within its chunk. */
  batch: v.pipe(v.number(), v.integer(), v.minValue(0)),
  /** `<chunkId>.<batch>` */
  batchId: v.string(),
  items: v.pipe(
    v.array(v.object({ id: v.string(), data: v.record(v.string(), v.unknown()) })),
    v.minLength(1),
    v.maxLength(ITEMS_PER_MESSAGE),
  ),
});
export type ImportMessage = v.InferOutput<typeof ImportMessageSchema>;

/**
 * Groups items into batches of at most `maxItems` whose items together stay within
 * `maxBytes`, in order. Every item must itself fit (validation guarantees it).
 */
export function splitIntoBatches<T extends { bytes: number }>(
  items: readonly T[],
  maxItems = ITEMS_PER_MESSAGE,
  maxBytes = SQS_MAX_MESSAGE_BYTES - MESSAGE_ENVELOPE_BYTES,
): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    if (item.bytes > maxBytes) throw new Error(`an item of ${item.bytes} bytes cannot fit a batch of ${maxBytes}`);
    if (current.length > 0 && (current.length === maxItems || bytes + item.bytes > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += item.bytes;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

export function toMessages(job: { tenant: string; collection: string; importId: string; itemShards: number }, chunkId: string, items: readonly AcceptedItem[]): ImportMessage[] {
  return splitIntoBatches(items).map((batch, n) => ({
    v: 1,
    tenant: job.tenant,
    collection: job.collection,
    itemShards: job.itemShards,
    importId: job.importId,
    chunkId,
    batch: n,
    batchId: `${chunkId}.${n}`,
    items: batch.map(({ id, data }): ImportItem => ({ id, data })),
  }));
}

/** Groups message bodies into SendMessageBatch calls: at most 10 entries and 1 MiB of bodies each. */
export function groupForSend(bodies: readonly string[], maxEntries = MESSAGES_PER_SEND_BATCH, maxBytes = SQS_MAX_MESSAGE_BYTES): string[][] {
  const sizes = bodies.map((body) => ({ body, bytes: Buffer.byteLength(body) }));
  return splitIntoBatches(sizes, maxEntries, maxBytes).map((group) => group.map((entry) => entry.body));
}
