/**
 * An item's size as DynamoDB counts it (developer guide, "DynamoDB item sizes and formats"):
 * the limit of 400 KB an item, and the unit of read and write capacity, are in these bytes,
 * not in the bytes of the item's JSON. Per attribute: the UTF-8 bytes of its name plus its
 * value, where
 *
 * - a string is its UTF-8 bytes, a binary its raw bytes;
 * - a number is 1 byte plus 1 per two significant digits (leading and trailing zeros do not
 *   count; digits are paired from the decimal point, so an odd alignment takes one more);
 * - a boolean or null is 1 byte;
 * - a list or map is 3 bytes plus, per element, 1 byte and the element's size (and, in a
 *   map, its name's bytes); an empty one is 3 bytes;
 * - a set is the sum of its members.
 *
 * The guide calls the number rule approximate; this errs on the large side (a zero counts as
 * one digit), so an item we accept is never one DynamoDB refuses.
 */

/** DynamoDB's item size limit: 400 KB, attribute names included. */
export const MAX_DYNAMO_ITEM_BYTES = 400 * 1024;

const LIST_OR_MAP_OVERHEAD = 3;
const ELEMENT_OVERHEAD = 1;

const utf8Bytes = (text: string) => Buffer.byteLength(text, 'utf8');

/** The bytes DynamoDB stores for a number: 1 + its significant digits in base-100 pairs. */
export function numberSize(value: number | bigint | string): number {
  const text = String(value).toLowerCase().replace(/^[-+]/, '');
  const [mantissa = '0', exponentText = '0'] = text.split('e');
  const [whole = '', fraction = ''] = mantissa.split('.');
  const allDigits = whole + fraction;
  const leadingZeros = allDigits.length - allDigits.replace(/^0+/, '').length;
  const digits = allDigits.replace(/^0+/, '').replace(/0+$/, '');
  if (digits.length === 0) return 2; // zero: counted as one digit, see above
  // Position of the decimal point relative to the first significant digit.
  const pointAfter = whole.length - leadingZeros + Number(exponentText);
  const padLeft = ((pointAfter % 2) + 2) % 2; // pairs start at the decimal point
  return 1 + Math.ceil((padLeft + digits.length) / 2);
}

/** The size of one attribute value (without its name). */
export function valueSize(value: unknown): number {
  if (value === null || value === undefined || typeof value === 'boolean') return 1;
  if (typeof value === 'string') return utf8Bytes(value);
  if (typeof value === 'number' || typeof value === 'bigint') return numberSize(value);
  if (value instanceof Uint8Array) return value.byteLength;
  if (value instanceof Set) {
    let total = 0;
    for (const member of value) total += valueSize(member);
    return total;
  }
  if (Array.isArray(value)) {
    let total = LIST_OR_MAP_OVERHEAD;
    for (const element of value) total += ELEMENT_OVERHEAD + valueSize(element);
    return total;
  }
  if (typeof value === 'object') {
    let total = LIST_OR_MAP_OVERHEAD;
    for (const [name, element] of Object.entries(value)) {
      if (element === undefined) continue; // not sent (removeUndefinedValues)
      total += ELEMENT_OVERHEAD + utf8Bytes(name) + valueSize(element);
    }
    return total;
  }
  return utf8Bytes(String(value));
}

/** An item's size: its attributes' names and values, as DynamoDB counts them. */
export function dynamoItemSize(item: object): number {
  let total = 0;
  for (const [name, value] of Object.entries(item)) {
    if (value === undefined) continue;
    total += utf8Bytes(name) + valueSize(value);
  }
  return total;
}
