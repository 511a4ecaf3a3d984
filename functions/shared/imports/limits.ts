/**
 * Limits of the import flow, in one place, as AWS documents them. SQS takes 1 MiB a message and
 * 1 MiB of bodies a SendMessageBatch call (the quota since August 2025; the queue's
 * MaximumMessageSize is set to match in Terraform), and 10 messages a batch call. A queue
 * message carries at most 98 items: the worker loads a message's state in ONE BatchGetItem
 * (100 keys: its 98 items, its chunk and its plan), then writes the items in one conditional
 * TransactWriteItems (≤ 100 actions). Loading, planning and settling are a fixed number of
 * round trips per message, so a message carries as many items as one BatchGetItem can load:
 * fewer round trips per item, and fewer invocations per job.
 */
import { MAX_ITEM_DATA_BYTES } from '../items/item.ts';

export const MAX_REQUEST_ITEMS = 1000;
export const MAX_REQUEST_BYTES = 5 * 1024 * 1024;
export const ITEMS_PER_MESSAGE = 98;
/** Puts per BatchWriteItem (DynamoDB's limit): the failure records' writes. */
export const ITEMS_PER_WRITE = 25;
export const SQS_MAX_MESSAGE_BYTES = 1024 * 1024;
/** Room left in a message for the envelope (tenant, collection, ids); items get the rest. */
export const MESSAGE_ENVELOPE_BYTES = 2 * 1024;
export const MESSAGES_PER_SEND_BATCH = 10;
/**
 * An imported item's data: what PUT /items allows (MAX_ITEM_DATA_BYTES, 350 KB, so the stored
 * item stays under DynamoDB's 400 KB), which also fits one queue message with its envelope.
 */
export const MAX_IMPORT_ITEM_DATA_BYTES = Math.min(MAX_ITEM_DATA_BYTES, SQS_MAX_MESSAGE_BYTES - MESSAGE_ENVELOPE_BYTES - 1024);
/**
 * Chunks one job takes. The job record lists its chunkIds (≤ 128 bytes each): 1,500 of them
 * are under 200 KB, so the record stays far from DynamoDB's 400 KB item limit whatever the
 * client sends (1,500 chunks of 1,000 items: 1.5 million items a job).
 */
export const MAX_CHUNKS_PER_JOB = 1500;
export const FAILURES_PAGE_DEFAULT = 100;
export const FAILURES_PAGE_MAX = 1000;
/** Receives before SQS moves an import message to the DLQ (the queue's redrive policy). */
export function importMaxReceiveCount(): number {
  const value = Number(process.env.IMPORT_MAX_RECEIVE_COUNT ?? 5);
  return Number.isInteger(value) && value > 0 ? value : 5;
}
