/**
 * Faults at the wire between the functions and the emulator (tests/support/fault-proxy.ts),
 * and the emulator itself stopped and restarted mid-test:
 *
 *   1. the API answers every request: a success, or 503 with the error body when the data
 *      store fails; never a 500, never a hang past the function's timeout (each request timed);
 *   2. a write the API confirmed is stored (no item lost);
 *   3. EventBridge failures never change an API response, and every analytics and domain
 *      event is delivered, in a DLQ with its failure reason, or (when SQS fails too) in the
 *      log as a replayable UNDELIVERED_EVENT line: none is lost;
 *   4. with the emulator stopped the API answers 503 quickly, and after a restart (moto loses
 *      its state: provisioned again) it serves again;
 *   5. an import whose writes are throttled ends, after recovery and a DLQ redrive
 *      (scripts/redrive.ts), with every item stored exactly once.
 */
import { ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setAwsClients } from '../../functions/shared/aws-clients.ts';
import { freePort, startMoto, type RunningEmulator } from '../../scripts/local/moto.ts';
import { provision } from '../../scripts/local/provision.ts';
import { functions } from '../../scripts/local/topology.ts';
import { startFaultProxy, type Fault, type FaultProxy } from '../support/fault-proxy.ts';
import {
  captureConsole,
  directClients,
  eventually,
  fullRun,
  http,
  isErrorBody,
  newTally,
  publishTally,
  runs,
  scanAll,
  startReliabilityStack,
  timeoutFor,
  type ReliabilityStack,
} from '../support/reliability-harness.ts';
import { awsEndpoint, region } from '../support/stack.ts';
import { storedItem } from '../support/stored-items.ts';

const tally = newTally('faults');
const API_TIMEOUT_MS = functions.query.timeoutSeconds * 1000; // query and write: 10 s
const TIMEOUT_MARGIN_MS = 1500;

let proxy: FaultProxy;
let local: ReliabilityStack;
let clients: ReturnType<typeof directClients>;
let output: ReturnType<typeof captureConsole>;
let token: string;

beforeAll(async () => {
  output = captureConsole();
  clients = directClients();
});
afterAll(async () => {
  output.restore();
  await local?.stop();
  await proxy?.close();
});

/** Receives every message currently in a queue (hidden for 5 minutes, so each is seen once). */
async function drainQueue(queueUrl: string): Promise<Message[]> {
  const messages: Message[] = [];
  let emptyPolls = 0;
  for (let i = 0; i < 500 && emptyPolls < 2; i++) {
    const { Messages = [] } = await clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: emptyPolls === 0 ? 0 : 1, VisibilityTimeout: 300, MessageAttributeNames: ['All'] }),
    );
    if (Messages.length === 0) emptyPolls++;
    else emptyPolls = 0;
    messages.push(...Messages);
  }
  return messages;
}

/** Waits until no request has crossed the proxy for `quietMs` (bounded by `maxMs`). */
async function quiescent(p: FaultProxy, quietMs = 1500, maxMs = 10_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  let last = p.stats().requests;
  let since = Date.now();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    const now = p.stats().requests;
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return;
  }
}

function assertAnswered(answer: { status: number; ms: number; text: string; json: unknown }, label: string, timeoutMs = API_TIMEOUT_MS): void {
  expect(answer.ms, `${label} took ${Math.round(answer.ms)} ms, past the function timeout`).toBeLessThan(timeoutMs + TIMEOUT_MARGIN_MS);
  expect(answer.status === 503 || answer.status < 500, `${label} answered ${answer.status} ${answer.text.slice(0, 200)}`).toBe(true);
  if (answer.status >= 400) expect(isErrorBody(answer.json), `${label}: error body ${answer.text.slice(0, 200)}`).toBe(true);
}

