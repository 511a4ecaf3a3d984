/**
 * Opaque list cursors: the key to continue after, bound to the partition and the sort it was
 * made for, so a cursor can neither jump tenants nor be replayed against another ordering.
 */
import { badRequest } from '../http/errors.ts';
import { ITEM_PREFIX, SORT_INDEXES, type SortField } from './keys.ts';

export interface CursorState {
  sort: SortField;
  order: 'asc' | 'desc';
  key: Record<string, string>;
}

export function encodeCursor(state: CursorState): string {
  return Buffer.from(JSON.stringify({ v: 1, ...state })).toString('base64url');
}

/**
 * The key a cursor continues after, checked to be exactly the key shape of its sort: the
 * table key (pk, sk) plus the index's sort attribute, each a non-empty string of the shape
 * we write. Anything else (an edited or truncated cursor) is a 400, never a query the data
 * store refuses.
 */
export function decodeCursor(cursor: string, expected: { partition: string; sort: SortField; order: 'asc' | 'desc' }): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  const state = parsed as Partial<CursorState> & { v?: number };
  if (state === null || typeof state !== 'object' || state.v !== 1 || state.sort !== expected.sort || state.order !== expected.order) throw invalidCursor();
  const key: unknown = state.key;
  if (key === null || typeof key !== 'object' || Array.isArray(key)) throw invalidCursor();
  const record = key as Record<string, unknown>;
  const index = SORT_INDEXES[expected.sort];
  const names = index ? ['pk', 'sk', index.attribute] : ['pk', 'sk'];
  const hasExactlyTheKey = Object.keys(record).length === names.length && names.every((name) => typeof record[name] === 'string' && record[name] !== '');
  if (!hasExactlyTheKey) throw invalidCursor();
  const pk = record.pk as string;
  const sk = record.sk as string;
  const id = sk.startsWith(ITEM_PREFIX) ? sk.slice(ITEM_PREFIX.length) : '';
  if (pk !== expected.partition || id === '' || (index && !(record[index.attribute] as string).endsWith(`#${id}`))) throw invalidCursor();
  return record as Record<string, string>;
}

function invalidCursor() {
  return badRequest('the cursor is not valid for this list (it belongs to another list, sort or order, or was altered)', [{ field: 'query.cursor', issue: 'invalid cursor' }]);
}
