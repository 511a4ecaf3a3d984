/**
 * Property-based: secrets and e-mail addresses hidden anywhere in a structure (nested
 * objects, arrays, header maps, query strings, free text, keys) never survive redact().
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EMAIL_MASK, REDACTED, redact, redactString } from '../../functions/shared/redact.ts';

/** A unique, recognisable secret value. */
const secret = fc.stringMatching(/^[A-Za-z0-9]{10,24}$/).map((s) => `Zq${s}`);
const benignKey = fc.constantFrom('data', 'items', 'meta', 'a', 'b', 'ctx', 'list', 'payload', 'request', 'params', 'extra');
const sensitiveWord = fc.constantFrom(
  'password', 'Password', 'PASSWORD', 'passwd', 'passphrase', 'secret', 'clientSecret', 'client_secret', 'token', 'accessToken',
  'access_token', 'refresh_token', 'idToken', 'authorization', 'Authorization', 'api_key', 'apiKey', 'x-api-key', 'credentials',
  'cookie', 'Set-Cookie', 'sessionId', 'session_id', 'private_key', 'signature', 'X-Amz-Signature',
);
const affix = fc.constantFrom('', 'user', 'new_', 'old', 'x-', '_2');
const sensitiveKey = fc.tuple(affix, sensitiveWord, affix).map(([a, w, b]) => `${a}${w}${b}`);
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
});
