/**
 * The local API Gateway (HTTP API, payload format 2.0, JWT authorizer) driven with plain
 * handler functions: what the event looks like, how results map to responses, and every
 * error API Gateway itself answers.
 */
import { request as httpRequest } from 'node:http';
import type { Context } from 'aws-lambda';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { afterResponse, drainAfterResponseTasks } from '../../functions/shared/after-response.ts';
import { apiGatewayTime, compileRoutes, createHttpApi, matchRoute, type HttpApi } from '../../scripts/local/http-api.ts';
import { generateSigningKeys, mintToken, type SigningKeys } from '../../scripts/local/jwt.ts';
import type { LocalFunction } from '../../scripts/local/lambda-context.ts';

type Captured = { event: Record<string, any>; context: Context }; // any: events are inspected field by field below

let api: HttpApi;
let baseUrl: string;
let keys: SigningKeys;
let last: Captured | undefined;
let afterTaskDoneAt = 0;
let behaviour: (event: Record<string, any>) => unknown = () => ({ ok: true }); // any: see Captured

const fn = (name: string, timeoutSeconds = 3): LocalFunction => ({
  functionName: `event-flows-local-${name}`,
  memoryMb: 256,
  timeoutSeconds,
  handler: async (event, context) => {
    last = { event: event as Record<string, any>, context }; // any: see Captured
    return behaviour(last.event);
  },
});

beforeAll(async () => {
  keys = await generateSigningKeys();
  api = createHttpApi({
    routes: {
      'GET /health': { function: 'open', auth: 'none' },
      'GET /items/{collection}': { function: 'echo', auth: 'jwt' },
      'GET /items/{collection}/{id}': { function: 'echo', auth: 'jwt' },
      'GET /items/special/{id}': { function: 'special', auth: 'jwt' },
      'GET /admin/report': { function: 'echo', auth: 'jwt', scopes: ['admin'] },
      'POST /upload': { function: 'open', auth: 'none' },
      'GET /slow': { function: 'slow', auth: 'none' },
      'GET /missing': { function: 'missing', auth: 'none' },
      'ANY /files/{path+}': { function: 'open', auth: 'none' },
    },
    functionFor: (name) => (name === 'missing' ? undefined : name === 'slow' ? fn(name, 0.3) : fn(name)),
    authorizer: { publicKey: keys.publicKey, issuer: 'event-flows-local', audience: 'event-flows' },
    log: () => undefined,
    afterResponse: () => void drainAfterResponseTasks(),
    maxBodyBytes: 1024 * 1024,
  });
  baseUrl = await api.listen(0);
});
afterAll(() => api.close());

async function call(path: string, init: RequestInit = {}) {
  last = undefined;
  const response = await fetch(`${baseUrl}${path}`, init);
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) as unknown };
}

const bearer = async (options: Parameters<typeof mintToken>[1] = { sub: 'alice', tenant: 'acme' }) => ({
  authorization: `Bearer ${await mintToken(keys, options)}`,
});

describe('route matching', () => {
  const compiled = compileRoutes({
    'GET /items/{collection}/{id}': { function: 'a', auth: 'jwt' },
    'GET /items/special/{id}': { function: 'b', auth: 'jwt' },
    'ANY /items/{collection}/{id}': { function: 'c', auth: 'jwt' },
    'GET /files/{path+}': { function: 'd', auth: 'none' },
  });
  it('prefers literal segments, then parameters, then greedy; a method over ANY', () => {
    expect(matchRoute(compiled, 'GET', '/items/special/1')?.target.function).toBe('b');
    expect(matchRoute(compiled, 'GET', '/items/notes/1')?.target.function).toBe('a');
    expect(matchRoute(compiled, 'DELETE', '/items/notes/1')?.target.function).toBe('c');
    expect(matchRoute(compiled, 'GET', '/files/a/b%20c')?.pathParameters).toEqual({ path: 'a/b c' });
    expect(matchRoute(compiled, 'GET', '/items/notes')).toBeUndefined();
    expect(matchRoute(compiled, 'GET', '/items/notes/1/extra')).toBeUndefined();
  });

  it('answers 404 {"message":"Not Found"} for unmatched paths and methods', async () => {
    for (const [path, method] of [['/nope', 'GET'], ['/health', 'POST']] as const) {
      const res = await call(path, { method });
      expect(res.status).toBe(404);
      expect(res.json()).toEqual({ message: 'Not Found' });
      expect(last).toBeUndefined();
    }
  });

  it('answers 501 NOT_IMPLEMENTED for a function whose handler does not exist yet', async () => {
    const res = await call('/missing');
    expect(res.status).toBe(501);
    expect(res.json()).toMatchObject({ error: { code: 'NOT_IMPLEMENTED' } });
  });
});

