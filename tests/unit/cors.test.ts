/**
 * CORS: the configuration (topology.json's `cors`, read by Terraform and the local stack)
 * allows every request header the functions read and exposes every response header they set,
 * and no more; the local API answers preflight and CORS requests from it as API Gateway does.
 */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpApi, type HttpApi } from '../../scripts/local/http-api.ts';
import { generateSigningKeys, mintToken, type SigningKeys } from '../../scripts/local/jwt.ts';
import { cors, routes } from '../../scripts/local/topology.ts';

const functionsDir = path.resolve(import.meta.dirname, '../../functions');
/** Response headers a browser hides from a script unless they are exposed (not CORS-safelisted). */
const EXPOSABLE = ['etag', 'retry-after', 'location', 'last-modified', 'link', 'x-request-id', 'content-disposition'];

async function sources(): Promise<string> {
  const files = (await readdir(functionsDir, { recursive: true })).filter((f) => f.endsWith('.ts'));
  // after-response.ts talks to the Lambda Extensions API, not to the browser.
  const http = files.filter((f) => !f.endsWith('after-response.ts'));
  return (await Promise.all(http.map((f) => readFile(path.join(functionsDir, f), 'utf8')))).join('\n');
}

describe('CORS configuration follows the code', () => {
  it('allows exactly the request headers the functions read (plus authorization, which the authorizer reads)', async () => {
    const read = [...(await sources()).matchAll(/\bheader\(event, '([a-z-]+)'\)/g)].map((m) => m[1]!);
    expect(read).toContain('if-match');
    expect([...cors.allowHeaders].sort()).toEqual([...new Set(['authorization', ...read])].sort());
  });

  it('exposes every non-safelisted response header the functions set, and only those', async () => {
    const code = await sources();
    const set = EXPOSABLE.filter((name) => new RegExp(`(?:\\b${name}|'${name}')\\s*:`).test(code));
    expect(set).toEqual(expect.arrayContaining(['etag', 'retry-after']));
    expect([...cors.exposeHeaders].sort()).toEqual(set.sort());
  });

  it('allows every method a route uses (OPTIONS is answered by the API itself)', () => {
    const methods = new Set(Object.keys(routes).map((key) => key.split(' ')[0]!));
    expect([...cors.allowMethods].sort()).toEqual([...methods].sort());
  });
});

describe('the local API answers CORS as API Gateway does', () => {
  const origin = 'https://app.example.com';
  let api: HttpApi;
  let baseUrl: string;
  let keys: SigningKeys;
  let invoked = 0;

  beforeAll(async () => {
    keys = await generateSigningKeys();
    api = createHttpApi({
      routes: { 'PUT /items/{collection}/{id}': { function: 'write', auth: 'jwt' }, 'GET /health': { function: 'write', auth: 'none' } },
      functionFor: (name) => ({
        functionName: name,
        memoryMb: 128,
        timeoutSeconds: 3,
        handler: async () => {
          invoked++;
          return { statusCode: 200, headers: { etag: '"2"', 'access-control-allow-origin': '*' }, body: '{}' };
        },
      }),
      authorizer: { publicKey: keys.publicKey, issuer: 'event-flows-local', audience: 'event-flows' },
      log: () => undefined,
      cors: { ...cors, allowOrigins: [origin] },
    });
    baseUrl = await api.listen(0);
  });
  afterAll(() => api.close());

  const preflight = (headers: Record<string, string>) => fetch(`${baseUrl}/items/notes/1`, { method: 'OPTIONS', headers });

  it('answers a conditional PUT preflight (if-match) with 204 and the configured rules, without a route, authorizer or function', async () => {
    const before = invoked;
    const res = await preflight({ origin, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'authorization,content-type,if-match' });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(origin);
    expect(res.headers.get('access-control-allow-headers')?.split(',')).toEqual(expect.arrayContaining(['authorization', 'content-type', 'if-match']));
    expect(res.headers.get('access-control-allow-methods')?.split(',')).toContain('PUT');
    expect(res.headers.get('access-control-max-age')).toBe(String(cors.maxAgeSeconds));
    expect(invoked).toBe(before);
  });

  it('gives no CORS headers to another origin or a header it does not allow', async () => {
    for (const headers of [
      <Record<string, string>>{ origin: 'https://evil.example', 'access-control-request-method': 'PUT' },
      { origin, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'idempotency-key' },
    ]) {
      const res = await preflight(headers);
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    }
  });

  it('an OPTIONS request that is not a preflight goes to routing (no OPTIONS route: 404)', async () => {
    expect((await preflight({ origin })).status).toBe(404);
  });

  it('adds allow-origin and the exposed headers to a CORS response, ignoring the backend CORS headers', async () => {
    const res = await fetch(`${baseUrl}/health`, { headers: { origin } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(origin);
    expect(res.headers.get('access-control-expose-headers')?.split(',')).toEqual(expect.arrayContaining(['etag', 'retry-after']));
    const other = await fetch(`${baseUrl}/health`, { headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('still needs a token for the request after the preflight', async () => {
    const res = await fetch(`${baseUrl}/items/notes/1`, { method: 'PUT', headers: { origin, 'if-match': '"1"' }, body: '{}' });
    expect(res.status).toBe(401);
    expect(res.headers.get('access-control-allow-origin')).toBe(origin);
    const token = await mintToken(keys, { sub: 'alice', tenant: 'acme' });
    const ok = await fetch(`${baseUrl}/items/notes/1`, { method: 'PUT', headers: { origin, authorization: `Bearer ${token}` }, body: '{}' });
    expect(ok.status).toBe(200);
  });
});
