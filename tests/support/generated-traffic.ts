/** What the analytics tests on generated traffic share: a seeded generator, the SQS record the processor receives, and a contract-checked read. */
import { randomUUID } from 'node:crypto';
import type { SQSRecord } from 'aws-lambda';
import { expect } from 'vitest';
import { handler as analyticsApi } from '../../functions/analytics-api/handler.ts';
import { drainAfterResponseTasks } from '../../functions/shared/after-response.ts';
import type { AnalyticsEvent } from '../../functions/shared/analytics/event.ts';
import { toEnvelope } from '../../functions/shared/events/publisher.ts';
import { contractProblems } from './contract.ts';
import { apiEvent, lambdaContext, type Claims } from './invoke.ts';
import { region } from './stack.ts';

/** mulberry32: a small seeded generator, so a failing run can be replayed with the seed it prints. */
export function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An analytics event as the event source mapping hands it over: an EventBridge envelope in an SQS record. */
export function sqsRecord(event: AnalyticsEvent): SQSRecord {
  return {
    messageId: randomUUID(),
    receiptHandle: randomUUID(),
    body: JSON.stringify(toEnvelope({ Source: event.source, DetailType: event.eventType, Detail: JSON.stringify(event) }, '123456789012')),
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.now()), SenderId: 'test', ApproximateFirstReceiveTimestamp: String(Date.now()) },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: `arn:aws:sqs:${region}:123456789012:analytics`,
    awsRegion: region,
  };
}

/** Nearest rank, as the API computes percentiles; null for no values. */
export function nearestRank(values: number[], q: number): number | null {
  return [...values].sort((a, b) => a - b)[Math.max(1, Math.ceil(q * values.length)) - 1] ?? null;
}

/**
 * Runs events through the real processor in shuffled batches of 10 (nothing may depend on
 * arrival order), then delivers the first batch again (a redelivery must count nowhere).
 */
export async function processShuffled(events: AnalyticsEvent[], random: () => number): Promise<void> {
  const { handler } = await import('../../functions/analytics/handler.ts');
  const shuffled = [...events].sort(() => random() - 0.5);
  for (let i = 0; i < shuffled.length; i += 10) {
    const { batchItemFailures } = await handler({ Records: shuffled.slice(i, i + 10).map(sqsRecord) });
    if (batchItemFailures.length > 0) throw new Error(`the processor failed ${batchItemFailures.length} records`);
  }
  await handler({ Records: shuffled.slice(0, 10).map(sqsRecord) });
}

/** A read of the analytics API, its answer checked against docs/openapi.json on real data (the fuzzer only sees empty tenants). */
export async function analyticsGet(route: string, query: Record<string, string>, claims: Claims) {
  const path = route.split(' ')[1]!;
  const result = await analyticsApi(apiEvent({ routeKey: route, path, claims, query }), lambdaContext('analytics-api'));
  await drainAfterResponseTasks();
  const url = `${path}?${new URLSearchParams(query)}`;
  const headers = Object.fromEntries(Object.entries(result.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]));
  expect(contractProblems({ method: 'GET', url, status: result.statusCode ?? 0, headers, body: result.body ?? '' })).toEqual([]);
  return { statusCode: result.statusCode, body: JSON.parse(result.body ?? 'null') };
}
