/**
 * The analytics contract over HTTP, through the local runtime (real routes, JWT checks,
 * after-response delivery, the analytics queue polled like an event source mapping):
 * requests and front-end events show up in the admin summary and the user's event list.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../support/local-stack.ts';

let local: LocalStack;

beforeAll(async () => {
  // moto fails concurrent transactions now and then; retry those records after 1 s, not 10.
  process.env.ANALYTICS_RETRY_BASE_SECONDS = '1';
  local = await startLocalStack();
});
afterAll(async () => {
  await local?.stop();
});

async function api(path: string, token: string, init: RequestInit = {}) {
  const res = await fetch(`${local.baseUrl}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as any) : undefined }; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON of any route
}

async function eventually<T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string): Promise<T> {
  let last: T | undefined;
  for (let i = 0; i < 60; i++) {
    last = await read();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: still ${JSON.stringify(last)}`);
}

describe('analytics over HTTP', () => {
  it('records requests and front-end events, and serves them to the tenant admin only', async () => {
    const alice = await local.token();
    const admin = await local.token({ sub: 'root', admin: true });
    expect((await api('/items/notes/a', alice, { method: 'PUT', body: JSON.stringify({ t: 1 }) })).status).toBe(201);
    expect((await api('/items/notes/a', alice)).status).toBe(200);
    expect((await api('/items/notes/missing', alice)).status).toBe(404);
    const posted = await api('/events', alice, { method: 'POST', body: JSON.stringify({ events: [{ action: 'CLICK', type: 'BUTTON_CLICKED' }] }) });
    expect(posted).toEqual({ status: 202, body: { accepted: 1 } });
    expect((await api('/analytics/summary', alice)).status).toBe(403);

    const summary = await eventually(
      () => api('/analytics/summary', admin),
      (r) => r.status === 200 && (r.body.byEventType as Array<{ eventType: string }>).some((g) => g.eventType === 'frontend:BUTTON_CLICKED_ANALYTICS'),
      'the summary',
    );
    const byType = Object.fromEntries((summary.body.byEventType as Array<{ eventType: string; count: number }>).map((g) => [g.eventType, g.count]));
    expect(byType).toMatchObject({ ITEM_PUT_ANALYTICS: 1, ITEM_GET_ANALYTICS: 2, 'frontend:BUTTON_CLICKED_ANALYTICS': 1 });
    expect(summary.body.byErrorType).toEqual(expect.arrayContaining([{ errorType: 'NOT_FOUND', count: 1 }]));

    const events = await api('/analytics/users/alice/events', admin);
    expect(events.status).toBe(200);
    expect((events.body.events as Array<{ eventType: string }>).map((e) => e.eventType)).toEqual(expect.arrayContaining(['ITEM_PUT_ANALYTICS', 'frontend:BUTTON_CLICKED_ANALYTICS']));
  });
});
