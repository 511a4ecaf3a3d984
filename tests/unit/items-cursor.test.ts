import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../../functions/shared/items/cursor.ts';
import { collectionPartition } from '../../functions/shared/items/keys.ts';
import { scalarReadings } from '../../functions/shared/items/repository.ts';

const partition = collectionPartition('acme', 'books');

describe('list cursors', () => {
  it('round-trips the key it was made for', () => {
    const key = { pk: partition, sk: 'ITEM#dune', createdSort: '2026-01-01T00:00:00.000Z#dune' };
    const cursor = encodeCursor({ sort: 'createdAt', order: 'desc', key });
    expect(decodeCursor(cursor, { partition, sort: 'createdAt', order: 'desc' })).toEqual(key);
  });

  it.each([
    ['another partition', { partition: collectionPartition('evil', 'books'), sort: 'id', order: 'asc' }],
    ['another sort', { partition, sort: 'updatedAt', order: 'asc' }],
    ['another order', { partition, sort: 'id', order: 'desc' }],
  ] as const)('refuses a cursor used for %s', (_name, expected) => {
    const cursor = encodeCursor({ sort: 'id', order: 'asc', key: { pk: partition, sk: 'ITEM#a' } });
    expect(() => decodeCursor(cursor, expected)).toThrow(/cursor/);
  });

  it.each(['', 'garbage', Buffer.from('{"v":1}').toString('base64url'), Buffer.from('{"v":1,"sort":"id","order":"asc","key":{"pk":{"S":"x"}}}').toString('base64url')])(
    'refuses the malformed cursor %j with a 400',
    (cursor) => {
      expect(() => decodeCursor(cursor, { partition, sort: 'id', order: 'asc' })).toThrow(expect.objectContaining({ statusCode: 400 }));
    },
  );
});

// Issue 19.5: a cursor edited to lose (or gain) a key attribute reached DynamoDB, which refused it: 503.
describe('tampered cursors', () => {
  const key = { pk: partition, sk: 'ITEM#dune', createdSort: '2026-01-01T00:00:00.000Z#dune' };
  const tamper = (edit: (state: Record<string, unknown>) => void) => {
    const state = JSON.parse(Buffer.from(encodeCursor({ sort: 'createdAt', order: 'asc', key }), 'base64url').toString()) as Record<string, unknown>;
    edit(state);
    return Buffer.from(JSON.stringify(state)).toString('base64url');
  };
  const keyOf = (state: Record<string, unknown>) => state.key as Record<string, unknown>;
  it.each([
    ['without its index attribute', (s: Record<string, unknown>) => delete keyOf(s).createdSort],
    ['without its sort key', (s: Record<string, unknown>) => delete keyOf(s).sk],
    ['with an extra attribute', (s: Record<string, unknown>) => (keyOf(s).updatedSort = 'x')],
    ['with an empty attribute', (s: Record<string, unknown>) => (keyOf(s).createdSort = '')],
    ['with a sort key of another kind', (s: Record<string, unknown>) => (keyOf(s).sk = 'STATS')],
    ['with an index attribute of another item', (s: Record<string, unknown>) => (keyOf(s).createdSort = '2026-01-01T00:00:00.000Z#other')],
    ['with a key that is a list', (s: Record<string, unknown>) => (s.key = [partition])],
    ['that is null', (s: Record<string, unknown>) => Object.keys(s).forEach((k) => delete s[k])],
  ])('refuses a cursor %s with a 400', (_name, edit) => {
    expect(() => decodeCursor(tamper(edit), { partition, sort: 'createdAt', order: 'asc' })).toThrow(expect.objectContaining({ statusCode: 400 }));
  });
  it('refuses the JSON null as a cursor', () => {
    expect(() => decodeCursor(Buffer.from('null').toString('base64url'), { partition, sort: 'id', order: 'asc' })).toThrow(expect.objectContaining({ statusCode: 400 }));
  });
});

describe('filter values', () => {
  it.each([
    ['red', ['red']],
    ['3', ['3', 3]],
    ['-2.5', ['-2.5', -2.5]],
    ['007', ['007']],
    ['true', ['true', true]],
    ['false', ['false', false]],
    ['null', ['null', null]],
    ['1e9', ['1e9']],
  ])('%j matches %j', (raw, readings) => {
    expect(scalarReadings(raw)).toEqual(readings);
  });
});
