/**
 * Removes secrets and personal data before anything leaves a function (analytics, logs).
 * Keys that name a secret lose their value; e-mail addresses, phone numbers, IP addresses,
 * bearer tokens, JWTs and AWS access keys are masked wherever they appear in a string.
 *
 * Keys are matched by whole words (camelCase, snake_case, kebab-case): `passengers`,
 * `bypassCache`, `className` and `tokensUsed` are data, `userPassword`, `x-api-key` and
 * `refresh_token` are secrets.
 */
import { isIPv6 } from 'node:net';

export const REDACTED = '[REDACTED]';
export const EMAIL_MASK = '[EMAIL]';
export const PHONE_MASK = '[PHONE]';
export const IP_MASK = '[IP]';

/** A key containing any of these words (after splitting it into words) names a secret. */
const SECRET_WORDS = new Set([
  'pass', 'password', 'passwords', 'passwd', 'pwd', 'passphrase', 'passcode',
  'secret', 'secrets', 'clientsecret',
  'token', 'accesstoken', 'refreshtoken', 'idtoken', 'authtoken', 'jwt',
  'authorization', 'authorisation',
  'apikey', 'credential', 'credentials', 'cookie', 'cookies', 'setcookie',
  'sessionid', 'privatekey', 'signature', 'pin', 'ssn', 'cardnumber', 'cvv', 'cvc', 'otp',
]);
/** Two-word names of a secret: `api_key`, `sessionId`, `privateKey`, `card-number`. */
const SECRET_PHRASES = [['api', 'key'], ['session', 'id'], ['private', 'key'], ['card', 'number'], ['credit', 'card']];
/** `nextToken`, `page_token`: pagination cursors, not credentials. */
const CURSOR_QUALIFIERS = new Set(['next', 'page', 'pagination', 'continuation', 'cursor', 'sync']);
/** Lower-case run-together names (`userpassword`, `newpassword`) still name a password. */
const PASSWORD_INSIDE = /password|passwd|passphrase/;

/** `accessToken` -> access, token; `X-Amz-Signature` -> x, amz, signature; `HTTPHeader` -> http, header. */
export function keyWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+|(?<=[a-z])(?=[0-9])|(?<=[0-9])(?=[a-z])/)
    .filter(Boolean);
}

/** Field names repeat from event to event: remember the answer for a bounded number of them. */
const verdicts = new Map<string, boolean>();
const MAX_REMEMBERED_KEYS = 2048;

function namesSecret(key: string): boolean {
  let verdict = verdicts.get(key);
  if (verdict === undefined) {
    verdict = wordsNameSecret(keyWords(key));
    if (verdicts.size >= MAX_REMEMBERED_KEYS) verdicts.clear();
    verdicts.set(key, verdict);
  }
  return verdict;
}

function wordsNameSecret(words: string[]): boolean {
  for (const [i, word] of words.entries()) {
    if (word === 'token' && i > 0 && CURSOR_QUALIFIERS.has(words[i - 1]!)) continue;
    if (SECRET_WORDS.has(word) || PASSWORD_INSIDE.test(word)) return true;
    if (SECRET_PHRASES.some(([first, second]) => word === first && words[i + 1] === second)) return true;
  }
  return false;
}

/**
 * E-mail addresses, also percent-encoded (`a%40b.org` in a query string). The local part
 * takes RFC 5322's atom characters except the URL delimiters `? & = /`, so a query string
 * around an address keeps its shape.
 */
const EMAIL = /[A-Za-z0-9.!#$%'*+^_`{|}~-]*(?:@|%40)(?:[A-Za-z0-9-]+\.)+[A-Za-z0-9-]{2,}/g;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi;
const JWT = /\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;
const AWS_ACCESS_KEY = /\b(AKIA|ASIA)[A-Z0-9]{16}\b/g;
const IPV4_OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`(?<![\\w.])${IPV4_OCTET}(?:\\.${IPV4_OCTET}){3}(?![\\w]|\\.\\d)`, 'g');
/** Anything shaped like IPv6 (hex groups and at least two colons); isIPv6 decides. */
const IPV6_CANDIDATE = /(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|\d{1,3}(?:\.\d{1,3}){3})?(?![\w:])/g;
/**
 * Phone numbers: an optional `+country`, an optional `(area)`, then digit groups joined by
 * single spaces, dots or dashes. The replacer keeps what is not a phone number: fewer than
 * 8 or more than 15 digits (E.164), dates, and bare digit runs without a leading `+`
 * (order numbers, timestamps).
 */
