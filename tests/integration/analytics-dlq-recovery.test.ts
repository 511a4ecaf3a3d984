/**
 * Recovery from the analytics DLQ, end to end on the emulator: events forced into the DLQ by
 * two faults (EventBridge refusing connections: the publisher's fallback; DynamoDB refusing
 * them: the processor dead-letters on the last receive), redriven with scripts/redrive.ts
 * while a third fault (a misconfigured retention for USER_ACTION) sends some back a second
 * time, redriven again and stored. Some copies are redriven twice, and stored events are
 * redriven once more at the end. GET /analytics/errors `deadLetters` must count each event
 * once, with its first failure → stored time, as the test computes from the events it made,
 * the marks it read in the DLQ and the stored items.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageBatchCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler as analyticsHandler } from '../../functions/analytics/handler.ts';
import { handler as queryHandler } from '../../functions/query/handler.ts';
import { drainAfterResponseTasks } from '../../functions/shared/after-response.ts';
import { buildAnalyticsEvent } from '../../functions/shared/analytics/event.ts';
import { readDayEvents } from '../../functions/shared/analytics/store.ts';
import { RATIO } from '../../functions/shared/analytics/histogram.ts';
import { setAwsClients } from '../../functions/shared/aws-clients.ts';
import { toEnvelope } from '../../functions/shared/events/publisher.ts';
import { toSqsRecord } from '../../scripts/local/event-source-mapping.ts';
import { clientConfig, type ProvisionedStack } from '../../scripts/local/provision.ts';
import { redrive } from '../../scripts/redrive.ts';
import { analyticsGet, nearestRank, seeded } from '../support/generated-traffic.ts';
import { apiEvent, lambdaContext, type Claims } from '../support/invoke.ts';
import { awsEndpoint, provisionTestStack, region } from '../support/stack.ts';

const TOLERANCE = Math.sqrt(RATIO) - 1 + 1e-9;
/** Nothing listens on port 9 (discard) on loopback: connections are refused at once. */
const refused = { endpoint: 'http://127.0.0.1:9', region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 };
const seed = Number(process.env.DLQ_SEED ?? Date.now() % 1_000_000);
const random = seeded(seed);

let stack: ProvisionedStack;
let sqs: SQSClient;
const tenant = `dlq-${randomUUID().slice(0, 8)}`;
const admin: Claims = { sub: 'root', tenant, scope: 'admin' };

beforeAll(async () => {
  // 1 s visibility and no extra back-off: five receives take seconds, not minutes.
  stack = await provisionTestStack({ visibilityTimeoutSeconds: 1 });
  process.env.ANALYTICS_RETRY_BASE_SECONDS = '0';
  setAwsClients({});
  sqs = new SQSClient(clientConfig({ endpoint: awsEndpoint(), region }));
  vi.spyOn(console, 'log').mockImplementation(() => undefined);
  vi.spyOn(console, 'error').mockImplementation(() => undefined);
}, 60_000);
afterAll(() => {
  vi.restoreAllMocks();
  setAwsClients({});
  delete process.env.ANALYTICS_RETRY_BASE_SECONDS;
  delete process.env.ANALYTICS_RETENTION_DAYS_USER_ACTION;
});

const queueArn = (url: string) => `arn:aws:sqs:${region}:123456789012:${url.split('/').pop()}`;

/** The event source mapping, by hand: receive (with attributes, as Lambda passes them), invoke, delete what succeeded; until the queue is empty. */
async function pump(): Promise<void> {
  const url = stack.queueUrl('analytics');
  for (let idle = 0; idle < 2; ) {
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['All'] }));
    if (Messages.length === 0) {
      const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessagesNotVisible'] }));
      if (Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0) === 0) idle++;
      continue;
    }
    idle = 0;
    const { batchItemFailures } = await analyticsHandler({ Records: Messages.map((m) => toSqsRecord(m, queueArn(url), region)) });
    const failed = new Set(batchItemFailures.map((f) => f.itemIdentifier));
    const done = Messages.filter((m) => !failed.has(m.MessageId!));
    if (done.length > 0) await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: done.map((m, n) => ({ Id: String(n), ReceiptHandle: m.ReceiptHandle! })) }));
  }
}

/** Every message in the DLQ, with body and attributes, left in place. */
async function peekDlq(): Promise<Message[]> {
  const url = stack.queueUrl('analytics-dlq');
  const seen = new Map<string, Message>();
  for (let empty = 0; empty < 2; ) {
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 30, MessageAttributeNames: ['All'] }));
    const fresh = Messages.filter((m) => !seen.has(m.MessageId!));
    for (const m of fresh) seen.set(m.MessageId!, m);
    empty = fresh.length === 0 ? empty + 1 : 0;
  }
  const all = [...seen.values()];
  for (let i = 0; i < all.length; i += 10) {
    await sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: url, Entries: all.slice(i, i + 10).map((m, n) => ({ Id: String(n), ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 })) }));
  }
  return all;
}

