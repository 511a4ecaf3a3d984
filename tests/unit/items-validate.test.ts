import { describe, expect, it } from 'vitest';
import { itemDataProblems, MAX_NESTING, storableText } from '../../functions/shared/items/validate.ts';

function nested(depth: number): Record<string, unknown> {
  // depth 1 is the data object itself.
  let node: Record<string, unknown> = { leaf: true };
  for (let i = 1; i < depth; i++) node = { n: node };
  return node;
}

describe('item data DynamoDB can store', () => {
  it('accepts ordinary JSON objects, up to the nesting limit', () => {
    expect(itemDataProblems({ title: 'Dune', year: 1965, tags: ['a', { b: [1.5, -2, 0, null, true] }], note: 'émoji 😀' })).toEqual([]);
    expect(itemDataProblems(nested(MAX_NESTING))).toEqual([]);
    expect(itemDataProblems({ big: Number.MAX_SAFE_INTEGER, small: 1e-100 })).toEqual([]);
  });

  it.each([
    ['a number beyond 2^53', { n: 1e16 }, 'body.n'],
    ['a huge float', { a: [1, 1e308] }, 'body.a[1]'],
    ['a number below 1e-130', { tiny: 1e-200 }, 'body.tiny'],
    ['an empty key', { a: { '': 1 } }, 'body.a.""'],
    ['an empty top-level key', { '': 1 }, 'body.""'],
    ['a lone surrogate in a value', { s: 'x\ud800y' }, 'body.s'],
    ['a lone surrogate in a key', { o: { '\udc00': 1 } }, 'body.o."\\udc00"'],
    ['a __proto__ field', JSON.parse('{"a":{"__proto__":{"x":1}}}'), 'body.a.__proto__'],
  ])('refuses %s, naming %s', (_name, data, field) => {
    const problems = itemDataProblems(data as Record<string, unknown>);
    expect(problems.map((p) => p.field)).toContain(field);
  });

  it('refuses data nested deeper than DynamoDB allows', () => {
    expect(itemDataProblems(nested(MAX_NESTING + 1))).toHaveLength(1);
    expect(itemDataProblems(nested(400))[0]?.issue).toMatch(/nested deeper than 32/);
  });

  it('caps the number of problems it reports', () => {
    const many = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 1e300]));
    expect(itemDataProblems(many)).toHaveLength(10);
  });
});

describe('storableText', () => {
  it.each([
    ['a pair that would be split', `${'a'.repeat(199)}\u{1F600}`, 200, 'a'.repeat(199)],
    ['a pair that fits', `${'a'.repeat(196)}\u{1F600}`, 200, `${'a'.repeat(196)}\u{1F600}`],
    ['three-byte characters', '界'.repeat(100), 200, '界'.repeat(66)],
    ['a lone surrogate', 'x\ud800y', 200, 'x\ufffdy'],
    ['short text', 'ok', 200, 'ok'],
  ])('cuts %s on a code point, within the byte budget', (_name, text, bytes, expected) => {
    expect(storableText(text, bytes)).toBe(expected);
  });
});

describe('nesting counted from the stored item', () => {
  it('properties stored at level 4 may nest 28 levels more', () => {
    expect(itemDataProblems(nested(MAX_NESTING - 3), 'p', 4)).toEqual([]);
    expect(itemDataProblems(nested(MAX_NESTING - 2), 'p', 4)).toHaveLength(1);
  });
});
