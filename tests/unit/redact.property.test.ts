/**
 * Property-based: secrets and e-mail addresses hidden anywhere in a structure (nested
 * objects, arrays, header maps, query strings, free text, keys) never survive redact().
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EMAIL_MASK, IP_MASK, PHONE_MASK, REDACTED, redact, redactString } from '../../functions/shared/redact.ts';
import { BENIGN_KEYS, BENIGN_TEXTS, PII_TEXTS, SECRET_KEYS } from '../support/redaction-corpus.ts';

/** A unique, recognisable secret value. */
const secret = fc.stringMatching(/^[A-Za-z0-9]{10,24}$/).map((s) => `Zq${s}`);
const benignKey = fc.constantFrom('data', 'items', 'meta', 'a', 'b', 'ctx', 'list', 'payload', 'request', 'params', 'extra');
const sensitiveWord = fc.constantFrom(
  'password', 'Password', 'PASSWORD', 'passwd', 'passphrase', 'secret', 'clientSecret', 'client_secret', 'token', 'accessToken',
  'access_token', 'refresh_token', 'idToken', 'authorization', 'Authorization', 'api_key', 'apiKey', 'x-api-key', 'credentials',
  'cookie', 'Set-Cookie', 'sessionId', 'session_id', 'private_key', 'signature', 'X-Amz-Signature',
);
// Keys are matched by whole words, so an affix joins as a word: `user_`, `x-`, or camelCase.
const prefix = fc.constantFrom('', 'user_', 'new_', 'old-', 'x-', 'my');
const suffix = fc.constantFrom('', '_2', 'Old', '-x', 'Value', '_hash');
const sensitiveKey = fc
  .tuple(prefix, sensitiveWord, suffix)
  .map(([a, w, b]) => `${a}${/^[a-z]+$/.test(a) && a !== '' ? w[0]!.toUpperCase() + w.slice(1) : w}${b}`);
const queryWord = fc.constantFrom('password', 'pass', 'token', 'access_token', 'refresh_token', 'id_token', 'secret', 'client_secret', 'api_key', 'apikey', 'X-Amz-Signature', 'auth_token', 'sessionid');
const email = fc.emailAddress();

type Placement = { value: unknown; hidden: string[]; extraKeys?: string[] };

const placement: fc.Arbitrary<Placement> = fc.oneof(
  // A value under a key that names a secret.
  fc.tuple(sensitiveKey, secret).map(([k, s]) => ({ value: { [k]: s }, hidden: [s] })),
  // Structured values under a secret key disappear whole.
  fc.tuple(sensitiveKey, secret).map(([k, s]) => ({ value: { [k]: { nested: [s, { deeper: s }] } }, hidden: [s] })),
  // Header maps: authorization in any case, and bearer/basic credentials under any header.
  fc.tuple(fc.constantFrom('Authorization', 'authorization', 'AUTHORIZATION', 'Proxy-Authorization'), fc.constantFrom('Bearer', 'Basic', 'bearer'), secret).map(([h, scheme, s]) => ({
    value: { headers: { [h]: `${scheme} ${s}`, accept: 'application/json' } },
    hidden: [s],
  })),
  fc.tuple(fc.constantFrom('Bearer', 'Basic'), secret).map(([scheme, s]) => ({ value: { headers: { 'x-forwarded-auth': `${scheme} ${s}` } }, hidden: [s] })),
  // Query strings and URLs.
  fc.tuple(queryWord, secret, fc.constantFrom('?', '&', '')).map(([w, s, lead]) => ({
    value: { url: `https://example.org/cb${lead === '' ? '?' : lead}a=1&${w}=${s}&z=2` },
    hidden: [s],
  })),
  fc.tuple(queryWord, secret).map(([w, s]) => ({ value: { rawQueryString: `${w}=${s}` }, hidden: [s] })),
  // Free text.
  fc.tuple(fc.constantFrom('password', 'token', 'secret', 'api_key'), fc.constantFrom(': ', '=', ' = ', '":"'), secret).map(([w, sep, s]) => ({
    value: { message: `login failed, ${w}${sep}${s} was wrong` },
    hidden: [s],
  })),
  // JWTs and AWS access keys wherever they appear.
  fc.tuple(fc.stringMatching(/^[A-Za-z0-9_-]{8,20}$/), fc.stringMatching(/^[A-Za-z0-9_-]{8,30}$/)).map(([p, sig]) => {
    const jwt = `eyJhbGciOiJIUzI1NiJ9.${p}.${sig}`;
    return { value: { note: `got ${jwt}` }, hidden: [jwt, `${p}.${sig}`] };
  }),
  fc.stringMatching(/^[A-Z0-9]{16}$/).map((k) => ({ value: { note: `key AKIA${k} leaked` }, hidden: [`AKIA${k}`] })),
  // Phone numbers and IP addresses in free text (the corpus's shapes).
  fc.tuple(fc.constantFrom(...PII_TEXTS), fc.constantFrom('call ', 'from ', '', 'ip=', 'x ')).map(([pii, lead]) => ({ value: { note: `${lead}${pii} today` }, hidden: [pii] })),
  // E-mail addresses: in values, array items, keys, query strings (plain and percent-encoded).
  email.map((e) => ({ value: { contact: `write to ${e} today` }, hidden: [e] })),
  email.map((e) => ({ value: { list: ['x', e, 3] }, hidden: [e] })),
  email.map((e) => ({ value: { [e]: 'owner' }, hidden: [e] })),
  email.map((e) => ({ value: { url: `/invite?to=${encodeURIComponent(e)}&x=1` }, hidden: [e, encodeURIComponent(e)] })),
  // REDACT_FIELDS: any configured name, in any case.
  fc.tuple(fc.stringMatching(/^[a-z]{4,10}$/), secret).map(([k, s]) => ({ value: { [k.toUpperCase()]: s }, hidden: [s], extraKeys: [k] })),
);

