/**
 * Removes secrets and personal data before anything leaves a function (analytics, logs).
 * Keys that name a secret lose their value; e-mail addresses, bearer tokens, JWTs and AWS
 * access keys are masked wherever they appear in a string.
 */

export const REDACTED = '[REDACTED]';
export const EMAIL_MASK = '[EMAIL]';

const SENSITIVE_KEY =
  /pass(word|wd|phrase)?|secret|token|authori[sz]ation|api[-_]?key|credential|cookie|session[-_]?id|private[-_]?key|signature|^pin$|ssn|card[-_]?number|cvv/i;
/**
 * E-mail addresses, also percent-encoded (`a%40b.org` in a query string). The local part
 * takes RFC 5322's atom characters except the URL delimiters `? & = /`, so a query string
 * around an address keeps its shape.
 */
const EMAIL = /[A-Za-z0-9.!#$%'*+^_`{|}~-]*(?:@|%40)(?:[A-Za-z0-9-]+\.)+[A-Za-z0-9-]{2,}/g;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi;
const JWT = /\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;
const AWS_ACCESS_KEY = /\b(AKIA|ASIA)[A-Z0-9]{16}\b/g;
/**
 * `password=...`, `refresh_token: ...`, `X-Amz-Signature=...` inside free text and query
 * strings: any name that contains a secret word, then `=` or `:`, then the value.
 */
const INLINE_SECRET =
  /\b([A-Za-z0-9_-]*?(?:pass(?:word|wd|phrase)?|secret|token|api[-_]?key|authori[sz]ation|signature|session[-_]?id|credential)[A-Za-z0-9_-]*)(["']?\s*[=:]\s*["']?)(?!(?:Bearer|Basic)\s|\[REDACTED\])[^\s&"',;]+/gi;

const MAX_DEPTH = 32;

export interface RedactOptions {
  /** Extra key names (case-insensitive, exact) whose values are always removed. */
  extraKeys?: readonly string[];
}

export function redactString(value: string): string {
  return value
    .replace(BEARER, (_m, scheme: string) => `${scheme} ${REDACTED}`)
    .replace(JWT, REDACTED)
    .replace(AWS_ACCESS_KEY, REDACTED)
    .replace(INLINE_SECRET, (_m, key: string, sep: string) => `${key}${sep}${REDACTED}`)
    .replace(EMAIL, EMAIL_MASK);
}

export function isSensitiveKey(key: string, extraKeys: readonly string[] = []): boolean {
  const lower = key.toLowerCase();
  return SENSITIVE_KEY.test(key) || extraKeys.some((extra) => extra.toLowerCase() === lower);
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
