/** Validating the items of an import request, one by one, so one bad item never sinks the chunk. */
import { MAX_DYNAMO_ITEM_BYTES } from '../dynamo-size.ts';
import { storedItemSize } from '../items/item.ts';
import { itemDataProblems, storableText } from '../items/validate.ts';
import { MAX_IMPORT_ITEM_DATA_BYTES } from './limits.ts';

export const ID_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;

export interface ImportItem {
  id: string;
  data: Record<string, unknown>;
}

/**
 * A rejection is echoed back (the chunk record keeps only their count; a replay recomputes
 * them), so its text is made well-formed and cut to this many UTF-8 bytes: 1,000 of them
 * stay a small answer.
 */
export const MAX_REASON_BYTES = 200;
const MAX_ECHOED_ID_BYTES = 128;

export interface Rejection {
  /** Position of the item in the request's `items`. */
  index: number;
  id?: string;
  reason: string;
}

/** An accepted item with its byte size as JSON (what it costs in a queue message). */
export interface AcceptedItem extends ImportItem {
  index: number;
  bytes: number;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Splits `items` into accepted and rejected. An id seen twice in one request is rejected the
 * second time: one BatchWriteItem cannot hold the same key twice, and "which one wins" would
 * otherwise be up to the queue's ordering.
 */
export function validateItems(items: readonly unknown[], target: { tenant: string; collection: string }): { accepted: AcceptedItem[]; rejected: Rejection[] } {
  const accepted: AcceptedItem[] = [];
  const rejected: Rejection[] = [];
  const seen = new Set<string>();
  // The id and reason are echoed back: made well-formed and short.
  const reject = (index: number, id: string | undefined, reason: string) =>
    rejected.push({ index, ...(id !== undefined ? { id: storableText(id, MAX_ECHOED_ID_BYTES) } : {}), reason: storableText(reason, MAX_REASON_BYTES) });
  items.forEach((item, index) => {
    if (!isPlainObject(item)) {
      reject(index, undefined, 'must be an object {id, data}');
      return;
    }
    const id = item.id;
    if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
      reject(index, typeof id === 'string' ? id : undefined, `id must be a string matching ${ID_PATTERN.source}`);
      return;
    }
    const unknownKeys = Object.keys(item).filter((key) => key !== 'id' && key !== 'data');
    if (unknownKeys.length > 0) {
      // Quoted as JSON: an empty name shows, and a lone surrogate is escaped, not stored.
      reject(index, id, `unknown field(s): ${unknownKeys.slice(0, 5).map((key) => JSON.stringify(key)).join(', ')}`);
      return;
    }
    if (!isPlainObject(item.data)) {
      reject(index, id, 'data must be a JSON object');
      return;
    }
    // The same checks as PUT /items: data DynamoDB cannot store is refused here, not in the worker.
    const problems = itemDataProblems(item.data, 'data');
    if (problems.length > 0) {
      reject(index, id, problems.map((p) => `${p.field}: ${p.issue}`).join('; '));
      return;
    }
    const bytes = Buffer.byteLength(JSON.stringify(item.data));
    if (bytes > MAX_IMPORT_ITEM_DATA_BYTES) {
      reject(index, id, `data is ${bytes} bytes; an imported item holds at most ${MAX_IMPORT_ITEM_DATA_BYTES}`);
      return;
    }
    const storedBytes = storedItemSize(target.tenant, { collection: target.collection, id }, item.data);
    if (storedBytes > MAX_DYNAMO_ITEM_BYTES) {
      reject(index, id, `the item would be ${storedBytes} bytes as DynamoDB counts them; at most ${MAX_DYNAMO_ITEM_BYTES} are stored`);
      return;
    }
    if (seen.has(id)) {
      reject(index, id, 'duplicate id in this request');
      return;
    }
    seen.add(id);
    accepted.push({ id, data: item.data, index, bytes: bytes + Buffer.byteLength(id) + 20 });
  });
  return { accepted, rejected };
}
