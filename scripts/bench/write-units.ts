/**
 * DynamoDB's capacity rules in one place: the write units a write costs (table and index
 * entries) and the read units a read costs, computed from items' sizes as DynamoDB counts
 * them (functions/shared/dynamo-size.ts). Used by the cost benchmark's SDK middleware
 * (./aws-usage.ts, since the emulator reports a fixed figure per call, not DynamoDB's) and,
 * alone, to compare the data table's list indexes projecting ALL (before) or KEYS_ONLY (after):
 *
 *   npx tsx scripts/bench/write-units.ts
 *
 * Rules applied (DynamoDB developer guide, capacity units and global secondary indexes):
 * - a write costs 1 unit per started KB of the item (for a replacement or update, of the
 *   larger of the old and new item; a delete, of the old one); in a transaction, 2 per KB;
 * - each index whose entry is written costs 1 unit per started KB of the entry (its
 *   projected attributes plus the table and index keys, plus 100 bytes); an update that
 *   changes an entry's index key deletes the old entry and writes the new one (2 writes),
 *   one that changes only projected attributes rewrites the entry (1 write), one that
 *   touches neither writes nothing to that index;
 * - index writes are not transactional: they are not doubled;
 * - a read costs 1 unit per started 4 KB (a Query or batch: of all items it returns
 *   together; a GetItem or batch member: of its item), half for an eventually consistent
 *   read, twice for a transactional one.
 */
import { dynamoItemSize } from '../../functions/shared/dynamo-size.ts';
import { DEFAULT_ITEM_SHARDS } from '../../functions/shared/config.ts';
import { toItemRecord } from '../../functions/shared/items/item.ts';
import type { IndexDeclaration, TableDeclaration } from '../local/topology.ts';

export type Projection = IndexDeclaration['projection'];
export type TableShape = Pick<TableDeclaration, 'hashKey' | 'rangeKey' | 'indexes'>;
type Item = object;

const KB = 1024;
const READ_UNIT_BYTES = 4 * KB;
const INDEX_ENTRY_OVERHEAD = 100;
const writeUnitsOf = (bytes: number) => Math.max(1, Math.ceil(bytes / KB));
const sizeOf = (item: Item | undefined) => (item ? dynamoItemSize(item) : 0);

/** The index's entry for an item, or undefined when the item lacks one of the index's keys (sparse index). */
function indexEntry(table: TableShape, index: IndexDeclaration, image: Item | undefined): Record<string, unknown> | undefined {
  const item = image as Record<string, unknown> | undefined;
  if (!item || item[index.hashKey] === undefined || item[index.rangeKey] === undefined) return undefined;
  if (index.projection === 'ALL') return item;
  const keys = [table.hashKey, table.rangeKey, index.hashKey, index.rangeKey];
  return Object.fromEntries(keys.map((k) => [k, item[k]]));
}

const entryUnits = (entry: Item) => writeUnitsOf(dynamoItemSize(entry) + INDEX_ENTRY_OVERHEAD);
const sameValue = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The index entries one item's write writes (each index partition it lands in, and its units), from the item before and after (undefined: absent). */
export function indexEntryWrites(table: TableShape, before: Item | undefined, after: Item | undefined): Array<{ index: string; pk: unknown; units: number }> {
  const writes: Array<{ index: string; pk: unknown; units: number }> = [];
  for (const index of table.indexes) {
    const old = indexEntry(table, index, before);
    const next = indexEntry(table, index, after);
    const write = (entry: Record<string, unknown>) => writes.push({ index: index.name, pk: entry[index.hashKey], units: entryUnits(entry) });
    if (old && next && sameValue(old[index.hashKey], next[index.hashKey]) && sameValue(old[index.rangeKey], next[index.rangeKey])) {
      if (!sameValue(old, next)) write(dynamoItemSize(old) > dynamoItemSize(next) ? old : next); // rewritten in place
    } else {
      if (old) write(old); // deleted
      if (next) write(next); // written
    }
  }
  return writes;
}

/** Units the index entries of one item's write cost. */
export function indexWriteUnits(table: TableShape, before: Item | undefined, after: Item | undefined): number {
  return indexEntryWrites(table, before, after).reduce((sum, w) => sum + w.units, 0);
}

/** Units the table itself charges one item's write: the larger image, per started KB, doubled in a transaction. */
export function tableWriteUnits(before: Item | undefined, after: Item | undefined, transactional: boolean): number {
  return (transactional ? 2 : 1) * writeUnitsOf(Math.max(sizeOf(before), sizeOf(after)));
}

/** Units one item's write costs: the table (doubled in a transaction) plus its index entries. */
export function writeUnits(table: TableShape, before: Item | undefined, after: Item | undefined, transactional: boolean): number {
  return tableWriteUnits(before, after, transactional) + indexWriteUnits(table, before, after);
}

export type ReadMode = 'eventual' | 'strong' | 'transactional';
const READ_FACTOR: Record<ReadMode, number> = { eventual: 0.5, strong: 1, transactional: 2 };

/** Units a read of `bytes` costs (a Query page, or one GetItem): at least one 4 KB unit, even if nothing was found. */
export function readUnits(bytes: number, mode: ReadMode): number {
  return READ_FACTOR[mode] * Math.max(1, Math.ceil(bytes / READ_UNIT_BYTES));
}

const DATA_TABLE: TableShape = {
  hashKey: 'pk',
  rangeKey: 'sk',
  indexes: ['createdSort', 'updatedSort'].map((rangeKey) => ({ name: rangeKey, hashKey: 'pk', rangeKey, projection: 'KEYS_ONLY' as Projection })),
};

/** Units for a PUT that creates the item (a one-item transaction) or replaces it (same size), per projection of the list indexes. */
export function putWriteUnits(dataBytes: number, projection: Projection): { create: number; replace: number; itemBytes: number } {
  const table = { ...DATA_TABLE, indexes: DATA_TABLE.indexes.map((index) => ({ ...index, projection })) };
  const at = new Date('2026-11-29T12:00:00.000Z').toISOString();
  const later = new Date('2026-11-29T12:00:01.000Z').toISOString();
  const data = { text: 'x'.repeat(Math.max(0, dataBytes - 12)) }; // {"text":"…"} is dataBytes of JSON
  const created = toItemRecord('acme', { collection: 'books', id: 'item-1', data, version: 1, createdAt: at, updatedAt: at }, DEFAULT_ITEM_SHARDS);
  const replaced = toItemRecord('acme', { collection: 'books', id: 'item-1', data, version: 2, createdAt: at, updatedAt: later }, DEFAULT_ITEM_SHARDS);
  return {
    create: writeUnits(table, undefined, created, true),
    replace: writeUnits(table, created, replaced, true),
    itemBytes: Math.max(dynamoItemSize(created), dynamoItemSize(replaced)),
  };
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