/** Wraps a value in a random path of objects and arrays. */
const wrapped = (p: Placement): fc.Arbitrary<Placement> =>
  fc.array(fc.tuple(fc.boolean(), benignKey), { maxLength: 5 }).map((path) => ({
    ...p,
    value: path.reduce<unknown>((inner, [asArray, key]) => (asArray ? [1, inner, 'x'] : { [key]: inner, other: 'ok' }), p.value),
  }));

const scenario = fc.array(placement.chain(wrapped), { minLength: 1, maxLength: 6 }).map((placements) => ({
  value: { noise: { n: 1, s: 'hello', list: [true, null] }, parts: placements.map((p) => p.value) },
  hidden: placements.flatMap((p) => p.hidden),
  extraKeys: placements.flatMap((p) => p.extraKeys ?? []),
}));

describe('redact (property-based)', () => {
  it('no hidden secret or e-mail address survives, wherever it is', () => {
    fc.assert(
      fc.property(scenario, ({ value, hidden, extraKeys }) => {
        const out = JSON.stringify(redact(value, { extraKeys }));
        for (const h of hidden) expect(out, `${h} survived in ${out}`).not.toContain(h);
        for (const h of hidden) if (h.includes('@')) expect(out).not.toContain(h.slice(h.indexOf('@')));
      }),
      { numRuns: 1000 },
    );
  });

  it('never mutates its input and is idempotent', () => {
    fc.assert(
      fc.property(scenario, ({ value, extraKeys }) => {
        const before = JSON.stringify(value);
        const once = redact(value, { extraKeys });
        expect(JSON.stringify(value)).toBe(before);
        expect(redact(once, { extraKeys })).toEqual(once);
      }),
      { numRuns: 300 },
    );
  });

  it('leaves ordinary data alone', () => {
    fc.assert(
      fc.property(fc.dictionary(benignKey, fc.oneof(fc.integer(), fc.boolean(), fc.stringMatching(/^[a-z ]{0,20}$/))), (value) => {
        expect(redact(value)).toEqual(value);
      }),
    );
  });

  it('marks what it removed', () => {
    expect(redact({ password: 'p', contact: 'a.b@example.com' })).toEqual({ password: REDACTED, contact: EMAIL_MASK });
    expect(redactString('Authorization: Bearer abc.def')).toBe(`Authorization: Bearer ${REDACTED}`);
  });

  it('keeps every benign key of the corpus and removes every secret key', () => {
    const benign = Object.fromEntries(BENIGN_KEYS.map((key) => [key, `value of ${key}`]));
    const out = redact(benign);
    const removed = BENIGN_KEYS.filter((key) => out[key] !== benign[key]);
    const secrets = redact(Object.fromEntries(SECRET_KEYS.map((key) => [key, 'Zq-secret-value'])));
    const kept = SECRET_KEYS.filter((key) => secrets[key] !== REDACTED);
    console.info(`redaction corpus: ${BENIGN_KEYS.length - removed.length}/${BENIGN_KEYS.length} benign keys kept, ${SECRET_KEYS.length - kept.length}/${SECRET_KEYS.length} secret keys removed`);
    expect({ removed, kept }).toEqual({ removed: [], kept: [] });
  });

  it('masks every phone number and IP address of the corpus and leaves benign text alone', () => {
    const survivors = PII_TEXTS.filter((pii) => redactString(`seen ${pii} at noon`).includes(pii));
    const changed = BENIGN_TEXTS.filter((text) => redactString(text) !== text);
    console.info(`redaction corpus: ${PII_TEXTS.length - survivors.length}/${PII_TEXTS.length} PII shapes removed, ${BENIGN_TEXTS.length - changed.length}/${BENIGN_TEXTS.length} benign texts kept`);
    expect({ survivors, changed }).toEqual({ survivors: [], changed: [] });
    expect(redactString('call +44 20 7946 0958 from 203.0.113.7 or 2001:db8::1')).toBe(`call ${PHONE_MASK} from ${IP_MASK} or ${IP_MASK}`);
  });

  it('finds a secret pair inside the value of a benign pair', () => {
    expect(redactString('url=https://x.org/cb?nextToken=n1&password=hunter2')).toBe(`url=https://x.org/cb?nextToken=n1&password=${REDACTED}`);
  });
});
