/**
 * The dashboard's pieces that run without a browser: the local dashboard server of
 * `npm start` (files, headers, config.json, nothing outside its directory), config.json's
 * parser, the PKCE challenge, the token's claims and the time ranges. The views themselves
 * are tested in Chromium (tests/browser/dashboard.test.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard, type Dashboard } from '../../scripts/local/dashboard.ts';
import { generateSigningKeys, mintToken, type SigningKeys } from '../../scripts/local/jwt.ts';
import { codeChallenge } from '../../web/src/auth/cognito.ts';
import { decodeClaims } from '../../web/src/auth/session.ts';
import { parseConfig } from '../../web/src/config.ts';
import { lastMinutes, timeRange } from '../../web/src/range.ts';

const work = mkdtempSync(join(tmpdir(), 'dashboard-unit-'));
let keys: SigningKeys;
let dashboard: Dashboard;
const issuer = 'event-flows-local';
const audience = 'event-flows';

beforeAll(async () => {
  keys = await generateSigningKeys();
  dashboard = await startDashboard({ port: 0, apiUrl: 'http://127.0.0.1:3999', outDir: join(work, 'web') });
});
afterAll(async () => {
  await dashboard?.close();
  rmSync(work, { recursive: true, force: true });
});

function rawStatus(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${dashboard.url}/`, { path }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the local dashboard server', () => {
  it('serves index.html naming the hashed bundle, with a Content-Security-Policy that allows the API and nothing inline', async () => {
    const res = await fetch(`${dashboard.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("connect-src 'self' http://127.0.0.1:3999");
    expect(csp).toContain("script-src 'self';");
    expect(csp).not.toContain('unsafe-inline');
    const html = await res.text();
    const script = /src="(assets\/app-[A-Z0-9]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${dashboard.url}/${script}`);
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers.get('cache-control')).toContain('immutable');
    expect(dashboard.files.map((f) => f.path)).toContain(script);
  });

  it("serves config.json with the API URL and the local sign-in (the API's POST /local/token)", async () => {
    const config = parseConfig(await (await fetch(`${dashboard.url}/config.json`)).json());
    expect(config).toEqual({ apiUrl: 'http://127.0.0.1:3999', auth: { kind: 'local', tokenEndpoint: 'http://127.0.0.1:3999/local/token' }, refreshSeconds: 30 });
  });

  it('serves nothing outside its directory, and only GET/HEAD for files', async () => {
    // Raw requests: fetch would resolve the dots before sending.
    const up = '../'.repeat(12);
    for (const path of [`/${up}etc/passwd`, `/${up.replaceAll('../', '%2e%2e/')}etc/passwd`, `/assets/${up}etc/passwd`, `/${up.replaceAll('/', '%2f')}etc/passwd`]) {
      expect(await rawStatus(path), path).toBe(404);
    }
    expect((await fetch(`${dashboard.url}/%E0`)).status).toBe(400);
    expect((await fetch(`${dashboard.url}/index.html`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${dashboard.url}/local/token`, { method: 'POST', body: '{}' })).status).toBe(405);
  });
});

describe('the dashboard in the browser, its pure parts', () => {
  it('parses a deployed config.json (Cognito) and refuses one it cannot use', () => {
    expect(parseConfig({ apiUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com/', auth: { kind: 'cognito', domain: 'https://x.auth.eu-west-1.amazoncognito.com', clientId: 'c1', scopes: ['openid'] } })).toEqual({
      apiUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com',
      auth: { kind: 'cognito', domain: 'https://x.auth.eu-west-1.amazoncognito.com', clientId: 'c1', scopes: ['openid'] },
      refreshSeconds: 30,
    });
    expect(() => parseConfig({ apiUrl: 'ftp://x', auth: { kind: 'local', tokenEndpoint: '/t' } })).toThrow(/apiUrl/);
    expect(() => parseConfig({ apiUrl: 'https://x', auth: { kind: 'cognito', domain: 'https://d' } })).toThrow(/auth/);
  });

  it('derives the PKCE challenge as SHA-256 of the verifier, base64url without padding (RFC 7636 S256)', async () => {
    for (let i = 0; i < 20; i++) {
      const verifier = randomBytes(48).toString('base64url');
      expect(await codeChallenge(verifier)).toBe(createHash('sha256').update(verifier).digest('base64url'));
    }
  });

  it('reads the tenant, subject, scopes and expiry from a token', async () => {
    const token = await mintToken(keys, { sub: 'root', tenant: 'acme', admin: true, issuer, audience, ttlSeconds: 600 });
    const claims = decodeClaims(token);
    expect(claims).toMatchObject({ sub: 'root', name: 'root', tenant: 'acme', scopes: ['items', 'admin'] });
    // A Cognito access token names the user apart from its subject (a UUID).
    expect(decodeClaims(await mintToken(keys, { sub: 'f81d4fae-7dec', tenant: 'acme', issuer, audience, claims: { username: 'root' } })).name).toBe('root');
    expect(claims.exp).toBeGreaterThan(Date.now() / 1000 + 590);
  });

  it('ends a range at the next whole minute and picks minute buckets up to a day, hours beyond', () => {
    const now = Date.parse('2026-11-29T20:31:10.500Z');
    expect(timeRange('1h', now)).toEqual({ key: '1h', from: '2026-11-29T19:32:00.000Z', to: '2026-11-29T20:32:00.000Z', interval: 'minute' });
    expect(timeRange('24h', now).interval).toBe('minute');
    const week = timeRange('7d', now);
    expect(week).toMatchObject({ from: '2026-11-22T20:32:00.000Z', interval: 'hour' });
    expect(lastMinutes(week, 1440)).toEqual({ from: '2026-11-28T20:32:00.000Z', to: '2026-11-29T20:32:00.000Z' });
  });
});
