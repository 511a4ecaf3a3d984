/** The local JWT authorizer and the tokens scripts/token.ts and the tests mint. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { apiGatewayClaims, authorize, generateSigningKeys, loadOrCreateSigningKeys, mintToken } from '../../scripts/local/jwt.ts';

const dir = mkdtempSync(join(tmpdir(), 'event-flows-jwt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('local JWT', () => {
  it('keeps the key pair it generates and reuses it', async () => {
    const first = await loadOrCreateSigningKeys(join(dir, 'keys'));
    const pem = readFileSync(join(dir, 'keys', 'private.pem'), 'utf8');
    const second = await loadOrCreateSigningKeys(join(dir, 'keys'));
    expect(readFileSync(join(dir, 'keys', 'private.pem'), 'utf8')).toBe(pem);
    const token = await mintToken(first, { sub: 'alice', tenant: 'acme' });
    const outcome = await authorize({ publicKey: second.publicKey, issuer: 'event-flows-local', audience: 'event-flows' }, `Bearer ${token}`);
    expect(outcome.ok).toBe(true);
  });

  it('mints the documented claims', async () => {
    const keys = await generateSigningKeys();
    const now = Math.floor(Date.now() / 1000);
    const token = await mintToken(keys, { sub: 'alice', tenant: 'acme', admin: true, ttlSeconds: 120 });
    expect(decodeProtectedHeader(token).alg).toBe('RS256');
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ sub: 'alice', tenant: 'acme', scope: 'items admin', iss: 'event-flows-local', aud: 'event-flows' });
    expect(claims.exp! - claims.iat!).toBe(120);
    expect(Math.abs(claims.nbf! - now)).toBeLessThanOrEqual(2);
    expect(decodeJwt(await mintToken(keys, { sub: 'bob', tenant: 'acme' })).scope).toBe('items');
  });

  it('refuses each kind of broken token with a reason', async () => {
    const keys = await generateSigningKeys();
    const config = { publicKey: keys.publicKey, issuer: 'event-flows-local', audience: 'event-flows' };
    for (const broken of ['expired', 'not-yet-valid', 'wrong-issuer', 'wrong-audience', 'wrong-signature', 'alg-none'] as const) {
      const outcome = await authorize(config, `Bearer ${await mintToken(keys, { sub: 'a', tenant: 't', broken })}`);
      expect(outcome.ok, broken).toBe(false);
      if (!outcome.ok) expect(outcome.reason.length).toBeGreaterThan(0);
    }
    // Tokens without exp are refused too (API Gateway requires it).
    const noExp = await mintToken(keys, { sub: 'a', tenant: 't', claims: { exp: undefined } });
    expect((await authorize(config, `Bearer ${noExp}`)).ok).toBe(false);
  });

  it('tolerates a few seconds of clock skew, not more', async () => {
    const keys = await generateSigningKeys();
    const config = { publicKey: keys.publicKey, issuer: 'event-flows-local', audience: 'event-flows' };
    const now = Math.floor(Date.now() / 1000);
    const slightlyAhead = await mintToken(keys, { sub: 'a', tenant: 't', claims: { nbf: now + 3 } });
    expect((await authorize(config, `Bearer ${slightlyAhead}`)).ok).toBe(true);
    const justExpired = await mintToken(keys, { sub: 'a', tenant: 't', claims: { exp: now - 2 } });
    expect((await authorize(config, `Bearer ${justExpired}`)).ok).toBe(true);
    const longExpired = await mintToken(keys, { sub: 'a', tenant: 't', claims: { exp: now - 30 } });
    expect((await authorize(config, `Bearer ${longExpired}`)).ok).toBe(false);
  });

  it('checks aud when the token has one, else client_id (Cognito access tokens), against the audience list', async () => {
    const keys = await generateSigningKeys();
    const config = { publicKey: keys.publicKey, issuer: 'event-flows-local', audience: ['app-1', 'app-2'] };
    const token = (claims: Record<string, unknown>) => mintToken(keys, { sub: 'a', tenant: 't', claims });
    expect((await authorize(config, `Bearer ${await token({ aud: undefined, client_id: 'app-2' })}`)).ok).toBe(true);
    expect((await authorize(config, `Bearer ${await token({ aud: undefined, client_id: 'app-3' })}`)).ok).toBe(false);
    expect((await authorize(config, `Bearer ${await token({ aud: undefined })}`)).ok).toBe(false);
    // aud present: it decides, whatever client_id says.
    expect((await authorize(config, `Bearer ${await token({ aud: 'other', client_id: 'app-1' })}`)).ok).toBe(false);
    expect((await authorize(config, `Bearer ${await token({ aud: ['other', 'app-1'] })}`)).ok).toBe(true);
  });

  it('expires tokens by the authorizer’s clock', async () => {
    const keys = await generateSigningKeys();
    const token = `Bearer ${await mintToken(keys, { sub: 'a', tenant: 't', ttlSeconds: 60 })}`;
    const config = { publicKey: keys.publicKey, issuer: 'event-flows-local', audience: 'event-flows' };
    expect((await authorize(config, token)).ok).toBe(true);
    expect((await authorize({ ...config, now: () => new Date(Date.now() + 120_000) }, token)).ok).toBe(false);
  });

  it('formats claims like API Gateway', () => {
    expect(apiGatewayClaims({ s: 'x', n: 12, f: 1.5, b: false, a: ['r', 2], o: { b: 1, a: [1] } })).toEqual({
      s: 'x',
      n: '12',
      f: '1.5',
      b: 'false',
      a: '[r 2]',
      o: 'map[a:[1] b:1]',
    });
  });
});
