/**
 * Opaque list cursors: the key to continue after, bound to the partition and the sort it was
 * made for, so a cursor can neither jump tenants nor be replayed against another ordering.
 */
import { badRequest } from '../http/errors.ts';
import type { SortField } from './keys.ts';

export interface CursorState {
  sort: SortField;
  order: 'asc' | 'desc';
  key: Record<string, string>;
}

export function encodeCursor(state: CursorState): string {
  return Buffer.from(JSON.stringify({ v: 1, ...state })).toString('base64url');
}

export function decodeCursor(cursor: string, expected: { partition: string; sort: SortField; order: 'asc' | 'desc' }): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  const state = parsed as Partial<CursorState> & { v?: number };
  const key = state?.key;
  if (
    state?.v !== 1 ||
    state.sort !== expected.sort ||
    state.order !== expected.order ||
    !key ||
    typeof key !== 'object' ||
    key.pk !== expected.partition ||
    !Object.values(key).every((value) => typeof value === 'string')
  ) {
    throw invalidCursor();
  }
  return key;
}

function invalidCursor() {
  return badRequest('the cursor is not valid for this list (it belongs to another list, sort or order)', [{ field: 'query.cursor', issue: 'invalid cursor' }]);
}
