/** Item sizes as the DynamoDB guide's "Item sizes and formats" page counts them. */
import { describe, expect, it } from 'vitest';
import { dynamoItemSize, MAX_DYNAMO_ITEM_BYTES, numberSize, valueSize } from '../../functions/shared/dynamo-size.ts';
import { checkItemSize, storedItemSize } from '../../functions/shared/items/item.ts';
import { toApiError } from '../../functions/shared/http/errors.ts';

describe('DynamoDB item size', () => {
  it('counts strings by UTF-8 bytes, names included', () => {
    expect(dynamoItemSize({ name: 'abc' })).toBe(4 + 3);
    expect(dynamoItemSize({ 名: '字字' })).toBe(3 + 6);
  });

  it('counts numbers by significant digits in pairs from the decimal point, plus 1', () => {
    expect(numberSize(7)).toBe(2);
    expect(numberSize(12)).toBe(2);
    expect(numberSize(123)).toBe(3); // 01 23
    expect(numberSize(1000)).toBe(2); // trailing zeros trimmed
    expect(numberSize(1.1)).toBe(3); // 01 . 10
    expect(numberSize(0.05)).toBe(2);
    expect(numberSize(-12345678)).toBe(5);
    expect(numberSize(0)).toBe(2); // counted as one digit: on the safe side
  });

  it('counts 1 byte for booleans and null, 3 per list or map and 1 per element', () => {
    expect(valueSize(true)).toBe(1);
    expect(valueSize(null)).toBe(1);
    expect(valueSize([])).toBe(3);
    expect(valueSize({})).toBe(3);
    expect(valueSize([[], []])).toBe(3 + 2 * (1 + 3));
    expect(valueSize({ a: 'xy', b: [1] })).toBe(3 + (1 + 1 + 2) + (1 + 1 + (3 + 1 + 2)));
    expect(valueSize(new Set(['ab', 'c']))).toBe(3);
  });

  it('makes a 350 KB JSON body of empty lists or zeros larger than 400 KB', () => {
    const lists = Array.from({ length: 116_000 }, () => []);
    expect(Buffer.byteLength(JSON.stringify({ a: lists }))).toBeLessThan(350 * 1024);
    expect(dynamoItemSize({ a: lists })).toBeGreaterThan(450 * 1024);
    const zeros = Array.from({ length: 175_000 }, () => 0);
    expect(Buffer.byteLength(JSON.stringify({ a: zeros }))).toBeLessThan(350 * 1024);
    expect(dynamoItemSize({ a: zeros })).toBeGreaterThan(500 * 1024);
  });
});

describe('checkItemSize', () => {
  const address = { collection: 'books', id: 'dense' };
  it('takes an item of exactly 400 KB as DynamoDB counts it, keys included, and refuses one byte more with a 413 naming the size', () => {
    const overhead = storedItemSize('acme', address, { a: '' });
    const exact = { a: 'x'.repeat(MAX_DYNAMO_ITEM_BYTES - overhead) };
    expect(storedItemSize('acme', address, exact)).toBe(MAX_DYNAMO_ITEM_BYTES);
    expect(() => checkItemSize('acme', address, exact)).not.toThrow();
    const over = { a: `${exact.a}x` };
    expect(() => checkItemSize('acme', address, over)).toThrow(expect.objectContaining({ statusCode: 413, message: expect.stringContaining(`would be ${MAX_DYNAMO_ITEM_BYTES + 1} bytes`) }));
  });
});

describe('a request DynamoDB refuses as invalid is never a 5xx', () => {
  const sdkError = (name: string, message: string, extra: object = {}) => Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 }, ...extra });
  it.each([
    ['an item over the size limit', sdkError('ValidationException', 'Item size has exceeded the maximum allowed size'), 413],
    ['a transaction item over the size limit', sdkError('TransactionCanceledException', 'Transaction cancelled', { CancellationReasons: [{ Code: 'ValidationError', Message: 'Item size has exceeded the maximum allowed size' }] }), 413],
    ['another validation error', sdkError('ValidationException', 'One or more parameter values were invalid'), 400],
  ])('%s', (_name, error, status) => {
    expect(toApiError(error).statusCode).toBe(status);
  });
});
