/**
 * Lost answers: DynamoDB applies a write, but its answer never reaches the function (a
 * dropped connection, or an answer later than the client's request timeout), so the SDK
 * sends the same write again. The fault proxy's `lostAnswer` mode does exactly that, for
 * the k-th write (PutItem, UpdateItem, DeleteItem, TransactWriteItems, BatchWriteItem) of a
 * flow, for every k until the flow has no k-th write: every write of every flow below loses
 * its answer once.
 *
 * Flows: PUT (create; replace with and without If-Match), PATCH (with and without If-Match),
 * DELETE (with and without If-Match), import job creation, a chunk of items, the commit of
 * an (empty) import that finishes at once, an import's batch through the worker and its completion (plan, items, settle, final counters,
 * collection stats, status), an item event applied to the collection stats, a batch of
 * analytics events stored with their aggregates.
 *
 * Properties, per lost answer: no 5xx; the response says what happened once (a retried
 * create is still 201 with version 1); nothing applied twice (versions, counters,
 * aggregates); exactly one domain event per change.
 *
 * Quick form (npm test): answers dropped once applied. Full form (RELIABILITY_FULL=1): also
 * answers held past the client's 2 s request timeout.
 */
import type { SQSEvent } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as analyticsHandler } from '../../functions/analytics/handler.ts';
import { routeEnvelope } from '../../functions/app-events/handler.ts';
import { handler as importApi } from '../../functions/import-api/handler.ts';
import { handler as importHandler } from '../../functions/import/handler.ts';
import { handler as writeHandler } from '../../functions/write/handler.ts';
import { drainAfterResponseTasks } from '../../functions/shared/after-response.ts';
import { buildAnalyticsEvent } from '../../functions/shared/analytics/event.ts';
import { readAggregates } from '../../functions/shared/analytics/store.ts';
import { setAwsClients } from '../../functions/shared/aws-clients.ts';
import { completeIfDone } from '../../functions/shared/imports/complete.ts';
import { commitJob, createJob, getJob, reserveChunk } from '../../functions/shared/imports/jobs.ts';
import { validateItems } from '../../functions/shared/imports/items.ts';
import { toMessages } from '../../functions/shared/imports/messages.ts';
import { getCollectionStats, getItem } from '../../functions/shared/items/repository.ts';
import type { ProvisionedStack } from '../../scripts/local/provision.ts';
import { startFaultProxy, type Fault, type FaultProxy } from '../support/fault-proxy.ts';
import { apiEvent, invoke, lambdaContext, type Claims } from '../support/invoke.ts';
import { captureConsole, directClients, fullRun, newTally, observeEventBridge, publishTally } from '../support/reliability-harness.ts';
import { awsEndpoint, provisionTestStack } from '../support/stack.ts';
import { storedItems } from '../support/stored-items.ts';

const tally = newTally('lost-answers');
const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'TransactWriteItems', 'BatchWriteItem'].map((op) => `DynamoDB_20120810.${op}`));
/** No flow has more writes than this; a flow that reaches it is reported (the bound keeps the run finite). */
const MAX_WRITES_PER_FLOW = 16;
const FAULTS: Fault[] = fullRun ? [{ kind: 'lostAnswer' }, { kind: 'lostAnswer', delayMs: 2500 }] : [{ kind: 'lostAnswer' }];

const user: Claims = { sub: 'ann', tenant: 'lost' };
const admin: Claims = { sub: 'boss', tenant: 'lost', scope: 'admin' };

let stack: ProvisionedStack;
let proxy: FaultProxy;
let quiet: ReturnType<typeof captureConsole>;
let events: ReturnType<typeof observeEventBridge>;
let clients: ReturnType<typeof directClients>;

/** Figures of the run, per flow and in total. */
const figures = { writesTried: 0, doubleApplied: 0, serverErrors: 0, changes: 0, domainEvents: 0 };
const perFlow = new Map<string, { writes: number; problems: number }>();
const problems: string[] = [];

beforeAll(async () => {
  quiet = captureConsole();
  stack = await provisionTestStack({ visibilityTimeoutSeconds: 1 });
  process.env.ANALYTICS_ENABLED = 'false';
  process.env.IMPORT_WORKER_CONCURRENCY = '1';
  clients = directClients();
  proxy = await startFaultProxy({ upstream: awsEndpoint() });
  // The functions' clients go through the proxy; assertions read the emulator directly.
  process.env.AWS_ENDPOINT_URL = proxy.url;
  setAwsClients({});
  events = observeEventBridge();
});
afterAll(async () => {
  setAwsClients({});
  process.env.AWS_ENDPOINT_URL = awsEndpoint();
  delete process.env.ANALYTICS_ENABLED;
  delete process.env.IMPORT_WORKER_CONCURRENCY;
  quiet.restore();
  await proxy?.close();
});

