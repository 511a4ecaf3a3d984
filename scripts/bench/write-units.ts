/**
 * Write units an item PUT costs, computed from the item's size as DynamoDB counts it
 * (functions/shared/dynamo-size.ts) and DynamoDB's capacity rules, for the data table's two
 * list indexes projecting ALL (before) or KEYS_ONLY (after). Prints a table; asserts nothing.
 *
 *   npx tsx scripts/bench/write-units.ts
 *
 * Rules applied (DynamoDB developer guide, capacity units and global secondary indexes):
 * - a write costs 1 unit per started KB of the item (for a replacement or update, of the
 *   larger of the old and new item); in a transaction, 2 per KB;
 * - each index whose entry is written costs 1 unit per started KB of the entry (its
 *   projected attributes plus the table and index keys, plus 100 bytes); an update that
 *   changes an entry's index key deletes the old entry and writes the new one (2 writes),
 *   one that changes only projected attributes rewrites the entry (1 write), one that
 *   touches neither writes nothing to that index;
 * - index writes are not transactional: they are not doubled.
 * Not counted: the collection's STATS item a create or delete also updates (2 units, the
 * same before and after).
 */
import { dynamoItemSize } from '../../functions/shared/dynamo-size.ts';
import { toItemRecord, type ItemRecord } from '../../functions/shared/items/item.ts';

export type Projection = 'ALL' | 'KEYS_ONLY';

const KB = 1024;
const INDEX_ENTRY_OVERHEAD = 100;
const units = (bytes: number) => Math.ceil(bytes / KB);

function indexEntryBytes(record: ItemRecord, indexAttribute: 'createdSort' | 'updatedSort', projection: Projection): number {
  const entry = projection === 'ALL' ? record : { pk: record.pk, sk: record.sk, [indexAttribute]: record[indexAttribute] };
  return dynamoItemSize(entry) + INDEX_ENTRY_OVERHEAD;
}

/** Units for a PUT that creates the item (a one-item transaction) or replaces it (same size), per projection. */
export function putWriteUnits(dataBytes: number, projection: Projection): { create: number; replace: number; itemBytes: number } {
  const at = new Date('2026-11-29T12:00:00.000Z').toISOString();
  const later = new Date('2026-11-29T12:00:01.000Z').toISOString();
  const data = { text: 'x'.repeat(Math.max(0, dataBytes - 12)) }; // {"text":"…"} is dataBytes of JSON
  const created = toItemRecord('acme', { collection: 'books', id: 'item-1', data, version: 1, createdAt: at, updatedAt: at });
  const replaced = toItemRecord('acme', { collection: 'books', id: 'item-1', data, version: 2, createdAt: at, updatedAt: later });
  const itemBytes = Math.max(dynamoItemSize(created), dynamoItemSize(replaced));
  const table = 2 * units(itemBytes); // transactional
  const createIndexes = units(indexEntryBytes(created, 'createdSort', projection)) + units(indexEntryBytes(created, 'updatedSort', projection));
  // Replace: updatedSort changes (delete + put in byUpdatedAt); createdSort does not (byCreatedAt rewritten only if it holds the data).
  const replaceIndexes =
    units(indexEntryBytes(created, 'updatedSort', projection)) +
    units(indexEntryBytes(replaced, 'updatedSort', projection)) +
    (projection === 'ALL' ? units(indexEntryBytes(replaced, 'createdSort', projection)) : 0);
  return { create: table + createIndexes, replace: table + replaceIndexes, itemBytes };
}

function main(): void {
  const rows: string[] = ['| PUT of | item bytes (DynamoDB) | create: ALL → KEYS_ONLY | replace: ALL → KEYS_ONLY |', '| --- | --- | --- | --- |'];
  for (const [label, bytes] of [
    ['10 KB', 10 * KB],
    ['300 KB', 300 * KB],
  ] as const) {
    const all = putWriteUnits(bytes, 'ALL');
    const keys = putWriteUnits(bytes, 'KEYS_ONLY');
    rows.push(`| ${label} | ${all.itemBytes} | ${all.create} → ${keys.create} | ${all.replace} → ${keys.replace} |`);
  }
  console.log(rows.join('\n'));
}

if (import.meta.url === `file://${process.argv[1]}`) main();