describe('faults between the functions and DynamoDB/EventBridge/SQS', () => {
  beforeAll(async () => {
    proxy = await startFaultProxy({ upstream: awsEndpoint() });
    local = await startReliabilityStack({ functionsEndpoint: proxy.url, pollQueues: false });
    token = await local.token({ sub: 'faulty', tenant: 'faults' });
  });

  it('DynamoDB 500s, throttling, dropped connections and latency: every request answered (2xx or 503), in time, and no confirmed write lost', async () => {
    const fault: fc.Arbitrary<Fault> = fc.oneof(
      fc.constant<Fault>({ kind: 'status500' }),
      fc.constantFrom<Fault>({ kind: 'throttle', code: 'ProvisionedThroughputExceededException' }, { kind: 'throttle', code: 'ThrottlingException' }),
      fc.constant<Fault>({ kind: 'drop' }),
      // Below the functions' 2 s SDK request deadline: latency alone must not fail a request.
      fc.integer({ min: 50, max: 1000 }).map((ms): Fault => ({ kind: 'latency', ms })),
    );
    const operation = fc.constantFrom('put', 'patch', 'delete', 'get', 'list', 'stats');
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fault, fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }), operation, async (f, times, op) => {
        tally.casesTried++;
        const id = `f${n++}`;
        // An item to read or change, written before the faults start.
        proxy.clearRules();
        tally.requestsMade++;
        expect((await http(local.baseUrl, 'PUT', `/items/faulty/${id}`, { token, body: '{"v":0}' })).status).toBe(201);
        const before = proxy.stats().faultsInjected;
        proxy.setRules([{ target: 'DynamoDB_20120810.', fault: f, ...(times !== undefined ? { times } : {}) }]);
        const [method, path, body] =
          op === 'put' ? ['PUT', `/items/faulty/${id}`, '{"v":1}'] :
          op === 'patch' ? ['PATCH', `/items/faulty/${id}`, '{"v":1}'] :
          op === 'delete' ? ['DELETE', `/items/faulty/${id}`, undefined] :
          op === 'get' ? ['GET', `/items/faulty/${id}`, undefined] :
          op === 'list' ? ['GET', '/items/faulty?limit=5', undefined] : ['GET', '/collections/faulty/stats', undefined];
        tally.requestsMade++;
        const answer = await http(local.baseUrl, method, path, { token, ...(body ? { body } : {}) });
        proxy.clearRules();
        tally.faultsInjected += proxy.stats().faultsInjected - before;
        assertAnswered(answer, `${op} under ${f.kind}${times ? ` ×${times}` : ''}`);
        if (answer.status === 503) expect(answer.headers.get('retry-after')).toBe('1');
        if (f.kind === 'latency') expect(answer.status, 'latency alone must not fail a request').toBeLessThan(300);
        // A confirmed write is in the table.
        if ((op === 'put' || op === 'patch') && answer.status < 300) {
          const Item = await storedItem(clients.dynamo, local.stack.tableName('data'), 'faults', 'faulty', id);
          if ((Item?.data as { v?: number } | undefined)?.v !== 1) tally.itemsLost++;
          expect(Item?.data).toEqual({ v: 1 });
        }
        if (op === 'delete' && answer.status === 204) {
          const Item = await storedItem(clients.dynamo, local.stack.tableName('data'), 'faults', 'faulty', id);
          expect(Item).toBeUndefined();
        }
      }),
      { numRuns: runs(8, 150) },
    );
  }, timeoutFor(8, 3000));

  // Was BUG-5 (fixed in 0fe2e71: SDK connection/request deadlines): a hung DynamoDB call held
  // the function until Lambda killed it at 10 s, with the gateway's body and no analytics event.
  it('a DynamoDB call that never answers: our 503 error body, well inside the function timeout', async () => {
    proxy.setRules([{ target: 'DynamoDB_20120810.GetItem', fault: { kind: 'hang' } }]);
    const before = proxy.stats().faultsInjected;
    tally.casesTried++;
    tally.requestsMade++;
    const answer = await http(local.baseUrl, 'GET', '/items/faulty/f0', { token, timeoutMs: API_TIMEOUT_MS + 5000 });
    proxy.clearRules();
    tally.faultsInjected += proxy.stats().faultsInjected - before;
    assertAnswered(answer, 'GET with a hung DynamoDB call');
    expect(answer.status).toBe(503);
    expect(isErrorBody(answer.json), answer.text).toBe(true);
    expect(answer.ms, 'answered by the function itself, before the Lambda timeout').toBeLessThan(API_TIMEOUT_MS - 500);
  }, API_TIMEOUT_MS + 10_000);

  it('EventBridge failing (500s, throttling, drops) never changes a response; every event is delivered, in a DLQ with its reason, or logged for replay', async () => {
    const ids: string[] = [];
    const requestIds = new Set<string>();
    const faults: Fault[] = [{ kind: 'status500' }, { kind: 'throttle', code: 'ThrottlingException' }, { kind: 'drop' }];
    const group = fc.record({ fault: fc.constantFrom(...faults), times: fc.option(fc.integer({ min: 1, max: 12 }), { nil: undefined }), sqsDown: fc.boolean(), requests: fc.integer({ min: 1, max: 4 }) });
    await fc.assert(
      fc.asyncProperty(group, async ({ fault, times, sqsDown, requests }) => {
        tally.casesTried++;
        const before = proxy.stats().faultsInjected;
        proxy.setRules([
          { target: 'AWSEvents.PutEvents', fault, ...(times !== undefined ? { times } : {}) },
          // Sometimes the fallback queue is down too: the events must then reach the log.
          ...(sqsDown ? [{ target: 'AmazonSQS.SendMessageBatch', fault: { kind: 'status500' } as Fault }] : []),
        ]);
        const answers = await Promise.all(
          Array.from({ length: requests }, async () => {
            const id = `eb${ids.length}`;
            ids.push(id);
            tally.requestsMade++;
            const answer = await http(local.baseUrl, 'PUT', `/items/events/${id}`, { token, body: JSON.stringify({ id }) });
            return { id, answer };
          }),
        );
        for (const { id, answer } of answers) {
          // The response is what it would have been without analytics: created, with the item.
          assertAnswered(answer, 'PUT with EventBridge failing');
          expect(answer.status).toBe(201);
          expect(answer.json).toMatchObject({ collection: 'events', id, data: { id }, version: 1 });
          requestIds.add(answer.headers.get('apigw-requestid') ?? '');
        }
        // Delivery runs after the response: wait until the wire is quiet before the rules change.
        await quiescent(proxy);
        proxy.clearRules();
        tally.faultsInjected += proxy.stats().faultsInjected - before;
      }),
      { numRuns: runs(3, 40) },
    );

    // Every analytics event (one per request) and domain event (ItemCreated per id) is somewhere.
    const found = { analytics: new Set<string>(), domain: new Set<string>() };
    const reasons: string[] = [];
    const note = (body: unknown, where: 'queue' | 'dlq' | 'log', reason?: string) => {
      const envelope = body as { 'detail-type'?: string; detail?: { id?: string; detail?: { metadata?: { properties?: { apiRequestId?: string } } } } };
      if (envelope['detail-type'] === 'ItemCreated' && envelope.detail?.id) found.domain.add(envelope.detail.id);
      const apiRequestId = envelope.detail?.detail?.metadata?.properties?.apiRequestId;
      if (envelope['detail-type']?.endsWith('_ANALYTICS') && apiRequestId) found.analytics.add(apiRequestId);
      if (where !== 'queue') reasons.push(reason ?? '');
    };
    for (const queue of ['analytics', 'app-events'] as const) {
      for (const m of await drainQueue(local.stack.queueUrl(queue))) note(JSON.parse(m.Body ?? '{}'), 'queue');
      for (const m of await drainQueue(local.stack.queueUrl(`${queue}-dlq`))) note(JSON.parse(m.Body ?? '{}'), 'dlq', m.MessageAttributes?.failureReason?.StringValue);
    }
    for (const line of output.lines.filter((l) => l.includes('UNDELIVERED_EVENT'))) {
      const parsed = JSON.parse(line) as { reason?: string; envelope?: unknown };
      note(parsed.envelope, 'log', parsed.reason);
    }
    const lostDomain = ids.filter((id) => !found.domain.has(id));
    const lostAnalytics = [...requestIds].filter((r) => !found.analytics.has(r));
    tally.eventsLost += lostDomain.length + lostAnalytics.length;
    expect(lostDomain, 'domain events lost').toEqual([]);
    expect(lostAnalytics, 'analytics events lost').toEqual([]);
    // Everything that did not reach its queue says why.
    expect(reasons.every((r) => r.length > 0), `a DLQ message or log line without a reason: ${JSON.stringify(reasons)}`).toBe(true);
  }, timeoutFor(3, 9000));
});

