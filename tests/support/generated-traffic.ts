/** What the analytics tests on generated traffic share: a seeded generator and the SQS record the processor receives. */
import { randomUUID } from 'node:crypto';
import type { SQSRecord } from 'aws-lambda';
import type { AnalyticsEvent } from '../../functions/shared/analytics/event.ts';
import { toEnvelope } from '../../functions/shared/events/publisher.ts';
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