describe('payload format 2.0 event', () => {
  it('carries route, path, query, headers, cookies and the request context', async () => {
    const before = Date.now();
    const { authorization } = await bearer();
    const host = new URL(baseUrl).host;
    // Raw headers, so the same header arrives twice as separate lines.
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        `${baseUrl}/items/my%20notes/a%2Fb?x=1&x=2&y=hello%20world&empty=`,
        {
          headers: ['Host', host, 'X-Multi', 'one', 'X-Multi', 'two', 'Cookie', 'a=1; b=2', 'User-Agent', 'contract-test', 'Authorization', authorization],
        },
        (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
    const { event, context } = last!;
    expect(event.version).toBe('2.0');
    expect(event.routeKey).toBe('GET /items/{collection}/{id}');
    expect(event.rawPath).toBe('/items/my%20notes/a%2Fb');
    expect(event.rawQueryString).toBe('x=1&x=2&y=hello%20world&empty=');
    expect(event.queryStringParameters).toEqual({ x: '1,2', y: 'hello world', empty: '' });
    expect(event.pathParameters).toEqual({ collection: 'my notes', id: 'a/b' });
    expect(event.cookies).toEqual(['a=1', 'b=2']);
    expect(event.headers.cookie).toBeUndefined();
    expect(event.headers['x-multi']).toBe('one,two');
    expect(event.headers['user-agent']).toBe('contract-test');
    expect(Object.keys(event.headers).every((k: string) => k === k.toLowerCase())).toBe(true);
    expect(event.body).toBeUndefined();
    expect(event.isBase64Encoded).toBe(false);
    const rc = event.requestContext;
    expect(rc).toMatchObject({
      accountId: '123456789012',
      apiId: 'local',
      routeKey: 'GET /items/{collection}/{id}',
      stage: '$default',
      http: { method: 'GET', path: '/items/my%20notes/a%2Fb', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'contract-test' },
    });
    expect(rc.domainName).toBe(new URL(baseUrl).host);
    expect(rc.requestId).toMatch(/^[A-Za-z0-9+/]{14}==$/);
    expect(rc.timeEpoch).toBeGreaterThanOrEqual(before);
    expect(rc.time).toBe(apiGatewayTime(new Date(rc.timeEpoch)));
    expect(rc.time).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
    expect(rc.authorizer.jwt.claims).toMatchObject({ sub: 'alice', tenant: 'acme', scope: 'items', iss: 'event-flows-local', aud: 'event-flows' });
    expect(typeof rc.authorizer.jwt.claims.exp).toBe('string');
    expect(rc.authorizer.jwt.scopes).toEqual(['items']);
    expect(context).toMatchObject({
      functionName: 'event-flows-local-echo',
      functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:event-flows-local-echo',
      memoryLimitInMB: '256',
      logGroupName: '/aws/lambda/event-flows-local-echo',
      callbackWaitsForEmptyEventLoop: true,
    });
    expect(context.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(context.logStreamName).toContain('[$LATEST]');
    const remaining = context.getRemainingTimeInMillis();
    expect(remaining).toBeGreaterThan(0);
    expect(remaining).toBeLessThanOrEqual(3000);
  });

  it('omits the authorizer for auth "none" routes', async () => {
    await call('/health');
    expect(last!.event.requestContext.authorizer).toBeUndefined();
    expect(last!.event.queryStringParameters).toBeUndefined();
    expect(last!.event.pathParameters).toBeUndefined();
    expect(last!.event.cookies).toBeUndefined();
  });

  it('passes text bodies as text and other bodies base64-encoded', async () => {
    await call('/upload', { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body: '{"a":"ü"}' });
    expect(last!.event.body).toBe('{"a":"ü"}');
    expect(last!.event.isBase64Encoded).toBe(false);
    const bytes = Buffer.from([0, 1, 2, 255]);
    await call('/upload', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
    expect(last!.event.isBase64Encoded).toBe(true);
    expect(Buffer.from(last!.event.body, 'base64')).toEqual(bytes);
  });

  it('passes greedy path parameters', async () => {
    await call('/files/a/b/c.txt', { method: 'DELETE' });
    expect(last!.event.routeKey).toBe('ANY /files/{path+}');
    expect(last!.event.pathParameters).toEqual({ path: 'a/b/c.txt' });
  });

  it('answers 413 for bodies over the limit without invoking', async () => {
    const res = await call('/upload', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x'.repeat(1024 * 1024 + 1) });
    expect(res.status).toBe(413);
    expect(last).toBeUndefined();
  });
});

describe('JWT authorizer', () => {
  it.each(['expired', 'not-yet-valid', 'wrong-issuer', 'wrong-audience', 'wrong-signature', 'alg-none'] as const)('refuses a token that is %s', async (broken) => {
    const res = await call('/items/notes', { headers: await bearer({ sub: 'alice', tenant: 'acme', broken }) });
    expect(res.status).toBe(401);
    expect(res.json()).toEqual({ message: 'Unauthorized' });
    expect(last).toBeUndefined();
  });

  it('refuses HS256 tokens, a missing header and other schemes', async () => {
    const hs = await new SignJWT({ sub: 'alice', tenant: 'acme' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('event-flows-local')
      .setAudience('event-flows')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('a-shared-secret-that-is-long-enough'));
    const valid = await mintToken(keys, { sub: 'alice', tenant: 'acme' });
    for (const authorization of [`Bearer ${hs}`, undefined, `Basic ${valid}`, 'Bearer']) {
      const res = await call('/items/notes', authorization === undefined ? {} : { headers: { authorization } });
      expect(res.status).toBe(401);
    }
    expect((await call('/items/notes', { headers: { authorization: `Bearer ${valid}` } })).status).toBe(200);
  });

  it('passes claims as API Gateway does: strings, arrays as "[a b]", scopes from `scope`', async () => {
    const res = await call('/items/notes', {
      headers: await bearer({ sub: 'bob', tenant: 't1', admin: true, claims: { groups: ['a', 'b'], level: 3, flag: true, nested: { z: 1, a: 'x' } } }),
    });
    expect(res.status).toBe(200);
    const { claims, scopes } = last!.event.requestContext.authorizer.jwt;
    expect(claims).toMatchObject({ sub: 'bob', tenant: 't1', scope: 'items admin', groups: '[a b]', level: '3', flag: 'true', nested: 'map[a:x z:1]' });
    expect(Object.values(claims).every((v) => typeof v === 'string')).toBe(true);
    expect(scopes).toEqual(['items', 'admin']);
  });
});

describe('route authorization scopes', () => {
  it('answers 403 {"message":"Forbidden"} without invoking when the token lacks every required scope', async () => {
    const res = await call('/admin/report', { headers: await bearer({ sub: 'alice', tenant: 'acme' }) });
    expect(res.status).toBe(403);
    expect(res.json()).toEqual({ message: 'Forbidden' });
    expect(last).toBeUndefined();
    const admin = await call('/admin/report', { headers: await bearer({ sub: 'root', tenant: 'acme', admin: true }) });
    expect(admin.status).toBe(200);
    expect(last).toBeDefined();
  });
});

describe('response mapping', () => {
  it('maps a structured result: status, headers, cookies, base64 body', async () => {
    behaviour = () => ({
      statusCode: 201,
      headers: { 'Content-Type': 'text/plain', 'X-Count': 3 },
      cookies: ['a=1; Path=/', 'b=2'],
      body: Buffer.from('created').toString('base64'),
      isBase64Encoded: true,
    });
    const res = await call('/health');
    expect(res.status).toBe(201);
    expect(res.text).toBe('created');
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(res.headers.get('x-count')).toBe('3');
    expect(res.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2']);
  });

  it('turns a result without statusCode into 200 JSON', async () => {
    behaviour = () => ({ hello: 'world' });
    const res = await call('/health');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.json()).toEqual({ hello: 'world' });
  });

  it('answers 500 when the handler throws or returns a malformed response', async () => {
    for (const b of [
      () => {
        throw new Error('boom');
      },
      () => ({ statusCode: 200, body: { not: 'a string' } }),
      () => ({ statusCode: 'abc' }),
    ]) {
      behaviour = b;
      const res = await call('/health');
      expect(res.status).toBe(500);
      expect(res.json()).toEqual({ message: 'Internal Server Error' });
    }
  });

  it('answers 503 when the handler runs past its timeout', async () => {
    behaviour = () => new Promise((resolve) => setTimeout(() => resolve({ statusCode: 200 }), 1000));
    const started = Date.now();
    const res = await call('/slow');
    expect(res.status).toBe(503);
    expect(res.json()).toEqual({ message: 'Service Unavailable' });
    expect(Date.now() - started).toBeLessThan(900);
  });

  it('runs after-response tasks after the response was sent', async () => {
    afterTaskDoneAt = 0;
    behaviour = () => {
      afterResponse(async () => {
        await new Promise((r) => setTimeout(r, 300));
        afterTaskDoneAt = Date.now();
      });
      return { statusCode: 204 };
    };
    const res = await call('/health');
    const answeredAt = Date.now();
    expect(res.status).toBe(204);
    expect(afterTaskDoneAt).toBe(0);
    await expect.poll(() => afterTaskDoneAt, { timeout: 2000 }).toBeGreaterThan(0);
    expect(afterTaskDoneAt - answeredAt).toBeGreaterThanOrEqual(200);
  });
});

describe('shutdown', () => {
  it('close() stops accepting but answers the requests in flight first', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inHandler = new Promise<void>((resolve) => (entered = resolve));
    const own = createHttpApi({
      routes: { 'GET /wait': { function: 'wait', auth: 'none' } },
      functionFor: () => ({
        functionName: 'wait',
        memoryMb: 128,
        timeoutSeconds: 5,
        handler: async () => {
          entered();
          await gate;
          return { statusCode: 200, body: 'finished' };
        },
      }),
      authorizer: { publicKey: keys.publicKey, issuer: 'i', audience: 'a' },
      log: () => undefined,
    });
    const url = await own.listen(0);
    const pending = fetch(`${url}/wait`).then(async (r) => ({ status: r.status, text: await r.text() }));
    await inHandler;
    let closed = false;
    const closing = own.close().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(closed).toBe(false);
    expect(own.inFlight()).toBe(1);
    await expect(fetch(`${url}/wait`)).rejects.toThrow();
    release();
    expect(await pending).toEqual({ status: 200, text: 'finished' });
    await closing;
    expect(closed).toBe(true);
  });
});