describe('the emulator stopped and restarted mid-test', () => {
  let moto: RunningEmulator;
  let port: number;
  let prefix: string;

  beforeAll(async () => {
    port = await freePort();
    moto = await startMoto({ port });
    prefix = `rr${Date.now().toString(36)}`;
    await local.stop();
    local = await startReliabilityStack({ emulator: moto.endpoint, prefix, pollQueues: false });
    token = await local.token({ sub: 'restart', tenant: 'restart' });
  }, 60_000);
  afterAll(async () => {
    await moto?.stop();
  });

  it('answers 503 quickly while the emulator is down, and serves again after it is back (and provisioned: moto forgets)', async () => {
    tally.casesTried++;
    tally.requestsMade++;
    expect((await http(local.baseUrl, 'PUT', '/items/r/before', { token, body: '{"a":1}' })).status).toBe(201);

    await moto.stop();
    tally.faultsInjected++;
    const requests: Array<[string, string, string | undefined]> = [
      ['GET', '/items/r/before', undefined],
      ['GET', '/items/r', undefined],
      ['PUT', '/items/r/during', '{"a":2}'],
      ['PATCH', '/items/r/before', '{"a":3}'],
      ['DELETE', '/items/r/before', undefined],
      ['GET', '/collections/r/stats', undefined],
    ];
    for (const [method, path, body] of requests) {
      tally.requestsMade++;
      const answer = await http(local.baseUrl, method, path, { token, ...(body ? { body } : {}) });
      assertAnswered(answer, `${method} ${path} with the emulator down`);
      expect(answer.status, `${method} ${path}`).toBe(503);
      expect(answer.ms, 'a refused connection should fail fast, well within the timeout').toBeLessThan(5000);
    }
    // Undeliverable events of those requests were logged for replay (bus and DLQ were down too).
    // After the response, retries and the fallback first: under a loaded machine that took over 500 ms.
    expect(await eventually(() => output.lines.some((l) => l.includes('UNDELIVERED_EVENT')), 5000)).toBe(true);

    moto = await startMoto({ port });
    await provision({ endpoint: moto.endpoint, region }, prefix, { visibilityTimeoutSeconds: 2 });
    setAwsClients({});
    tally.requestsMade += 2;
    const after = await http(local.baseUrl, 'PUT', '/items/r/after', { token, body: '{"a":4}' });
    expect(after.status).toBe(201);
    const read = await http(local.baseUrl, 'GET', '/items/r/after', { token });
    expect(read.json).toMatchObject({ data: { a: 4 } });
    // moto kept nothing across the restart: the earlier item is gone with it (the emulator's loss, not the API's).
    const gone = await http(local.baseUrl, 'GET', '/items/r/before', { token });
    expect(gone.status).toBe(404);
    const records = await scanAll(directClients(moto.endpoint).dynamo, local.stack.tableName('data'));
    expect(records.filter((r) => String(r.sk).startsWith('ITEM#')).map((r) => r.id)).toEqual(['after']);
  }, 90_000);

  it('publishes the tally', (context) => {
    output.restore();
    if (!fullRun) expect(tally.casesTried).toBeGreaterThan(10);
    expect(tally.faultsInjected).toBeGreaterThan(0);
    publishTally(context, tally);
  });
});
