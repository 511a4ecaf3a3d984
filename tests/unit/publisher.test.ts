/**
 * The publisher's pure logic: batching by count and size, back-off, and what happens to
 * entries PutEvents refuses (per-entry ErrorCode / FailedEntryCount, failed calls). The
 * EventBridge client is a stub here because the emulator never answers with per-entry
 * errors; tests/integration/analytics-delivery.test.ts covers real outages against moto.
 */
import type { EventBridgeClient, PutEventsCommand, PutEventsRequestEntry, PutEventsResultEntry } from '@aws-sdk/client-eventbridge';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { drainAfterResponseTasks, pendingAfterResponseTasks } from '../../functions/shared/after-response.ts';
import { setAwsClients } from '../../functions/shared/aws-clients.ts';
import {
  entrySize,
  EventPublisher,
  MAX_ENTRIES_PER_CALL,
  MAX_REQUEST_BYTES,
  toBatches,
  UNDELIVERED_EVENT,
  FALLBACK_RESERVE_MS,
} from '../../functions/shared/events/publisher.ts';
import { backoffDelay } from '../../functions/shared/retry.ts';

const entry = (detailBytes: number, n = 0): PutEventsRequestEntry => ({ Source: 's', DetailType: `T${n}`, Detail: JSON.stringify({ n, pad: 'x'.repeat(Math.max(0, detailBytes - 20)) }) });

type Answer = (entries: PutEventsRequestEntry[], call: number) => { Entries: PutEventsResultEntry[]; FailedEntryCount: number } | Error;

/** A stand-in EventBridge client: records each PutEvents call and answers with `answer`. */
function stubEventBridge(answer: Answer): { calls: PutEventsRequestEntry[][] } {
  const calls: PutEventsRequestEntry[][] = [];
  const client = {
    send: async (command: PutEventsCommand) => {
      const entries = command.input.Entries ?? [];
      calls.push(entries);
      const result = answer(entries, calls.length);
      if (result instanceof Error) throw result;
      return result;
    },
  };
  // Only `send` is used by the publisher; the full client surface is irrelevant here.
  setAwsClients({ eventBridge: client as unknown as EventBridgeClient });
  return { calls };
}

const ok = (entries: PutEventsRequestEntry[]) => ({ Entries: entries.map((_, i) => ({ EventId: `id-${i}` })), FailedEntryCount: 0 });

function captureStdio() {
  const lines: string[] = [];
  const out = vi.spyOn(console, 'log').mockImplementation((line: unknown) => void lines.push(String(line)));
  const err = vi.spyOn(console, 'error').mockImplementation((line: unknown) => void lines.push(String(line)));
  return {
    lines,
    undelivered: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.message === UNDELIVERED_EVENT),
    restore: () => {
      out.mockRestore();
      err.mockRestore();
    },
  };
}

function publisher(options: Partial<ConstructorParameters<typeof EventPublisher>[0]> = {}) {
  const sleeps: number[] = [];
  const p = new EventPublisher({
    busName: () => 'bus',
    fallbackQueueUrl: () => undefined,
    sleep: async (ms) => void sleeps.push(ms),
    random: () => 0.5,
    ...options,
  });
  return { p, sleeps };
}

afterEach(() => setAwsClients({}));

describe('toBatches', () => {
  it('never puts more than 10 entries or 1 MB in a call, keeps order, loses nothing', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 400_000 }), { maxLength: 40 }), (sizes) => {
        const entries = sizes.map((size, n) => entry(size, n));
        const batches = toBatches(entries);
        expect(batches.flat()).toEqual(entries);
        for (const batch of batches) {
          expect(batch.length).toBeGreaterThan(0);
          expect(batch.length).toBeLessThanOrEqual(MAX_ENTRIES_PER_CALL);
          expect(batch.reduce((sum, e) => sum + entrySize(e), 0)).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('splits 25 small entries 10/10/5 and 300 KB entries three to a call', () => {
    expect(toBatches(Array.from({ length: 25 }, (_, n) => entry(100, n))).map((b) => b.length)).toEqual([10, 10, 5]);
    expect(toBatches(Array.from({ length: 7 }, (_, n) => entry(300 * 1024, n))).map((b) => b.length)).toEqual([3, 3, 1]);
  });

  it('counts bytes, not characters', () => {
    const e = { Source: 'é', DetailType: 'T', Detail: '"€"' };
    expect(entrySize(e)).toBe(14 + 2 + 1 + 5);
  });
});

describe('backoffDelay', () => {
  it('is full jitter within [0, base * 2^attempt] and its ceiling doubles', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 1, max: 1000 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (attempt, base, r) => {
        const delay = backoffDelay(attempt, base, () => r);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(base * 2 ** attempt);
      }),
    );
    expect(backoffDelay(3, 50, () => 0.999999)).toBe(399);
    expect(backoffDelay(4, 50, () => 0.999999)).toBe(799);
  });
});