/** Puts copies of messages (body and attributes) into the DLQ: the same event waiting there twice. */
async function copyIntoDlq(messages: Message[]): Promise<void> {
  for (let i = 0; i < messages.length; i += 10) {
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: stack.queueUrl('analytics-dlq'),
        Entries: messages.slice(i, i + 10).map((m, n) => ({ Id: String(n), MessageBody: m.Body!, MessageAttributes: m.MessageAttributes })),
      }),
    );
  }
}

const requestIdOf = (message: Message) => (JSON.parse(message.Body!) as { detail: { requestId: string } }).detail.requestId;

async function storedItems(): Promise<Record<string, unknown>[]> {
  const days = new Set([new Date(Date.now() - 3_600_000).toISOString().slice(0, 10), new Date().toISOString().slice(0, 10)]);
  const items: Record<string, unknown>[] = [];
  // Every write shard of the day (functions/shared/analytics/keys.ts).
  for (const day of days) items.push(...(await readDayEvents(tenant, day)));
  return items;
}

function generatedEnvelope(type: 'ITEM_GET' | 'ITEM_PUT', at: number): string {
  const event = buildAnalyticsEvent({
    type,
    action: type === 'ITEM_PUT' ? 'WRITE' : 'EXECUTE',
    category: type === 'ITEM_PUT' ? 'USER_ACTION' : 'QUERY',
    source: 'event-flows.generated',
    status: 'SUCCESS',
    durationMs: 1 + random() * 50,
    userId: `user-${Math.floor(random() * 5)}`,
    requestId: randomUUID(),
    timestamp: new Date(at),
    context: { functionName: 'generated', functionVersion: '$LATEST', memoryLimitInMB: '256', getRemainingTimeInMillis: () => 5000 },
    properties: { tenant },
  });
  return JSON.stringify(toEnvelope({ Source: event.source, DetailType: event.eventType, Detail: JSON.stringify(event) }, '123456789012'));
}

async function sendToQueue(bodies: string[]): Promise<void> {
  for (let i = 0; i < bodies.length; i += 10) {
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: stack.queueUrl('analytics'), Entries: bodies.slice(i, i + 10).map((MessageBody, n) => ({ Id: String(n), MessageBody })) }));
  }
}

function expectClose(actual: number | null, expected: number) {
  expect(actual).not.toBeNull();
  expect(Math.abs(actual! - expected)).toBeLessThanOrEqual(Math.max(1, expected * TOLERANCE));
}

