/**
 * What DynamoDB can store faithfully, checked before anything is written, so that data it
 * would refuse (or the SDK could not marshal) is a 400 naming the field, never a 5xx or a
 * half-done write.
 */
import type { ErrorDetail } from '../http/errors.ts';

/** DynamoDB nests documents at most 32 levels; the item's `data` attribute is the first. */
export const MAX_NESTING = 32;
/** Numbers JavaScript holds exactly (JSON.parse has already rounded anything bigger). */
const MAX_NUMBER = Number.MAX_SAFE_INTEGER;
/** DynamoDB's smallest positive number is 1E-130. */
const MIN_MAGNITUDE = 1e-130;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const MAX_DETAILS = 10;
/** JavaScript gives this name a meaning of its own in objects; as data it is a trap, so refuse it. */
const RESERVED_KEY = '__proto__';

/** `value` with every lone surrogate replaced by U+FFFD, so it can be stored and echoed back. */
export function wellFormed(value: string): string {
  return value.replace(new RegExp(LONE_SURROGATE.source, 'g'), '\ufffd');
}

/**
 * `value` made storable and at most `maxBytes` bytes of UTF-8: lone surrogates replaced by
 * U+FFFD, then cut on a code-point boundary (a cut through a surrogate pair would leave a
 * lone surrogate that DynamoDB refuses). Bytes, not UTF-16 units, because DynamoDB counts
 * an item's size in UTF-8 bytes.
 */
export function storableText(value: string, maxBytes: number): string {
  const text = wellFormed(value);
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let bytes = 0;
  let end = 0;
  for (const codePoint of text) {
    const size = Buffer.byteLength(codePoint);
    if (bytes + size > maxBytes) break;
    bytes += size;
    end += codePoint.length;
  }
  return text.slice(0, end);
}

/**
 * Returns what is wrong with `data` (empty when it can be stored), with a JSON path per problem.
 * `level` is the nesting level `data` itself has in the stored item (1: a top-level
 * attribute); DynamoDB's nesting limit counts from the item.
 */
export function itemDataProblems(data: Record<string, unknown>, prefix = 'body', level = 1): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  const add = (field: string, issue: string) => {
    if (problems.length < MAX_DETAILS) problems.push({ field, issue });
  };
  const walk = (node: unknown, path: string, depth: number): void => {
    if (problems.length >= MAX_DETAILS) return;
    if (typeof node === 'string') {
      if (LONE_SURROGATE.test(node)) add(path, 'is not valid Unicode (a lone surrogate)');
    } else if (typeof node === 'number') {
      if (!Number.isFinite(node) || Math.abs(node) > MAX_NUMBER) add(path, `numbers must lie within ±${MAX_NUMBER}; send larger values as strings`);
      else if (node !== 0 && Math.abs(node) < MIN_MAGNITUDE) add(path, 'numbers smaller in magnitude than 1e-130 cannot be stored; send them as strings');
    } else if (node !== null && typeof node === 'object') {
      if (depth > MAX_NESTING) {
        add(path, `is nested deeper than ${MAX_NESTING} levels`);
        return;
      }
      if (Array.isArray(node)) node.forEach((child, index) => walk(child, `${path}[${index}]`, depth + 1));
      else
        for (const [key, child] of Object.entries(node)) field(key, child, path, depth + 1);
    }
  };
  const field = (key: string, value: unknown, parent: string, depth: number) => {
    const path = `${parent}.${fieldName(key)}`;
    if (key === '') add(path, 'field names must not be empty');
    else if (key === RESERVED_KEY) add(path, 'is a reserved field name');
    else if (LONE_SURROGATE.test(key)) add(path, 'field names must be valid Unicode (this one has a lone surrogate)');
    walk(value, path, depth);
  };
  for (const [key, value] of Object.entries(data)) field(key, value, prefix, level + 1);
  return problems;
}

/** A field name as it appears in a problem's path: quoted and escaped (JSON) when it is empty or not valid Unicode. */
function fieldName(key: string): string {
  return key === '' || LONE_SURROGATE.test(key) ? JSON.stringify(key) : key;
}