const PHONE = /(?<![\w+.-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,5}\)[ .-]?)?\d{1,12}(?:[ .-]\d{1,8}){0,5}(?![\w]|[.-]\d)/g;
const DATE_LIKE = /^\d{4}[-.]\d{1,2}[-.]\d{1,2}\b/;
/** `name=value`, `name: value`, `"name":"value"` in free text and query strings. */
const INLINE_PAIR = /\b([A-Za-z0-9_-]+)(["']?\s*[=:]\s*["']?)/g;
const INLINE_VALUE = /^(?!(?:Bearer|Basic)\s|\[REDACTED\])[^\s&"',;]+/i;

const MAX_DEPTH = 32;

export interface RedactOptions {
  /** Extra key names (case-insensitive, exact) whose values are always removed. */
  extraKeys?: readonly string[];
}

function maskPhone(match: string): string {
  const digits = match.replace(/\D/g, '').length;
  const separated = match.startsWith('+') || match.startsWith('(') || /\d[ .-]\d/.test(match);
  if (!separated || digits < 8 || digits > 15 || DATE_LIKE.test(match)) return match;
  if (match.startsWith('+')) return PHONE_MASK;
  // Without a country code, a phone number ends in a group of at least 2 digits and has one
  // of at least 3: `1 2 3 4 5 6 7 8` is a list.
  return /\d{2,}$/.test(match) && /\d{3,}/.test(match) ? PHONE_MASK : match;
}

/** Masks the value of every `name=value` whose name names a secret, scanning on after each name. */
function maskInlineSecrets(text: string): string {
  let out = '';
  let copied = 0;
  INLINE_PAIR.lastIndex = 0;
  for (let pair = INLINE_PAIR.exec(text); pair; pair = INLINE_PAIR.exec(text)) {
    const valueStart = pair.index + pair[0].length;
    if (!namesSecret(pair[1]!)) {
      // Go on from the value: `url=https://x?password=y` still has a secret inside.
      INLINE_PAIR.lastIndex = valueStart;
      continue;
    }
    const value = INLINE_VALUE.exec(text.slice(valueStart))?.[0];
    if (!value) continue;
    out += text.slice(copied, valueStart) + REDACTED;
    copied = valueStart + value.length;
    INLINE_PAIR.lastIndex = copied;
  }
  return out + text.slice(copied);
}

export function redactString(value: string): string {
  // Each pattern needs a character most strings lack: skip the passes that cannot match.
  let out = value.replace(BEARER, (_m, scheme: string) => `${scheme} ${REDACTED}`).replace(JWT, REDACTED).replace(AWS_ACCESS_KEY, REDACTED);
  if (out.includes('=') || out.includes(':')) out = maskInlineSecrets(out);
  if (out.includes('@') || out.includes('%40')) out = out.replace(EMAIL, EMAIL_MASK);
  if (!/\d/.test(out)) return out;
  if (out.includes(':')) out = out.replace(IPV6_CANDIDATE, (m) => (isIPv6(m) ? IP_MASK : m));
  return out.replace(IPV4, IP_MASK).replace(PHONE, maskPhone);
}

export function isSensitiveKey(key: string, extraKeys: readonly string[] = []): boolean {
  const lower = key.toLowerCase();
  return namesSecret(key) || extraKeys.some((extra) => extra.toLowerCase() === lower);
}

/** Returns a redacted deep copy; never mutates its input. */
export function redact<T>(value: T, options: RedactOptions = {}): T {
  const extraKeys = options.extraKeys ?? [];
  const walk = (node: unknown, depth: number): unknown => {
    if (typeof node === 'string') return redactString(node);
    if (node === null || typeof node !== 'object') return node;
    if (depth >= MAX_DEPTH) return REDACTED;
    if (Array.isArray(node)) return node.map((item) => walk(item, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(node)) {
      const safeKey = redactString(key);
      out[safeKey] = isSensitiveKey(key, extraKeys) ? REDACTED : walk(child, depth + 1);
    }
    return out;
  };
  return walk(value, 0) as T;
}
