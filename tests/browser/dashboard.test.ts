/**
 * The analytics dashboard in a real browser (Debian's Chromium, headless, through
 * playwright-core): the local stack with real handlers, the dashboard server of `npm start`
 * on its own origin (so every API call is a CORS request, as deployed), sign-in through the
 * API's `POST /local/token` (as `npm start` serves it on an emulator without user pools), generated traffic, and each view compared with what the API answers
 * to the typed client for the same range.
 *
 * `UPDATE_SCREENSHOTS=1` (npm run screenshots) also writes docs/screenshots/<view>.png.
 */
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient, ok, type ApiClient } from '../../client/index.ts';
import { clientConfig } from '../../scripts/local/provision.ts';
import { localRegion } from '../../scripts/local/lambda-context.ts';
import { startDashboard, type Dashboard } from '../../scripts/local/dashboard.ts';
import { repoRoot } from '../../scripts/local/python-env.ts';
import { runImport } from '../../scripts/import/run.ts';
import { count, eventType, ms, percent, time } from '../../web/src/format.ts';
import { launchChromium, type Browser } from '../../scripts/chromium.ts';
import { startLocalStack, type LocalStack } from '../support/local-stack.ts';
import { awsEndpoint } from '../support/stack.ts';

const screenshots = process.env.UPDATE_SCREENSHOTS ? join(repoRoot, 'docs', 'screenshots') : undefined;
const work = mkdtempSync(join(tmpdir(), 'dashboard-test-'));
let local: LocalStack;
let dashboard: Dashboard;
let browser: Browser;
let page: Page;
let admin: ApiClient;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function request(method: string, path: string, token: string, body?: string): Promise<number> {
  const res = await fetch(`${local.baseUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(body !== undefined && { body }) });
  await res.arrayBuffer();
  return res.status;
}

/** Items written and read by two users, some refused (400) or missing (404), one small import, messages parked in two DLQs. */
async function generateTraffic(): Promise<void> {
  const alice = await local.token({ sub: 'alice' });
  const bob = await local.token({ sub: 'bob' });
  for (let i = 1; i <= 8; i++) expect(await request('PUT', `/items/notes/a${i}`, alice, JSON.stringify({ i, text: 'x'.repeat(i * 50) }))).toBe(201);
  for (let i = 1; i <= 3; i++) expect(await request('PUT', `/items/notes/bad${i}`, alice, 'not json')).toBe(400);
  for (let i = 1; i <= 5; i++) expect(await request('GET', `/items/notes/a${i}`, alice)).toBe(200);
  for (let i = 1; i <= 3; i++) expect(await request('GET', `/items/notes/missing${i}`, alice)).toBe(404);
  for (let i = 1; i <= 2; i++) expect(await request('PUT', `/items/notes/b${i}`, bob, JSON.stringify({ i }))).toBe(201);

  const file = join(work, 'import.ndjson');
  writeFileSync(file, `${Array.from({ length: 6 }, (_, i) => JSON.stringify({ id: `imported${i}`, data: { i } })).join('\n')}\n`);
  const quiet = new PassThrough().resume();
  const imported = await runImport({ file, collection: 'dashboard-import', api: local.baseUrl, token: await local.token({ sub: 'root', admin: true }), stateDir: join(work, 'state'), out: quiet, err: quiet, pollIntervalMs: 200 });
  expect(imported.status).toBe('COMPLETED');

  const sqs = new SQSClient(clientConfig({ endpoint: awsEndpoint(), region: localRegion }));
  await sqs.send(new SendMessageCommand({ QueueUrl: local.stack.queueUrl('analytics-dlq'), MessageBody: '{"parked":1}' }));
  for (let i = 0; i < 2; i++) await sqs.send(new SendMessageCommand({ QueueUrl: local.stack.queueUrl('import-dlq'), MessageBody: `{"parked":${i}}` }));
}

/** Until the analytics queue is empty and the stored counts stop moving (each read is an event too, but a QUERY, filtered out here). */
async function waitUntilSettled(): Promise<void> {
  let previous = '';
  for (let i = 0; i < 80; i++) {
    const health = ok(await admin.GET('/analytics/health', {}));
    const queue = health.queues.find((q) => q.queue === 'analytics');
    const summary = ok(await admin.GET('/analytics/summary', { params: { query: { category: 'USER_ACTION' } } }));
    const imports = ok(await admin.GET('/analytics/imports', {}));
    const now = JSON.stringify([summary.totals, imports.imports.map((x) => x.status)]);
    if (queue?.visible === 0 && queue.inFlight === 0 && now === previous && imports.imports.every((x) => x.status !== 'IN_PROGRESS')) return;
    previous = now;
    await sleep(500);
  }
  throw new Error('the analytics pipeline did not settle');
}

async function showView(view: string): Promise<{ from: string; to: string }> {
  await page.goto(`${dashboard.url}/#${view}`);
  return ready(`[data-view=${view}]`);
}

/** Waits for the view to be shown; fails at once, with the page's message, when it shows an error instead. */
async function ready(extra = ''): Promise<{ from: string; to: string }> {
  const main = page.locator(`main[data-state=ready]${extra}`);
  await page.locator(`main[data-state=ready]${extra}, main[data-state=error]`).waitFor({ timeout: 20_000 });
  if ((await page.locator('main').getAttribute('data-state')) === 'error') throw new Error(`the dashboard shows an error: ${await page.locator('main').textContent()}`);
  return { from: (await main.getAttribute('data-from'))!, to: (await main.getAttribute('data-to'))! };
}

async function screenshot(name: string): Promise<void> {
  if (screenshots) await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
}

const statText = (name: string) => page.locator(`[data-stat=${name}] strong`).textContent();

async function tableRows(name: string): Promise<string[][]> {
  return page.locator(`[data-table=${name}] tbody tr`).evaluateAll((rows) => rows.map((row) => Array.from(row.querySelectorAll('td'), (cell) => cell.textContent ?? '')));
}

async function chartPoints(name: string): Promise<Array<[string, string]>> {
  return page.locator(`[data-chart=${name}] circle.point`).evaluateAll((points) => points.map((p) => [p.getAttribute('data-t') ?? '', p.getAttribute('data-v') ?? '']));
}

const asPoints = (points: Array<{ t: string; value: number | null }>) => points.map((p): [string, string] => [p.t, p.value === null ? '' : String(p.value)]);

beforeAll(async () => {
  process.env.ANALYTICS_RETRY_BASE_SECONDS = '1';
  // The dashboard first: the API must allow its origin (CORS), and it learns the API's URL afterwards.
  let apiUrl = '';
  dashboard = await startDashboard({ port: 0, apiUrl: () => apiUrl, outDir: join(work, 'web'), refreshSeconds: 600 });
  local = await startLocalStack({ corsAllowOrigins: [dashboard.url], localSignIn: true });
  apiUrl = local.baseUrl;
  admin = createApiClient({ baseUrl: local.baseUrl, token: () => local.token({ sub: 'root', admin: true }) });
  browser = await launchChromium();
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
  if (screenshots) mkdirSync(screenshots, { recursive: true });
  await generateTraffic();
  await waitUntilSettled();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await dashboard?.close();
  await local?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('the analytics dashboard in Chromium', () => {
  it('signs in with the local token flow and shows the tenant from the token; a token without admin gets a clear refusal', async () => {
    await page.goto(dashboard.url);
    await page.locator('[data-form=local-sign-in]').waitFor();
    await screenshot('sign-in');
    await page.fill('input[name=user]', 'alice');
    await page.uncheck('input[name=admin]');
    await page.click('[data-control=sign-in]');
    await page.locator('main[data-state=error]').waitFor();
    expect(await page.locator('main').textContent()).toMatch(/need an admin token of tenant acme/);
    await page.click('[data-control=sign-out]');

    await page.locator('[data-form=local-sign-in]').waitFor();
    await page.fill('input[name=user]', 'root');
    await page.click('[data-control=sign-in]');
    await ready('[data-view=overview]');
    expect(await page.locator('#who').textContent()).toBe('tenant acme · root (admin)');
    await screenshot('overview');
  }, 60_000);

  it('overview: the totals, throughput, failure rate and p95 series the API returns for the same range and category', async () => {
    await showView('overview');
    await page.selectOption('[data-control=category]', 'USER_ACTION');
    const range = await ready('[data-view=overview][data-category=USER_ACTION]');
    const query = { from: range.from, to: range.to, category: 'USER_ACTION' as const };
    const summary = ok(await admin.GET('/analytics/summary', { params: { query } }));
    const series = async (metric: 'count' | 'errors' | 'p95') => ok(await admin.GET('/analytics/timeseries', { params: { query: { ...query, metric, interval: 'minute' } } })).points;
    const [counts, errors, p95] = [await series('count'), await series('errors'), await series('p95')];

    // The traffic: 8 + 2 item writes, 3 refused, plus the import's own USER_ACTION events.
    expect(summary.totals.failures).toBe(3);
    expect(await statText('count')).toBe(count(summary.totals.count));
    expect(await statText('failures')).toBe(count(summary.totals.failures));
    expect(await statText('errorRate')).toBe(percent(summary.totals.errorRate));
    expect(await statText('p95')).toBe(ms(summary.totals.duration.p95));
    expect(await statText('p99')).toBe(ms(summary.totals.duration.p99));
    expect(await chartPoints('throughput')).toEqual(asPoints(counts));
    expect(await chartPoints('p95')).toEqual(asPoints(p95));
    expect(await chartPoints('failure-rate')).toEqual(asPoints(counts.map((c, i) => ({ t: c.t, value: c.value ? errors[i]!.value! / c.value : null }))));
    expect(await tableRows('event-types')).toEqual(summary.byEventType.map((row) => [eventType(row.eventType), count(row.count), count(row.failures), percent(row.errorRate), ms(row.duration.p95)]));
  }, 60_000);

  it('errors: the top error patterns', async () => {
    const range = await showView('errors');
    const answer = ok(await admin.GET('/analytics/errors', { params: { query: { from: range.from, to: range.to, limit: 10 } } }));
    expect(answer.patterns.map((p) => [p.eventType, p.errorType, p.count])).toEqual(
      expect.arrayContaining([
        ['ITEM_PUT_ANALYTICS', 'VALIDATION_ERROR', 3],
        ['ITEM_GET_ANALYTICS', 'NOT_FOUND', 3],
      ]),
    );
    expect(await tableRows('error-patterns')).toEqual(
      answer.patterns.map((p) => [eventType(p.eventType), p.errorType, count(p.count), time(p.firstSeen), time(p.lastSeen), p.trend.direction, p.samples[0]?.requestId ?? '']),
    );
    await screenshot('errors');
  }, 60_000);

  it('sessions: sessions and users as the API counts them', async () => {
    const range = await showView('sessions');
    const answer = ok(await admin.GET('/analytics/sessions', { params: { query: { from: range.from, to: range.to } } }));
    expect(answer.users.map((u) => u.userId)).toEqual(expect.arrayContaining(['alice', 'bob', 'root']));
    expect(await statText('sessions')).toBe(count(answer.totals.sessions));
    expect(await statText('users')).toBe(count(answer.totals.users));
    // The admin's own reads keep adding events to its session; the others' rows are fixed.
    const rows = (await tableRows('session-users')).filter(([user]) => user !== 'root');
    expect(rows).toEqual(answer.users.filter((u) => u.userId !== 'root').map((u) => [u.userId, count(u.sessions), count(u.events), `${u.meanDurationMinutes.toLocaleString('en-US', { maximumFractionDigits: 1 })} min`]));
    await screenshot('sessions');
  }, 60_000);

  it('funnels: the builder counts the steps it was given, as the API does', async () => {
    const range = await showView('funnels');
    await page.fill('[data-step="0"]', 'ITEM_PUT');
    await page.fill('[data-step="1"]', 'ITEM_GET');
    await page.selectOption('[data-control=window]', '1h');
    await page.click('[data-control=run-funnel]');
    await page.locator('[data-table=funnel-steps]').waitFor();
    const answer = ok(await admin.GET('/analytics/funnels', { params: { query: { steps: 'ITEM_PUT,ITEM_GET', window: '1h', from: range.from, to: range.to } } }));
    // alice wrote and then read; bob only wrote.
    expect(answer.steps.map((s) => s.users)).toEqual([2, 1]);
    const shown = await page.locator('[data-table=funnel-steps] li').evaluateAll((steps) => steps.map((s) => [s.querySelector('.name')?.textContent, Number(s.getAttribute('data-users'))]));
    expect(shown).toEqual(answer.steps.map((s) => [eventType(s.eventType), s.users]));
    await screenshot('funnels');
  }, 60_000);

  it('queues and imports: DLQ depths and the import, as the API reports them', async () => {
    const range = await showView('system');
    const health = ok(await admin.GET('/analytics/health', { params: { query: { from: new Date(Math.max(Date.parse(range.from), Date.parse(range.to) - 86_400_000)).toISOString(), to: range.to } } }));
    const imports = ok(await admin.GET('/analytics/imports', { params: { query: { from: range.from, to: range.to } } }));
    const dlqs = (rows: string[][]) => rows.filter(([queue]) => queue!.endsWith('dlq'));
    expect(dlqs(await tableRows('queues'))).toEqual(dlqs(health.queues.map((q) => [q.queue, count(q.visible), count(q.inFlight), count(q.delayed)])));
    expect(health.queues.find((q) => q.queue === 'import-dlq')?.visible).toBe(2);
    expect(imports.imports).toHaveLength(1);
    const rows = (await tableRows('imports')).map((row) => row.filter((_, i) => i !== 4));
    expect(rows).toEqual(imports.imports.map((i) => [i.importId, i.collection ?? '', time(i.startedAt), i.status, count(i.counts.succeeded ?? 0), count(i.counts.failed ?? 0), count(i.counts.rejected ?? 0)]));
    await screenshot('queues-imports');
  }, 60_000);
});
