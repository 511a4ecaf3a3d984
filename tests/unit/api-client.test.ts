/**
 * The typed client's retries against a scripted HTTP server: what is retried (429, 5xx, a
 * dropped connection), how long it waits (Retry-After as a floor), that a body is sent again
 * whole, and what is not retried (a 4xx).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ApiError, createApiClient, ok, retryAfterMs } from '../../client/index.ts';

type Step = (req: IncomingMessage, res: ServerResponse) => void;
let script: Step[] = [];
let seen: Array<{ method: string; url: string; body: string; authorization?: string }> = [];
let baseUrl = '';
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (chunk: Buffer) => (body += chunk.toString()));
  req.on('end', () => {
    seen.push({ method: req.method!, url: req.url!, body, authorization: req.headers.authorization });
    const step = script.shift();
    if (!step) throw new Error(`unscripted request ${req.method} ${req.url}`);
    step(req, res);
  });
});
const json = (status: number, body: unknown, headers: Record<string, string> = {}): Step => (_req, res) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};
const job = { importId: '0b6f2c1e-4a5d-4e1b-9a53-2f4d8c7e9a10', status: 'OPEN' };

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  script = [];
  seen = [];
});

function client(retries: Array<{ attempt: number; reason: string; delayMs: number }> = []) {
  return createApiClient({ baseUrl, token: 'T', attempts: 3, baseDelayMs: 1, maxDelayMs: 5, onRetry: (_what, attempt, reason, delayMs) => retries.push({ attempt, reason, delayMs }) });
}

describe('the typed client', () => {
  it('waits at least Retry-After on a 503, then sends the same body again', async () => {
    script = [json(503, { error: { code: 'SERVICE_UNAVAILABLE', message: 'busy' } }, { 'retry-after': '1' }), json(201, job)];
    const retries: Array<{ attempt: number; reason: string; delayMs: number }> = [];
    const created = ok(await client(retries).POST('/imports', { body: { collection: 'books' } }));
    expect(created).toEqual(job);
    expect(retries).toHaveLength(1);
    expect(retries[0]!.delayMs).toBeGreaterThanOrEqual(1000);
    expect(seen.map((r) => [r.method, r.url, r.body, r.authorization])).toEqual([
      ['POST', '/imports', '{"collection":"books"}', 'Bearer T'],
      ['POST', '/imports', '{"collection":"books"}', 'Bearer T'],
    ]);
  });

  it('retries a 429 and a dropped connection', async () => {
    script = [json(429, { message: 'Too Many Requests' }), (req) => req.socket.destroy(), json(200, { ...job, collection: 'books', total: 0, processed: 0, succeeded: 0, failed: 0, rejected: 0, created: 0, replaced: 0, createdAt: 'x', updatedAt: 'x', completedAt: null })];
    const retries: Array<{ attempt: number; reason: string; delayMs: number }> = [];
    const status = ok(await client(retries).GET('/imports/{importId}', { params: { path: { importId: job.importId } } }));
    expect(status.collection).toBe('books');
    expect(retries).toHaveLength(2);
    expect(retries[0]!.reason).toMatch(/^429 /);
    expect(retries[1]!.reason).not.toMatch(/^\d{3} /);
    expect(seen).toHaveLength(3);
  });

  it('does not retry a 4xx, and names its code', async () => {
    script = [json(400, { error: { code: 'VALIDATION_FAILED', message: 'body.collection: must match', details: [{ field: 'body.collection', issue: 'must match' }] } })];
    const answer = await client().POST('/imports', { body: { collection: 'no spaces' } });
    expect(() => ok(answer)).toThrow(ApiError);
    expect(() => ok(answer)).toThrow(/400 VALIDATION_FAILED/);
    expect(seen).toHaveLength(1);
  });

  it('gives the last answer back once the attempts are spent', async () => {
    script = [json(503, { message: 'Service Unavailable' }), json(503, { message: 'Service Unavailable' }), json(503, { message: 'Service Unavailable' })];
    const answer = await client().GET('/health');
    expect(answer.response.status).toBe(503);
    expect(seen).toHaveLength(3);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs(new Date(Date.UTC(2026, 0, 1, 0, 0, 10)).toUTCString(), Date.UTC(2026, 0, 1))).toBe(10_000);
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(null)).toBeUndefined();
  });
});