describe('EventPublisher.flush', () => {
  it('re-sends only the entries that came back with an ErrorCode, after a back-off', async () => {
    const { calls } = stubEventBridge((entries, call) =>
      call === 1
        ? { Entries: entries.map((e, i) => (i === 2 || i === 5 ? { ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' } : { EventId: `id-${i}` })), FailedEntryCount: 2 }
        : ok(entries),
    );
    const { p, sleeps } = publisher();
    for (let n = 0; n < 8; n++) p.publish({ source: 's', detailType: `T${n}`, detail: { n } });
    const report = await p.flush();
    expect(report).toEqual({ delivered: 8, retried: 2, toFallbackQueue: 0, toLog: 0 });
    expect(calls.map((c) => c.map((e) => e.DetailType))).toEqual([['T0', 'T1', 'T2', 'T3', 'T4', 'T5', 'T6', 'T7'], ['T2', 'T5']]);
    expect(sleeps).toEqual([50]); // 0.5 * 50 * 2^1
  });

  it('backs off exponentially while a call keeps failing, then logs every entry as UNDELIVERED_EVENT and counts it', async () => {
    const { calls } = stubEventBridge(() => Object.assign(new Error('socket hang up'), { name: 'TimeoutError' }));
    const { p, sleeps } = publisher({ maxAttempts: 4 });
    const io = captureStdio();
    for (let n = 0; n < 12; n++) p.publish({ source: 's', detailType: `T${n}`, detail: { n } });
    const report = await p.flush();
    io.restore();
    expect(calls).toHaveLength(8); // 4 rounds of 2 calls (10 + 2)
    expect(sleeps).toEqual([50, 100, 200]);
    expect(report).toEqual({ delivered: 0, retried: 36, toFallbackQueue: 0, toLog: 12 });
    const lost = io.undelivered();
    expect(lost.map((l) => (l.envelope as { 'detail-type': string })['detail-type']).sort()).toEqual(Array.from({ length: 12 }, (_, n) => `T${n}`).sort());
    expect(lost.every((l) => l.bus === 'bus' && (l.envelope as { detail: { n: number } }).detail.n >= 0)).toBe(true);
    const metric = io.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => '_aws' in l && 'UndeliveredEvents' in l);
    expect(metric?.UndeliveredEvents).toBe(12);
  });

  it('does not retry entries that can never succeed', async () => {
    const { calls } = stubEventBridge((entries) => ({
      Entries: entries.map((_, i) => (i === 0 ? { ErrorCode: 'MalformedDetail' } : { EventId: 'x' })),
      FailedEntryCount: 1,
    }));
    const { p, sleeps } = publisher();
    const io = captureStdio();
    p.publish({ source: 's', detailType: 'BAD', detail: {} });
    p.publish({ source: 's', detailType: 'GOOD', detail: {} });
    const report = await p.flush();
    io.restore();
    expect(calls).toHaveLength(1);
    expect(sleeps).toEqual([]);
    expect(report).toMatchObject({ delivered: 1, toLog: 1 });
    expect(io.undelivered()[0]).toMatchObject({ reason: 'MalformedDetail' });
  });

  it('never runs past the invocation deadline: no PutEvents round and no fallback call once it has passed, the events go to the log', async () => {
    const { calls } = stubEventBridge(ok);
    const { p } = publisher({ fallbackQueueUrl: () => 'http://127.0.0.1:9/000000000000/unreachable-dlq' });
    const io = captureStdio();
    p.publish({ source: 's', detailType: 'LATE', detail: {} });
    const report = await p.flush(Date.now() - 1);
    io.restore();
    expect(calls).toEqual([]);
    expect(report).toEqual({ delivered: 0, retried: 0, toFallbackQueue: 0, toLog: 1 });
    expect(io.undelivered()[0]).toMatchObject({ bus: 'bus' });
  });

  it('stops PutEvents rounds FALLBACK_RESERVE_MS before the invocation deadline', async () => {
    const { calls } = stubEventBridge(ok);
    const { p } = publisher();
    const io = captureStdio();
    p.publish({ source: 's', detailType: 'LATE', detail: {} });
    const report = await p.flush(Date.now() + FALLBACK_RESERVE_MS - 50);
    io.restore();
    expect(calls).toEqual([]);
    expect(report.toLog).toBe(1);
  });

  it('gives up retrying when the flush budget is spent', async () => {
    const { calls } = stubEventBridge(() => new Error('boom'));
    const { p } = publisher({ flushBudgetMs: 60, baseDelayMs: 40, random: () => 0.99, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) });
    const io = captureStdio();
    p.publish({ source: 's', detailType: 'T', detail: {} });
    const started = Date.now();
    const report = await p.flush();
    io.restore();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(calls.length).toBeLessThan(4);
    expect(report.toLog).toBe(1);
  });

  it('schedules one after-response flush per burst and sends nothing before it runs', async () => {
    const { calls } = stubEventBridge((entries) => ok(entries));
    const { p } = publisher();
    const before = pendingAfterResponseTasks();
    p.publish({ source: 's', detailType: 'A', detail: {} });
    p.publish({ source: 's', detailType: 'B', detail: {} });
    expect(pendingAfterResponseTasks()).toBe(before + 1);
    expect(calls).toHaveLength(0);
    expect(p.pending).toBe(2);
    await drainAfterResponseTasks();
    expect(calls.map((c) => c.length)).toEqual([2]);
    expect(p.pending).toBe(0);
  });
});
