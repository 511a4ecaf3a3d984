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
