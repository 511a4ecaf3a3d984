/**
 * Load and soak: the local API (in this process, on loopback) under sustained concurrent
 * load from autocannon for a bounded time, then:
 *
 *   - no errors, no timeouts, every answer 2xx;
 *   - the heap of the local runtime is flat (after GC: growth between two equal load phases
 *     stays within a margin; a leak per request would grow it with the request count);
 *   - analytics events equal requests: every request produced exactly one analytics event,
 *     delivered to the bus or, if the emulator was too slow, to the analytics DLQ.
 */
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { drainAfterResponseTasks, pendingAfterResponseTasks } from '../../functions/shared/after-response.ts';
import {
  captureConsole,
  directClients,
  duration,
  eventually,
  heapAfterGc,
  http,
  newTally,
  observeEventBridge,
  propertiesOf,
  publishTally,
  startReliabilityStack,
  type ReliabilityStack,
} from '../support/reliability-harness.ts';

/** The part of autocannon's programmatic API used here (it ships no type declarations). */
interface AutocannonRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  setupRequest?: (request: AutocannonRequest) => AutocannonRequest;
}
interface AutocannonResult {
  errors: number;
  timeouts: number;
  non2xx: number;
  requests: { total: number; average: number };
  latency: { p99: number; max: number; average: number };
}
interface AutocannonInstance {
  on(event: 'response', listener: (client: unknown, statusCode: number) => void): void;
}
type Autocannon = (options: { url: string; connections: number; duration: number; timeout: number; requests: AutocannonRequest[] }, done: (error: Error | null, result: AutocannonResult) => void) => AutocannonInstance;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const tally = newTally('load');
let local: ReliabilityStack;
let quiet: ReturnType<typeof captureConsole>;
const analytics = { attempted: new Set<string>(), delivered: new Set<string>() };

beforeAll(async () => {
  quiet = captureConsole();
  local = await startReliabilityStack({ pollQueues: false });
  front = await startFaultProxy({ upstream: local.baseUrl });
  observeEventBridge({
    retain: false,
    onEntry: (entry) => {
      if (!entry.detailType.endsWith('_ANALYTICS')) return;
      const id = String(propertiesOf(entry).apiRequestId ?? '');
      analytics.attempted.add(id);
      if (entry.delivered) analytics.delivered.add(id);
    },
  });
});
afterAll(async () => {
  quiet.restore();
  await front?.close();
  await local?.stop();
});

/**
 * autocannon aborts the requests still in flight when its time is up, after the server got
 * them; so requests are counted where the server sees them, by a counting loopback proxy
 * (the fault proxy with no rules) in front of the API.
 */
let front: FaultProxy;

async function phase(token: string, seconds: number, counter: { responses: number; statuses: Record<number, number> }): Promise<AutocannonResult> {
  let n = 0;
  const requests: AutocannonRequest[] = [
    { method: 'GET', path: '/items/load/seed' },
    {
      method: 'PUT',
      path: '/items/load/x',
      setupRequest: (request) => ({ ...request, path: `/items/load/k${n++ % 200}`, body: JSON.stringify({ n, at: Date.now() }) }),
    },
    { method: 'GET', path: '/items/load?limit=10' },
    { method: 'GET', path: '/collections/load/stats' },
    // Not GET /health: it counts a metric instead of an analytics event, and every request
    // here must produce exactly one.
  ];
  const result = await new Promise<AutocannonResult>((resolve, reject) => {
    const instance = autocannon(
      {
        url: front.url, // loopback only: proxy and runtime listen on 127.0.0.1
        connections: 8,
        duration: seconds,
        timeout: 10,
        requests: requests.map((r) => ({ ...r, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } })),
      },
      (error, r) => (error ? reject(error) : resolve(r)),
    );
    instance.on('response', (_client, statusCode) => {
      counter.responses++;
      counter.statuses[statusCode] = (counter.statuses[statusCode] ?? 0) + 1;
    });
  });
  // Let the after-response deliveries of this phase finish.
  await eventually(async () => {
    await drainAfterResponseTasks();
    return pendingAfterResponseTasks() === 0;
  }, 20_000, 100);
  await new Promise((r) => setTimeout(r, 500));
  return result;
}

