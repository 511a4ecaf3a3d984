/**
 * Seeds the analytics table with exactly what the processor would have written, fast: the
 * processor's own `storeTransaction` (functions/shared/analytics/store.ts) makes each batch's
 * writes, which are applied in memory in batch order (a Put makes an item; an Update's
 * `ADD`/`SET` clauses change it, as DynamoDB would), and the final items go out with
 * BatchWriteItem in parallel. Through the emulator's transactions the processor stores
 * 25–40 events/s here, which is hours for the 100,000 events the read benchmark needs.
 *
 * Only the expression forms the store writes are understood (`ADD #n :v` on numbers and
 * number sets, `SET #n = :v`, `SET #n = if_not_exists(#n, :v)`); anything else throws, so a
 * change to the store cannot be silently mis-seeded. tests/integration/analytics-seed.test.ts
 * checks that a seeded table equals one the processor wrote, item for item.
 */
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { dynamo } from '../../functions/shared/aws-clients.ts';
import { config } from '../../functions/shared/config.ts';
import type { ShardCounts } from '../../functions/shared/analytics/keys.ts';
import { writerShardCounts } from '../../functions/shared/analytics/shard-counts.ts';
import { storeTransaction, type EventToStore } from '../../functions/shared/analytics/store.ts';
import type { TransactItems } from '../../functions/shared/imports/transact.ts';
import { pool } from './fixtures.ts';

type Item = Record<string, unknown>;

const keyOf = (key: Item) => `${String(key.pk)}\u0000${String(key.sk)}`;

/** Digits after the decimal point of a number as DynamoDB would hold it. */
function decimals(n: number): number {
  const text = String(n);
  return text.includes('e') ? -1 : (text.split('.')[1]?.length ?? 0);
}

/** DynamoDB adds numbers in decimal; doubles would drift in the last digit (0.1 + 0.2). */
function addNumbers(a: number, b: number): number {
  const places = Math.max(decimals(a), decimals(b));
  if (places <= 0) return a + b;
  const scale = 10 ** places;
  return (Math.round(a * scale) + Math.round(b * scale)) / scale;
}

/** Splits `a, b, if_not_exists(c, d)` at the commas outside parentheses. */
const clausesOf = (text: string) => text.split(/,\s*(?![^()]*\))/).map((c) => c.trim()).filter(Boolean);

function applyUpdate(item: Item, update: { UpdateExpression?: string; ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: Item }): void {
  const names = update.ExpressionAttributeNames ?? {};
  const values = update.ExpressionAttributeValues ?? {};
  const match = /^(?:ADD (.+?))?\s*(?:SET (.+))?$/.exec(update.UpdateExpression ?? '');
  if (!match) throw new Error(`cannot seed the update ${update.UpdateExpression}`);
  const name = (placeholder: string) => names[placeholder] ?? (() => { throw new Error(`unknown name ${placeholder}`); })();
  const value = (placeholder: string) => {
    if (!(placeholder in values)) throw new Error(`unknown value ${placeholder}`);
    return values[placeholder];
  };
  for (const clause of clausesOf(match[1] ?? '')) {
    const [target, operand] = clause.split(/\s+/) as [string, string];
    const attribute = name(target);
    const add = value(operand);
    const current = item[attribute];
    if (typeof add === 'number') item[attribute] = addNumbers(typeof current === 'number' ? current : 0, add);
    else if (add instanceof Set) item[attribute] = new Set([...(current instanceof Set ? current : []), ...add]);
    else throw new Error(`cannot ADD ${JSON.stringify(add)} to ${attribute}`);
  }
  for (const clause of clausesOf(match[2] ?? '')) {
    const plain = /^(#\w+) = (:\w+)$/.exec(clause);
    const ifNotExists = /^(#\w+) = if_not_exists\((#\w+), (:\w+)\)$/.exec(clause);
    if (plain) item[name(plain[1]!)] = value(plain[2]!);
    else if (ifNotExists && ifNotExists[1] === ifNotExists[2]) item[name(ifNotExists[1]!)] ??= value(ifNotExists[3]!);
    else throw new Error(`cannot seed the clause ${clause}`);
  }
}

/** Applies one transaction's writes to the in-memory table, as DynamoDB would apply them. */
export function applyTransaction(table: Map<string, Item>, writes: TransactItems): void {
  for (const write of writes) {
    if (write.Put) {
      const item = write.Put.Item as Item;
      if (table.has(keyOf(item))) throw new Error(`seeding the same event twice: ${keyOf(item)}`);
      table.set(keyOf(item), structuredClone(item));
    } else if (write.Update) {
      const key = write.Update.Key as Item;
      const item = table.get(keyOf(key)) ?? { ...key };
      applyUpdate(item, write.Update);
      table.set(keyOf(key), item);
    } else {
      throw new Error(`cannot seed ${Object.keys(write).join(', ')}`);
    }
  }
}

/**
 * The items the processor would have written for these batches (each as one SQS batch the
 * processor stores in one transaction), in the order given, with these shard counts per
 * tenant-day (./functions/shared/analytics/shard-counts.ts). No event may repeat.
 */
export function seededItems(batches: EventToStore[][], counts: ReadonlyMap<string, ShardCounts>): Item[] {
  const table = new Map<string, Item>();
  for (const batch of batches) applyTransaction(table, storeTransaction(batch, batch.map((_, i) => i), [], counts));
  return [...table.values()];
}

/** Writes the items with BatchWriteItem (25 a call, `concurrency` calls at once), retrying what DynamoDB leaves unprocessed. */
export async function writeItems(items: Item[], concurrency = 8): Promise<void> {
  const table = config.analyticsTable();
  await pool(Math.ceil(items.length / 25), concurrency, async (chunk) => {
    let requests = items.slice(chunk * 25, chunk * 25 + 25).map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 1; requests.length > 0; attempt++) {
      try {
        const { UnprocessedItems } = await dynamo().send(new BatchWriteCommand({ RequestItems: { [table]: requests } }));
        requests = (UnprocessedItems?.[table] ?? []) as typeof requests;
      } catch (error) {
        // A busy shared machine can time a call out; a Put of the same item again is harmless.
        if (attempt >= 5) throw error;
      }
      if (attempt >= 20) throw new Error(`${requests.length} items stayed unprocessed`);
      if (requests.length > 0) await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  });
}

/** Seeds a fresh analytics table with what storing these batches would have written. Returns the number of items (the count items and the layout item too). */
export async function seedAnalytics(batches: EventToStore[][], concurrency = 8): Promise<number> {
  // The processor's own first step: the tenant-days' count items (without throttling, they stay at their starting counts).
  const counts = await writerShardCounts(batches.flat().map((item) => ({ tenant: item.enrichment.tenant, day: item.event.detail.timestamp.slice(0, 10) })));
  const items = seededItems(batches, counts);
  await writeItems(items, concurrency);
  return items.length + counts.size + 1;
}