interface Check {
  /** What went wrong, if anything; `double` marks a change applied twice. */
  problems: Array<{ text: string; double?: boolean }>;
  /** Domain events the flow published, and how many changes it made. */
  domainEvents?: number;
  changes?: number;
  status?: number;
}

/**
 * Runs `flow` once per write it makes, the k-th time with the k-th write's answer lost
 * (`prepare` builds fresh state first, without faults). Stops when a run had no k-th write.
 */
async function everyWriteLosesItsAnswer<S>(name: string, prepare: (label: string) => Promise<S>, flow: (state: S) => Promise<unknown>, check: (state: S, outcome: unknown) => Promise<Check>): Promise<void> {
  const problemsBefore = problems.length;
  const entry = perFlow.get(name) ?? { writes: 0, problems: 0 };
  perFlow.set(name, entry);
  for (const fault of FAULTS) {
    for (let k = 0; ; k++) {
      if (k >= MAX_WRITES_PER_FLOW) {
        problems.push(`${name}: more than ${MAX_WRITES_PER_FLOW} writes`);
        break;
      }
      proxy.clearRules();
      const state = await prepare(`${name.replace(/\W+/g, '-')}-${k}${fault.kind === 'lostAnswer' && fault.delayMs ? 'd' : ''}`);
      const injectedBefore = proxy.stats().faultsInjected;
      proxy.setRules([{ target: (operation) => WRITES.has(operation), fault, skip: k, times: 1 }]);
      let outcome: unknown;
      try {
        outcome = await flow(state);
      } catch (error) {
        outcome = error;
      }
      await drainAfterResponseTasks();
      proxy.clearRules();
      if (proxy.stats().faultsInjected === injectedBefore) break; // the flow has fewer than k + 1 writes
      tally.casesTried++;
      tally.faultsInjected++;
      figures.writesTried++;
      entry.writes++;
      const result = await check(state, outcome);
      if (result.status !== undefined && result.status >= 500) figures.serverErrors++;
      if (result.changes !== undefined) {
        figures.changes += result.changes;
        figures.domainEvents += result.domainEvents ?? 0;
        if (result.domainEvents !== result.changes) result.problems.push({ text: `${result.domainEvents} domain events for ${result.changes} change(s)` });
      }
      if (result.problems.some((p) => p.double)) figures.doubleApplied++;
      if (result.problems.length > 0) entry.problems++;
      for (const p of result.problems) problems.push(`${name}, write #${k + 1} (${fault.kind === 'lostAnswer' && fault.delayMs ? `answer held ${fault.delayMs} ms` : 'answer dropped'}): ${p.text}`);
    }
  }
  expect(entry.writes, `${name}: no write lost its answer`).toBeGreaterThan(0);
  expect(problems.slice(problemsBefore)).toEqual([]);
}

/** Domain events published for an item or an import since `from` (an index into events.entries). */
function domainEventsFor(from: number, match: (detail: Record<string, unknown>) => boolean, types: string[]): string[] {
  return events.entries.slice(from).filter((e) => types.includes(e.detailType) && match(e.detail)).map((e) => e.detailType);
}

const ITEM_EVENTS = ['ItemCreated', 'ItemUpdated', 'ItemDeleted'];

function itemRequest(method: 'PUT' | 'PATCH' | 'DELETE', collection: string, id: string, body?: object, headers: Record<string, string> = {}) {
  tally.requestsMade++;
  return invoke(
    writeHandler as Parameters<typeof invoke>[0],
    apiEvent({ routeKey: `${method} /items/{collection}/{id}`, path: `/items/${collection}/${id}`, pathParameters: { collection, id }, claims: user, headers, ...(body ? { body } : {}) }),
  );
}

function importRequest(routeKey: string, path: string, pathParameters: Record<string, string>, body?: object) {
  tally.requestsMade++;
  return invoke(importApi, apiEvent({ routeKey, path, pathParameters, claims: admin, ...(body ? { body } : {}) }));
}

type Answer = Awaited<ReturnType<typeof itemRequest>>;

/** A first delivery of `bodies` from one of the stack's queues, as the event source mapping hands it over. */
function sqsEvent(queue: string, bodies: string[]): SQSEvent {
  return {
    Records: bodies.map((body) => ({
      messageId: randomUUID(),
      receiptHandle: 'r',
      body,
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'x', ApproximateFirstReceiveTimestamp: '0' },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: `arn:aws:sqs:us-east-1:123456789012:${stack.prefix}-${queue}`,
      awsRegion: 'us-east-1',
    })),
  };
}

