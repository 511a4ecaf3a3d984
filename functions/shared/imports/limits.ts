/**
 * Limits of the import flow, in one place. SQS takes 256 KB a message and 256 KB a
 * SendMessageBatch call in the emulator (AWS has allowed 1 MB since 2025; we stay at the old
 * limit so the same code runs everywhere), and 10 messages a batch call. A queue message carries
 * at most 98 items: the worker loads a message's state in ONE BatchGetItem (100 keys: its 98
 * items, its chunk and its plan), then writes the items in one conditional TransactWriteItems
 * (≤ 100 actions). Every DynamoDB call costs (the emulator serves them one at a time), so the
 * per-message calls (load, plan, settle) are spread over as many items as one BatchGetItem allows.
 */
export const MAX_REQUEST_ITEMS = 1000;
export const MAX_REQUEST_BYTES = 5 * 1024 * 1024;
export const ITEMS_PER_MESSAGE = 98;
/** Puts per BatchWriteItem (DynamoDB's limit): the failure records' writes. */
export const ITEMS_PER_WRITE = 25;
export const SQS_MAX_MESSAGE_BYTES = 256 * 1024;
/** Room left in a message for the envelope (tenant, collection, ids); items get the rest. */
export const MESSAGE_ENVELOPE_BYTES = 2 * 1024;
export const MESSAGES_PER_SEND_BATCH = 10;
/**
 * An imported item's data must fit one queue message with its envelope. That is less than
 * PUT /items allows (MAX_ITEM_DATA_BYTES, 350 KB); larger items go through PUT /items.
 */
export const MAX_IMPORT_ITEM_DATA_BYTES = SQS_MAX_MESSAGE_BYTES - MESSAGE_ENVELOPE_BYTES - 1024;
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
