/**
 * The read benchmark's traffic: `count` analytics events of one tenant from 500 users over the
 * 7 days before `end` (or another shape), as the processor would hand them to its store (enriched): 8 event types,
 * 3 functions, one in 23 failing, a few import batches (5 imports) and one in 41 stored from a
 * copy redriven from the DLQ, so every read route has something to read.
 */
import { randomUUID } from 'node:crypto';
import { DEAD_LETTER_CAUSES } from '../../functions/shared/analytics/dead-letter.ts';
import { buildAnalyticsEvent } from '../../functions/shared/analytics/event.ts';
import { eventIdOf, timeParts } from '../../functions/shared/analytics/keys.ts';
import type { ValidAnalyticsEvent } from '../../functions/shared/analytics/schema.ts';
import type { EventToStore } from '../../functions/shared/analytics/store.ts';

const DAY = 86_400_000;
export const BENCH_TYPES = ['SIGN_UP', 'ITEM_GET', 'ITEM_PUT', 'ITEM_LIST', 'CHECKOUT', 'SEARCH', 'LOGIN', 'EXPORT'];
const FUNCTIONS = ['query', 'write', 'analytics-api'];
const IMPORTS = Array.from({ length: 5 }, () => randomUUID());

export interface TrafficShape {
  /** Distinct users (500). */
  users?: number;
  /** Days before `end` the events spread over (7). */
  days?: number;
}

function benchEvent(i: number, count: number, end: number, tenant: string, { users = 500, days = 7 }: TrafficShape): EventToStore {
  // Spread over the days with a daily rhythm, users in bursts.
  const at = end - Math.floor(((i * 7919) % count) * ((days * DAY) / count)) - 1;
  const failed = i % 23 === 0;
  const importBatch = i % 97 === 0;
  const event = buildAnalyticsEvent({
    type: importBatch ? 'IMPORT_BATCH' : BENCH_TYPES[(i * 31) % BENCH_TYPES.length]!,
    action: importBatch ? 'IMPORT' : 'EXECUTE',
    category: importBatch ? 'SYSTEM_EVENT' : 'USER_ACTION',
    source: 'event-flows.bench',
    status: failed ? 'FAILURE' : 'SUCCESS',
    ...(failed ? { errorType: i % 2 ? 'NOT_FOUND' : 'CONFLICT' } : {}),
    durationMs: 1 + (i % 97) + (i % 7) / 10,
    ...(importBatch ? {} : { userId: `user-${i % users}` }),
    requestId: randomUUID(),
    timestamp: new Date(at),
    context: { functionName: FUNCTIONS[i % FUNCTIONS.length]!, functionVersion: '$LATEST', memoryLimitInMB: '512', getRemainingTimeInMillis: () => 5000 },
    properties: { tenant, ...(importBatch ? { importId: IMPORTS[i % IMPORTS.length], collection: 'bench', batches: 1, succeeded: 25, failed: 0, created: 25, chunksCompleted: 1 } : {}) },
  }) as ValidAnalyticsEvent;
  const lag = 200 + (i % 1000);
  const receivedAt = new Date(at + lag);
  const { day, hour } = timeParts(event.detail.timestamp);
  return {
    event,
    enrichment: { eventId: eventIdOf(event), tenant, receivedAt: receivedAt.toISOString(), processingLagMs: lag, environment: 'bench', day, hour: `${day}T${hour}`, envelopeId: randomUUID() },
    ...(i % 41 === 0 ? { deadLetter: { failedAt: new Date(at - 60_000 * (1 + (i % 30))).toISOString(), cause: DEAD_LETTER_CAUSES[i % 3]! } } : {}),
  };
}

/** The traffic in batches of 10, as the processor receives it. */
export function benchTraffic(count: number, end: number, tenant: string, shape: TrafficShape = {}): EventToStore[][] {
  const batches: EventToStore[][] = [];
  for (let i = 0; i < count; i += 10) batches.push(Array.from({ length: Math.min(10, count - i) }, (_, j) => benchEvent(i + j, count, end, tenant, shape)));
  return batches;
}