interface ItemCase {
  name: string;
  /** Seed the item at version 1 before the request. */
  seeded: boolean;
  method: 'PUT' | 'PATCH' | 'DELETE';
  ifMatch?: string;
  body?: object;
  status: number;
  /** The stored item's version afterwards (undefined: gone), and its data. */
  version?: number;
  data?: object;
  event: string;
}

const ITEM_CASES: ItemCase[] = [
  { name: 'PUT create', seeded: false, method: 'PUT', body: { a: 1 }, status: 201, version: 1, data: { a: 1 }, event: 'ItemCreated' },
  { name: 'PUT replace', seeded: true, method: 'PUT', body: { a: 2 }, status: 200, version: 2, data: { a: 2 }, event: 'ItemUpdated' },
  { name: 'PUT replace with If-Match', seeded: true, method: 'PUT', ifMatch: '"1"', body: { a: 2 }, status: 200, version: 2, data: { a: 2 }, event: 'ItemUpdated' },
  { name: 'PATCH', seeded: true, method: 'PATCH', body: { b: 2 }, status: 200, version: 2, data: { a: 1, b: 2 }, event: 'ItemUpdated' },
  { name: 'PATCH with If-Match', seeded: true, method: 'PATCH', ifMatch: '"1"', body: { b: 2 }, status: 200, version: 2, data: { a: 1, b: 2 }, event: 'ItemUpdated' },
  { name: 'DELETE', seeded: true, method: 'DELETE', status: 204, event: 'ItemDeleted' },
  { name: 'DELETE with If-Match', seeded: true, method: 'DELETE', ifMatch: '"1"', status: 204, event: 'ItemDeleted' },
];

