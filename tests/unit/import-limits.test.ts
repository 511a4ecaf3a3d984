/** Pure logic of the import flow: item validation, batching within SQS/DynamoDB limits, back-off. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_REASON_BYTES, validateItems } from '../../functions/shared/imports/items.ts';
import { ITEMS_PER_MESSAGE, MAX_IMPORT_ITEM_DATA_BYTES, SQS_MAX_MESSAGE_BYTES } from '../../functions/shared/imports/limits.ts';
import { groupForSend, splitIntoBatches, toMessages } from '../../functions/shared/imports/messages.ts';
import { retryDelay } from '../../scripts/import/http.ts';

const job = { tenant: 'acme', collection: 'c', importId: '00000000-0000-4000-8000-000000000000', itemShards: 32 };

const target = { tenant: 'acme', collection: 'books' };

describe('validateItems', () => {
  it('accepts {id, data} and rejects the rest with reasons and indexes', () => {
    const { accepted, rejected } = validateItems([
      { id: 'a', data: { x: 1 } },
      { id: 'bad id', data: {} },
      { id: 'b', data: [] },
      'nope',
      { id: 'c', data: {}, extra: 1 },
      { id: 'a', data: {} },
      { id: 'x'.repeat(129), data: {} },
      { id: 'big', data: { blob: 'x'.repeat(MAX_IMPORT_ITEM_DATA_BYTES) } },
    ], target);
    expect(accepted.map((item) => item.id)).toEqual(['a']);
    expect(rejected.map((r) => [r.index, r.reason.split(' ')[0]])).toEqual([
      [1, 'id'],
      [2, 'data'],
      [3, 'must'],
      [4, 'unknown'],
      [5, 'duplicate'],
      [6, 'id'],
      [7, 'data'],
    ]);
  });

  it('refuses data DynamoDB cannot store, like PUT /items, and echoes a malformed id well-formed', () => {
    const { accepted, rejected } = validateItems([
      { id: 'ok', data: { a: '\ud800' } },
      { id: 'deep', data: { n: 1e300 } },
      { id: 'x\udfffy', data: {} },
    ], target);
    expect(accepted).toEqual([]);
    expect(rejected.map((r) => [r.index, r.reason.split(':')[0]])).toEqual([
      [0, 'data.a'],
      [1, 'data.n'],
      [2, 'id must be a string matching ^[A-Za-z0-9_.-]{1,128}$'],
    ]);
    expect(rejected[2]!.id).toBe('x\ufffdy');
  });

  // Issue 19.1: a reason cut at 200 UTF-16 units through a surrogate pair, and an unknown
  // field named with a lone surrogate, were stored as-is: DynamoDB refused them (503).
  const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

  it('makes every reason storable: no lone surrogate, cut on a code point, at most MAX_REASON_BYTES bytes', () => {
    const { rejected } = validateItems([
      { id: 'pair', data: { [`${'a'.repeat(194)}\u{1F600}`]: 1e300 } },
      { id: 'lone', data: {}, '\ud800': 1 },
      { id: 'cjk', data: {}, ['界'.repeat(300)]: 1 },
      { id: 'empty', data: {}, '': 1 },
    ], target);
    expect(rejected).toHaveLength(4);
    for (const { reason } of rejected) {
      expect(LONE_SURROGATE.test(reason), JSON.stringify(reason)).toBe(false);
      expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(MAX_REASON_BYTES);
      expect(Buffer.from(reason).toString()).toBe(reason);
    }
    expect(rejected[0]!.reason).toBe(`data.${'a'.repeat(194)}`); // the pair does not fit: left out whole
    expect(rejected[1]!.reason).toBe('unknown field(s): "\\ud800"');
    expect(rejected[3]!.reason).toBe('unknown field(s): ""');
  });

  it('any rejection of generated items is storable (fast-check: lone surrogates, split pairs, long names, extreme numbers)', () => {
    const awkward = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.constantFrom('', '\ud800', '\udfff', 'a\ud83d', '\ude00b', '😀'.repeat(120), 'x'.repeat(5000)),
    );
    const value = fc.oneof(fc.constantFrom(1e300, -1e300, 5e-324, 1e-131, 2 ** 53), awkward, fc.integer());
    const item = fc.oneof(
      fc.record({ id: fc.oneof(awkward, fc.constant('ok')), data: fc.dictionary(awkward, value, { maxKeys: 3 }) }),
      fc.dictionary(awkward, value, { maxKeys: 3 }).map((extra) => ({ id: 'ok', data: {}, ...extra })),
    );
    fc.assert(
      fc.property(fc.array(item, { maxLength: 20 }), (items) => {
        for (const r of validateItems(items, target).rejected) {
          expect(LONE_SURROGATE.test(r.reason) || LONE_SURROGATE.test(r.id ?? '')).toBe(false);
          expect(Buffer.byteLength(r.reason)).toBeLessThanOrEqual(MAX_REASON_BYTES);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('batching', () => {
  it('never exceeds ITEMS_PER_MESSAGE (98) items or the message size, keeps order and loses nothing', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 120_000 }), { maxLength: 300 }), (sizes) => {
        const items = sizes.map((bytes, i) => ({ id: `i${i}`, data: {}, index: i, bytes }));
        const batches = splitIntoBatches(items);
        expect(batches.flat().map((item) => item.id)).toEqual(items.map((item) => item.id));
        for (const batch of batches) {
          expect(batch.length).toBeLessThanOrEqual(ITEMS_PER_MESSAGE);
          expect(batch.reduce((n, item) => n + item.bytes, 0)).toBeLessThanOrEqual(SQS_MAX_MESSAGE_BYTES);
        }
      }),
    );
  });

  it('real messages of large items stay within SQS_MAX_MESSAGE_BYTES and group ≤ 10 / SQS_MAX_MESSAGE_BYTES per SendMessageBatch', () => {
    const { accepted } = validateItems(Array.from({ length: 60 }, (_, i) => ({ id: `id-${i}`, data: { blob: 'é'.repeat(20_000 + i * 500) } })), target);
    const messages = toMessages(job, 'c0', accepted);
    expect(messages.flatMap((m) => m.items).length).toBe(60);
    const bodies = messages.map((m) => JSON.stringify(m));
    for (const body of bodies) expect(Buffer.byteLength(body)).toBeLessThanOrEqual(SQS_MAX_MESSAGE_BYTES);
    expect(messages.map((m) => m.batchId)).toEqual(messages.map((_, n) => `c0.${n}`));
    const groups = groupForSend(bodies);
    expect(groups.flat()).toEqual(bodies);
    for (const group of groups) {
      expect(group.length).toBeLessThanOrEqual(10);
      expect(group.reduce((n, body) => n + Buffer.byteLength(body), 0)).toBeLessThanOrEqual(SQS_MAX_MESSAGE_BYTES);
    }
  });

  it('a chunk of 1,000 small items makes 11 messages: 10 of 98 and one of 20', () => {
    const { accepted } = validateItems(Array.from({ length: 1000 }, (_, i) => ({ id: `i${i}`, data: { i } })), target);
    const messages = toMessages(job, 'c7', accepted);
    expect(ITEMS_PER_MESSAGE).toBe(98); // + the batch's plan and chunk keys = BatchGetItem's 100 keys
    expect(messages).toHaveLength(11);
    expect(messages.map((m) => m.items.length)).toEqual([...Array<number>(10).fill(98), 20]);
    expect(messages.every((m) => m.chunkId === 'c7')).toBe(true);
    expect(messages.flatMap((m) => m.items.map((item) => item.id))).toEqual(accepted.map((item) => item.id));
  });
});

describe('retryDelay', () => {
  it('is full jitter within an exponentially growing, capped window', () => {
    expect(retryDelay(0, 100, 10_000, () => 0.999)).toBe(99);
    expect(retryDelay(3, 100, 10_000, () => 0.5)).toBe(400);
    expect(retryDelay(20, 100, 10_000, () => 0.999)).toBe(9990);
    expect(retryDelay(5, 100, 10_000, () => 0)).toBe(0);
  });
});

describe('job status', () => {
  it('finished jobs end COMPLETED, COMPLETED_WITH_ERRORS or FAILED', async () => {
    const { finalStatus } = await import('../../functions/shared/imports/jobs.ts');
    expect(finalStatus({ succeeded: 10, failed: 0, rejected: 0 })).toBe('COMPLETED');
    expect(finalStatus({ succeeded: 0, failed: 0, rejected: 0 })).toBe('COMPLETED');
    expect(finalStatus({ succeeded: 9, failed: 1, rejected: 0 })).toBe('COMPLETED_WITH_ERRORS');
    expect(finalStatus({ succeeded: 9, failed: 0, rejected: 3 })).toBe('COMPLETED_WITH_ERRORS');
    expect(finalStatus({ succeeded: 0, failed: 2, rejected: 1 })).toBe('FAILED');
  });
});