describe('sustained load on the local API', () => {
  it('no errors, a flat heap, and one analytics event per request', async () => {
    expect(new URL(local.baseUrl).hostname).toBe('127.0.0.1');
    const token = await local.token({ sub: 'loader', tenant: 'load' });
    expect((await http(local.baseUrl, 'PUT', '/items/load/seed', { token, body: '{"seed":true}' })).status).toBe(201);
    const counter = { responses: 0, statuses: {} as Record<number, number> };
    const seconds = Math.round(duration(3000, 30_000) / 1000);

    await phase(token, 1, counter); // warm-up: modules, clients, connection pools
    const heapStart = heapAfterGc();
    const first = await phase(token, seconds, counter);
    const heapMiddle = heapAfterGc();
    const second = await phase(token, seconds, counter);
    const heapEnd = heapAfterGc();

    const total = front.stats().forwarded + 1; // + the seed PUT, sent directly
    tally.requestsMade += total;
    tally.casesTried += counter.responses;
    const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
    quiet.print(
      `load: ${total} requests (${counter.responses} answered before autocannon stopped) in 2 × ${seconds} s (+1 s warm-up), ${Math.round(first.requests.average)}/${Math.round(second.requests.average)} req/s, ` +
        `p99 ${first.latency.p99}/${second.latency.p99} ms, statuses ${JSON.stringify(counter.statuses)}, heap ${mb(heapStart)} → ${mb(heapMiddle)} → ${mb(heapEnd)} MB`,
    );

    for (const r of [first, second]) {
      expect(r.errors, 'connection errors').toBe(0);
      expect(r.timeouts, 'timeouts').toBe(0);
      expect(r.non2xx, `non-2xx answers: ${JSON.stringify(counter.statuses)}`).toBe(0);
      expect(r.requests.total).toBeGreaterThan(0);
    }
    // Flat: the second phase (as many requests again) adds at most a few MB.
    expect(heapEnd - heapMiddle, `heap grew ${mb(heapEnd - heapMiddle)} MB in the second phase`).toBeLessThan(Math.max(8 * 1024 * 1024, heapMiddle * 0.15));
    expect(heapEnd - heapStart, `heap grew ${mb(heapEnd - heapStart)} MB under load`).toBeLessThan(Math.max(16 * 1024 * 1024, heapStart * 0.3));

    // One analytics event per request: delivered, or in the analytics DLQ.
    await eventually(() => analytics.attempted.size >= total, 10_000, 100);
    const sqs = directClients(local.emulator).sqs;
    const inDlq = new Set<string>();
    for (let i = 0, empty = 0; i < 500 && empty < 2; i++) {
      const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: local.stack.queueUrl('analytics-dlq'), MaxNumberOfMessages: 10, WaitTimeSeconds: empty === 0 ? 0 : 1, VisibilityTimeout: 300 }));
      empty = Messages.length === 0 ? empty + 1 : 0;
      for (const m of Messages) {
        const envelope = JSON.parse(m.Body ?? '{}') as { detail?: { detail?: { metadata?: { properties?: { apiRequestId?: string } } } } };
        inDlq.add(String(envelope.detail?.detail?.metadata?.properties?.apiRequestId ?? ''));
      }
    }
    const accounted = new Set([...analytics.delivered, ...inDlq]);
    const lost = [...analytics.attempted].filter((id) => !accounted.has(id)).length + Math.max(0, total - analytics.attempted.size);
    tally.eventsLost += lost;
    quiet.print(`load: analytics events ${analytics.attempted.size} for ${total} requests; delivered ${analytics.delivered.size}, to the DLQ ${inDlq.size}`);
    expect(analytics.attempted.size, 'analytics events vs requests').toBe(total);
    expect(lost).toBe(0);
  }, duration(60_000, 180_000));

  it('publishes the tally', (context) => {
    quiet.restore();
    publishTally(context, tally);
  });
});