describe('a write whose answer is lost is applied once, answered once, announced once', () => {
  for (const c of ITEM_CASES) {
    it(c.name, async () => {
      await everyWriteLosesItsAnswer(
        c.name,
        async (id) => {
          if (c.seeded) expect((await itemRequest('PUT', 'things', id, { a: 1 })).statusCode).toBe(201);
          return { id, from: events.entries.length };
        },
        ({ id }) => itemRequest(c.method, 'things', id, c.body, c.ifMatch ? { 'if-match': c.ifMatch } : {}),
        async ({ id, from }, outcome) => {
          const answer = outcome as Answer;
          const found: Check['problems'] = [];
          if (answer.statusCode !== c.status) found.push({ text: `answered ${answer.statusCode} ${JSON.stringify(answer.body)}, not ${c.status}` });
          if (c.version !== undefined && answer.statusCode < 300 && answer.body?.version !== c.version) found.push({ text: `answered version ${answer.body?.version}, not ${c.version}`, double: answer.body?.version > c.version });
          const stored = await getItem({ tenant: user.tenant, collection: 'things', id });
          if (c.version === undefined && stored) found.push({ text: `still stored at version ${stored.version}` });
          if (c.version !== undefined && stored?.version !== c.version) found.push({ text: `stored at version ${stored?.version}, not ${c.version}`, double: (stored?.version ?? 0) > c.version });
          if (c.data && stored && JSON.stringify(stored.data) !== JSON.stringify(c.data)) found.push({ text: `stored ${JSON.stringify(stored.data)}` });
          const published = domainEventsFor(from, (d) => d.id === id, ITEM_EVENTS);
          if (published.some((type) => type !== c.event)) found.push({ text: `published ${published.join(', ')}; expected ${c.event}` });
          if (published.length > 1) found[found.length] = { text: `${published.length} ${c.event} events`, double: true };
          return { problems: found, status: answer.statusCode, changes: 1, domainEvents: published.length };
        },
      );
    }, fullRun ? 120_000 : 30_000);
  }

  it('import job creation', async () => {
    await everyWriteLosesItsAnswer(
      'import job creation',
      async (collection) => ({ collection }),
      ({ collection }) => importRequest('POST /imports', '/imports', {}, { collection }),
      async (_state, outcome) => {
        const answer = outcome as Answer;
        const found: Check['problems'] = [];
        if (answer.statusCode !== 201) found.push({ text: `answered ${answer.statusCode} ${JSON.stringify(answer.body)}` });
        else if (!(await getJob(admin.tenant, answer.body.importId as string))) found.push({ text: 'the job answered is not stored' });
        return { problems: found, status: answer.statusCode };
      },
    );
  }, fullRun ? 120_000 : 30_000);

  it('a chunk of items added to an import', async () => {
    await everyWriteLosesItsAnswer(
      'import chunk',
      async (collection) => ({ job: await createJob(admin.tenant, collection, admin.sub) }),
      ({ job }) => importRequest('POST /imports/{importId}/items', `/imports/${job.importId}/items`, { importId: job.importId }, { chunkId: 'c1', items: [{ id: 'x', data: { n: 1 } }, { id: 'y', data: { n: 2 } }] }),
      async ({ job }, outcome) => {
        const answer = outcome as Answer;
        const found: Check['problems'] = [];
        if (answer.statusCode !== 202) found.push({ text: `answered ${answer.statusCode} ${JSON.stringify(answer.body)}` });
        else if (answer.body.replayed !== false || answer.body.accepted !== 2) found.push({ text: `answered ${JSON.stringify(answer.body)}: the chunk was taken for one sent before` });
        const view = await getJob(admin.tenant, job.importId);
        if (view?.total !== 2 || view.chunks !== 1 || view.chunksQueueing.length !== 0) found.push({ text: `job counts ${view?.total} items in ${view?.chunks} chunks, ${view?.chunksQueueing.length} still queueing`, double: (view?.total ?? 0) > 2 });
        return { problems: found, status: answer.statusCode };
      },
    );
  }, fullRun ? 120_000 : 30_000);

  it('an import committed (empty, so it finishes at once: commit, final counters, status)', async () => {
    await everyWriteLosesItsAnswer(
      'import commit',
      async (collection) => ({ job: await createJob(admin.tenant, collection, admin.sub), from: events.entries.length }),
      ({ job }) => importRequest('POST /imports/{importId}/commit', `/imports/${job.importId}/commit`, { importId: job.importId }),
      async ({ job, from }, outcome) => {
        const answer = outcome as Answer;
        const found: Check['problems'] = [];
        if (answer.statusCode !== 202 || answer.body.status !== 'COMPLETED') found.push({ text: `answered ${answer.statusCode} ${JSON.stringify(answer.body)}` });
        const view = await getJob(admin.tenant, job.importId);
        if (view?.status !== 'COMPLETED') found.push({ text: `job ${view?.status}` });
        const completed = domainEventsFor(from, (d) => d.importId === job.importId, ['ImportCompleted']);
        return { problems: found, status: answer.statusCode, changes: 1, domainEvents: completed.length };
      },
    );
  }, fullRun ? 120_000 : 30_000);

  it("an import's batch through the worker, then its completion (plan, items, settle, counters, stats, status)", async () => {
    const items = [{ id: 'p', data: { n: 1 } }, { id: 'q', data: { n: 2 } }, { id: 'r', data: { n: 3 } }];
    await everyWriteLosesItsAnswer(
      'import batch and completion',
      async (collection) => {
        const job = await createJob(admin.tenant, collection, admin.sub);
        const { accepted } = validateItems(items, job);
        const messages = toMessages(job, 'c0', accepted);
        expect(await reserveChunk(job, { chunkId: 'c0', hash: 'h', status: 'QUEUED', accepted: accepted.length, rejectedCount: 0, batches: messages.length })).toBe('reserved');
        await commitJob(admin.tenant, job.importId);
        return { job, messages, from: events.entries.length };
      },
      async ({ job, messages }) => {
        const result = await importHandler(sqsEvent('import', messages.map((message) => JSON.stringify(message))), lambdaContext('import'));
        // As the app-events function does on the worker's ImportProgress event.
        await completeIfDone(admin.tenant, job.importId, lambdaContext('app-events'));
        return result;
      },
      async ({ job, from }, outcome) => {
        const found: Check['problems'] = [];
        if (outcome instanceof Error) found.push({ text: `threw ${outcome.name}: ${outcome.message}` });
        else if ((outcome as { batchItemFailures: unknown[] }).batchItemFailures.length > 0) found.push({ text: 'the worker reported its message failed' });
        const view = await getJob(admin.tenant, job.importId);
        if (view?.status !== 'COMPLETED' || view.succeeded !== 3 || view.created !== 3) found.push({ text: `job ${view?.status}, succeeded ${view?.succeeded}, created ${view?.created}`, double: (view?.succeeded ?? 0) > 3 || (view?.created ?? 0) > 3 });
        const Items = await storedItems(clients.dynamo, stack.tableName('data'), admin.tenant, job.collection);
        if (Items.length !== 3 || Items.some((i) => i.version !== 1)) found.push({ text: `items stored: ${Items.map((i) => `${i.id}@${i.version}`).join(' ')}`, double: Items.some((i) => Number(i.version) > 1) });
        const stats = await getCollectionStats(admin.tenant, job.collection);
        if (stats.itemCount !== 3) found.push({ text: `collection stats count ${stats.itemCount} items, not 3`, double: stats.itemCount > 3 });
        const completed = domainEventsFor(from, (d) => d.importId === job.importId, ['ImportCompleted']);
        return { problems: found, changes: 1, domainEvents: completed.length };
      },
    );
  }, fullRun ? 300_000 : 60_000);

  it('an item event applied to the collection stats', async () => {
    await everyWriteLosesItsAnswer(
      'item event to stats',
      async (collection) => ({ collection, at: new Date().toISOString() }),
      ({ collection, at }) =>
        routeEnvelope({ id: randomUUID(), source: 'event-flows.items', 'detail-type': 'ItemCreated', detail: { tenant: user.tenant, collection, id: 'i1', at } }, lambdaContext('app-events')),
      async ({ collection, at }, outcome) => {
        const found: Check['problems'] = [];
        if (outcome !== 'applied') found.push({ text: `outcome ${outcome instanceof Error ? `${outcome.name}: ${outcome.message}` : String(outcome)}, not applied` });
        const stats = await getCollectionStats(user.tenant, collection);
        // The event moves lastWriteAt only: the count changes in the item's own write transaction.
        if (stats.itemCount !== 0 || stats.lastWriteAt !== at) found.push({ text: `stats ${JSON.stringify(stats)}`, double: stats.itemCount > 0 });
        return { problems: found };
      },
    );
  }, fullRun ? 120_000 : 30_000);

  it('analytics events stored with their aggregates', async () => {
    await everyWriteLosesItsAnswer(
      'analytics store',
      async (label) => {
        const tenant = `an-${label}`;
        const minute = new Date(Math.floor(Date.now() / 60_000) * 60_000);
        const bodies = [0, 1, 2].map((i) => {
          const event = buildAnalyticsEvent({
            type: 'ITEM_PUT',
            action: 'WRITE',
            category: 'USER_ACTION',
            source: 'event-flows.write',
            status: 'SUCCESS',
            durationMs: 5 + i,
            userId: 'ann',
            requestId: `req-${tenant}-${i}`,
            timestamp: new Date(minute.getTime() + i),
            context: lambdaContext('write'),
            properties: { tenant, statusCode: 201 },
          });
          return JSON.stringify({ version: '0', id: randomUUID(), 'detail-type': event.eventType, source: event.source, account: '123456789012', time: event.detail.timestamp, region: 'us-east-1', resources: [], detail: event });
        });
        return { tenant, minute, bodies };
      },
      ({ bodies }) => analyticsHandler(sqsEvent('analytics', bodies)),
      async ({ tenant, minute }, outcome) => {
        const found: Check['problems'] = [];
        if (outcome instanceof Error) found.push({ text: `threw ${outcome.name}: ${outcome.message}` });
        const rows = await readAggregates(tenant, 'MINUTE', minute.toISOString(), new Date(minute.getTime() + 60_000).toISOString());
        const count = rows.reduce((sum, r) => sum + r.count, 0);
        const duplicates = rows.reduce((sum, r) => sum + r.duplicates, 0);
        if (count !== 3 || duplicates !== 0) found.push({ text: `aggregates count ${count} events and ${duplicates} duplicates; 3 were stored once`, double: count > 3 || duplicates > 0 });
        return { problems: found };
      },
    );
  }, fullRun ? 120_000 : 30_000);

  it('summary: no write applied twice, no 5xx, one domain event per change', (context) => {
    const rows = [...perFlow].map(([flow, e]) => `| ${flow.padEnd(28)} | ${String(e.writes).padStart(6)} | ${String(e.problems).padStart(8)} |`);
    quiet.print(
      [
        `\nlost answers (${fullRun ? 'full' : 'quick'} form): ${figures.writesTried} writes lost their answer; ${figures.doubleApplied} applied twice; ${figures.serverErrors} answered 5xx; ` +
          `${figures.domainEvents} domain events for ${figures.changes} changes`,
        '| flow                         | writes | problems |',
        ...rows,
        ...problems.map((p) => `  - ${p}`),
      ].join('\n'),
    );
    publishTally(context, tally);
    expect(figures.writesTried).toBeGreaterThan(ITEM_CASES.length);
    expect(problems).toEqual([]);
    expect(figures.doubleApplied).toBe(0);
    expect(figures.serverErrors).toBe(0);
    expect(figures.domainEvents).toBe(figures.changes);
  });
});