describe(`recovery from the analytics DLQ (seed ${seed})`, () => {
  it('counts each event that went to the DLQ, was redriven and was stored once, with its first failure → stored time', { timeout: 240_000 }, async () => {
    const now = Date.now();
    const at = () => now - Math.floor(random() * 20 * 60_000);

    // Control: events stored straight away never count.
    const control = Array.from({ length: 4 + Math.floor(random() * 4) }, () => generatedEnvelope(random() < 0.5 ? 'ITEM_GET' : 'ITEM_PUT', at()));
    await sendToQueue(control);
    await pump();

    // Fault 1, EventBridge down: the query function's events go to the DLQ (DELIVERY_FAILED).
    const requests = 3 + Math.floor(random() * 4);
    setAwsClients({ eventBridge: new EventBridgeClient(refused) });
    for (let i = 0; i < requests; i++) {
      const result = await queryHandler(apiEvent({ routeKey: 'GET /items/{collection}', path: '/items/notes', pathParameters: { collection: 'notes' }, claims: { sub: 'u', tenant } }), lambdaContext('query'));
      expect(result.statusCode).toBe(200);
    }
    await drainAfterResponseTasks();
    setAwsClients({});

    // Fault 2, DynamoDB down: the processor fails them 5 times and dead-letters them (STORE_FAILED).
    const types = Array.from({ length: 6 + Math.floor(random() * 6) }, (_, i) => (i % 2 === 0 ? 'ITEM_GET' : 'ITEM_PUT') as 'ITEM_GET' | 'ITEM_PUT');
    await sendToQueue(types.map((type) => generatedEnvelope(type, at())));
    setAwsClients({ dynamo: DynamoDBDocumentClient.from(new DynamoDBClient(refused)) });
    await pump();
    setAwsClients({});

    const firstRound = await peekDlq();
    expect(firstRound).toHaveLength(requests + types.length);
    /** What the test knows per event: its type, why it went to the DLQ first, and when it first failed. */
    const truth = new Map<string, { eventType: string; firstFailedAt: number; cause: string }>();
    for (const m of firstRound) {
      expect(m.MessageAttributes?.failedAt?.StringValue, 'every event in the DLQ carries its first failure').toBeDefined();
      const detail = (JSON.parse(m.Body!) as { detail: { eventType: string; requestId: string } }).detail;
      const reason = m.MessageAttributes?.failureReason?.StringValue ?? '';
      truth.set(detail.requestId, { eventType: detail.eventType, firstFailedAt: Date.parse(m.MessageAttributes!.failedAt!.StringValue!), cause: reason.startsWith('EventBridge PutEvents: ') ? 'DELIVERY_FAILED' : reason.split(':')[0]! });
    }
    expect([...truth.values()].filter((t) => t.cause === 'DELIVERY_FAILED')).toHaveLength(requests);
    expect([...truth.values()].filter((t) => t.cause === 'STORE_FAILED')).toHaveLength(types.length);

    // Redriven twice: a copy of some messages waits in the DLQ next to the original.
    await copyIntoDlq(firstRound.filter(() => random() < 0.4));
    // Fault 3, a bad deployment: USER_ACTION retention misconfigured, so ITEM_PUT events fail
    // again after the first redrive and go back to the DLQ, keeping their first failure.
    process.env.ANALYTICS_RETENTION_DAYS_USER_ACTION = 'thirty';
    const firstRedriveAt = Date.now();
    await redrive({ queue: stack.queueUrl('analytics-dlq'), sqs, log: () => undefined });
    await pump();
    const secondRound = await peekDlq();
    const refailed = new Set(secondRound.map(requestIdOf));
    expect(refailed).toEqual(new Set([...truth].filter(([, t]) => t.eventType === 'ITEM_PUT_ANALYTICS').map(([id]) => id)));
    for (const m of secondRound) {
      expect(Date.parse(m.MessageAttributes!.failedAt!.StringValue!)).toBe(truth.get(requestIdOf(m))!.firstFailedAt);
      expect(m.MessageAttributes!.failureReason!.StringValue).toMatch(/^STORE_FAILED: /);
      truth.get(requestIdOf(m))!.cause = 'STORE_FAILED';
    }

    delete process.env.ANALYTICS_RETENTION_DAYS_USER_ACTION;
    const secondRedriveAt = Date.now();
    await redrive({ queue: stack.queueUrl('analytics-dlq'), sqs, log: () => undefined });
    await pump();
    expect(await peekDlq()).toEqual([]);

    // Stored events redriven once more: duplicates, they change nothing.
    await copyIntoDlq(firstRound.filter(() => random() < 0.5));
    await redrive({ queue: stack.queueUrl('analytics-dlq'), sqs, log: () => undefined });
    await pump();

    const stored = await storedItems();
    expect(stored).toHaveLength(control.length + truth.size);
    const recoveries = new Map<string, number[]>();
    for (const item of stored) {
      const t = truth.get((item.event as { requestId: string }).requestId);
      if (!t) continue;
      const ms = Date.parse(String(item.receivedAt)) - t.firstFailedAt;
      // ITEM_PUT events went round twice: stored after the second redrive, and their time spans both rounds.
      expect(Date.parse(String(item.receivedAt))).toBeGreaterThanOrEqual(t.eventType === 'ITEM_PUT_ANALYTICS' ? secondRedriveAt : firstRedriveAt);
      recoveries.set(t.eventType, [...(recoveries.get(t.eventType) ?? []), ms]);
    }

    const range = { from: new Date(now - 2 * 3_600_000).toISOString(), to: new Date(Date.now() + 60_000).toISOString() };
    const res = await analyticsGet('GET /analytics/errors', range, admin);
    expect(res.statusCode).toBe(200);
    const { deadLetters } = res.body;
    const all = [...recoveries.values()].flat();
    expect(deadLetters.stored).toBe(truth.size);
    const causes = [...truth.values()].map((t) => t.cause);
    expect(deadLetters.byCause).toEqual({
      DELIVERY_FAILED: causes.filter((c) => c === 'DELIVERY_FAILED').length,
      STORE_FAILED: causes.filter((c) => c === 'STORE_FAILED').length,
      INVALID_EVENT: 0,
      OTHER: 0,
    });
    expect(deadLetters.recoveryMs.mean).toBe(Math.round(all.reduce((a, b) => a + b, 0) / all.length));
    for (const q of [0.5, 0.95, 0.99] as const) expectClose(deadLetters.recoveryMs[q === 0.5 ? 'p50' : q === 0.95 ? 'p95' : 'p99'], nearestRank(all, q)!);
    expect(deadLetters.byEventType.map((e: { eventType: string; stored: number }) => [e.eventType, e.stored]).sort()).toEqual([...recoveries].map(([type, ms]) => [type, ms.length]).sort());
    for (const entry of deadLetters.byEventType) {
      const ms = recoveries.get(entry.eventType)!;
      expect(entry.recoveryMs.mean).toBe(Math.round(ms.reduce((a, b) => a + b, 0) / ms.length));
      expectClose(entry.recoveryMs.p95, nearestRank(ms, 0.95)!);
    }
    // One Query per day for the hour items and one for the REDRIVE items, plus the minute reads.
    expect(res.body.reads).toBeGreaterThanOrEqual(2);
  });
});
