/**
 * The analytics processor against the emulator: validation (poison → DLQ with its reason,
 * batch-mates stored), idempotency, TTL on everything stored, aggregates, and back-off of
 * transient failures through the visibility timeout.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageBatchCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { handler, retryDelaySeconds } from '../../functions/analytics/handler.ts';
import { buildAnalyticsEvent, type AnalyticsEvent, type AnalyticsInput } from '../../functions/shared/analytics/event.ts';
import { eventIdOf, eventKey, SYSTEM_TENANT } from '../../functions/shared/analytics/keys.ts';
import { readAggregateDay, readDayEvents } from '../../functions/shared/analytics/store.ts';
import { setAwsClients } from '../../functions/shared/aws-clients.ts';
import { toSqsRecord } from '../../scripts/local/event-source-mapping.ts';
import { localAccountId } from '../../scripts/local/lambda-context.ts';
import { eventPatternFor, rules } from '../../scripts/local/topology.ts';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { clientConfig, type ProvisionedStack } from '../../scripts/local/provision.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { awsEndpoint, provisionTestStack, region } from '../support/stack.ts';

let stack: ProvisionedStack;
let sqs: SQSClient;
let db: DynamoDBDocumentClient;
const context = { functionName: 'query', functionVersion: '$LATEST', memoryLimitInMB: '512', getRemainingTimeInMillis: () => 9000 };

function analyticsEvent(overrides: Partial<AnalyticsInput> = {}): AnalyticsEvent {
  return buildAnalyticsEvent({
    type: 'ITEM_GET',
    action: 'EXECUTE',
    category: 'QUERY',
    source: 'event-flows.query',
    status: 'SUCCESS',
    durationMs: 12.5,
    requestId: randomUUID(),
    userId: 'u1',
    context,
    properties: { tenant: 'acme' },
    ...overrides,
  });
}

const envelope = (detail: unknown, id = randomUUID(), from: { account?: string; source?: string } = {}) =>
  JSON.stringify({
    version: '0',
    id,
    'detail-type': (detail as { eventType?: string }).eventType ?? 'X_ANALYTICS',
    source: from.source ?? 'event-flows.query',
    account: from.account ?? localAccountId,
    time: new Date().toISOString(),
    region,
    resources: [],
    detail,
  });

async function send(queueUrl: string, bodies: string[]): Promise<void> {
  for (let i = 0; i < bodies.length; i += 10) {
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: bodies.slice(i, i + 10).map((MessageBody, n) => ({ Id: String(n), MessageBody })) }));
  }
}

async function receive(queueUrl: string, max = 10, wait = 0): Promise<Message[]> {
  const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: max, WaitTimeSeconds: wait, MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['All'] }));
  return r.Messages ?? [];
}

/** What the event source mapping does: receive a batch, invoke, delete what did not fail. */
async function runBatch(queueUrl: string, messages?: Message[]) {
  const batch = messages ?? (await receive(queueUrl));
  const arn = `arn:aws:sqs:${region}:123456789012:${queueUrl.split('/').pop()}`;
  const event: SQSEvent = { Records: batch.map((m) => toSqsRecord(m, arn, region)) };
  const result = await handler(event);
  const failed = new Set(result.batchItemFailures.map((f) => f.itemIdentifier));
  const done = batch.filter((m) => !failed.has(m.MessageId!));
  if (done.length > 0) await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: done.map((m, n) => ({ Id: String(n), ReceiptHandle: m.ReceiptHandle! })) }));
  return { result, batch };
}

/** Every shard of the day's raw events (functions/shared/analytics/keys.ts). */
async function rawEvents(tenant: string, day: string) {
  return (await readDayEvents(tenant, day)) as Array<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any -- stored items of any shape; tests assert on them
}

/** The day's aggregate items, each merged across its shards as the API reads it. */
async function aggregates(tenant: string, day: string) {
  return (await readAggregateDay(tenant, day)) as Array<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any -- as above
}

beforeAll(async () => {
  stack = await provisionTestStack();
  sqs = new SQSClient(clientConfig({ endpoint: awsEndpoint(), region }));
  db = DynamoDBDocumentClient.from(new DynamoDBClient(clientConfig({ endpoint: awsEndpoint(), region })));
});

beforeEach(() => {
  Object.assign(process.env, stack.environment);
  setAwsClients({});
});

describe('analytics processor', () => {
  it('stores valid events once, sends poison messages to the DLQ with their reason, and keeps batch-mates', async () => {
    const tenant = `t-${randomUUID().slice(0, 8)}`;
    const good = [0, 1, 2].map((n) => analyticsEvent({ properties: { tenant, n }, durationMs: 10 * (n + 1) }));
    const failure = analyticsEvent({ type: 'ITEM_PUT', action: 'WRITE', category: 'USER_ACTION', status: 'FAILURE', errorType: 'CONFLICT', properties: { tenant } });
    const invalid = { ...analyticsEvent({ properties: { tenant } }), eventType: 'NO_SUFFIX' };
    await send(stack.queueUrl('analytics'), [
      envelope(good[0]),
      'not json at all',
      envelope(good[1]),
      envelope(invalid),
      envelope(good[2]),
      envelope(failure),
      envelope(good[0]), // the same event again, in another envelope (e.g. PutEvents retried after a lost answer)
    ]);
    const messages = [...(await receive(stack.queueUrl('analytics'))), ...(await receive(stack.queueUrl('analytics')))];
    expect(messages).toHaveLength(7);
    const { result } = await runBatch(stack.queueUrl('analytics'), messages);
    expect(result.batchItemFailures).toEqual([]);

    const day = good[0]!.detail.timestamp.slice(0, 10);
    const stored = await rawEvents(tenant, day);
    expect(stored).toHaveLength(4);
    expect(new Set(stored.map((s) => s.eventId))).toEqual(new Set([...good, failure].map((e) => eventIdOf(e))));
    const nowSeconds = Date.now() / 1000;
    for (const item of stored) {
      expect(typeof item.expiresAt).toBe('number');
      const days = item.category === 'QUERY' ? 30 : 90;
      expect(item.expiresAt).toBe(Math.floor(Date.parse(item.event.detail.timestamp) / 1000 + days * 86_400));
      expect(item.expiresAt).toBeGreaterThan(nowSeconds);
      expect(item).toMatchObject({ tenant, environment: stack.prefix, day, hour: item.event.detail.timestamp.slice(0, 13) });
      expect(item.processingLagMs).toBeGreaterThanOrEqual(0);
      expect(Date.parse(item.receivedAt)).toBeGreaterThanOrEqual(Date.parse(item.event.detail.timestamp));
      expect(item.userPk).toBe(`USER#${tenant}#u1`);
    }
    const failed = stored.find((s) => s.status === 'FAILURE');
    expect(failed).toMatchObject({ errorType: 'CONFLICT', category: 'USER_ACTION' });

    const dead = await receive(stack.queueUrl("analytics-dlq"), 10, 1);
    const reasons = dead.map((m) => m.MessageAttributes?.failureReason?.StringValue ?? '').sort();
    expect(reasons.some((r) => /^INVALID_EVENT: the body is not JSON/.test(r))).toBe(true);
    expect(reasons.some((r) => /^INVALID_EVENT: detail\.eventType: must end with _ANALYTICS/.test(r))).toBe(true);
    expect(dead.map((m) => m.Body).sort()).toEqual([envelopeBodyOf(dead, 'NO_SUFFIX'), 'not json at all'].sort());
    expect(dead.some((m) => m.Body === 'not json at all')).toBe(true);

    // Aggregates: one per minute and hour, counting each event once and the dropped copy.
    const aggs = await aggregates(tenant, day);
    const minuteQuery = aggs.filter((a) => a.sk.startsWith('MINUTE#') && a.eventType === 'ITEM_GET_ANALYTICS');
    expect(minuteQuery.reduce((s, a) => s + (a.count ?? 0), 0)).toBe(3);
    expect(minuteQuery.reduce((s, a) => s + (a.duplicates ?? 0), 0)).toBe(1);
    expect(minuteQuery.reduce((s, a) => s + (a.durationSum ?? 0), 0)).toBeCloseTo(60, 6);
    const hourAll = aggs.filter((a) => a.sk.startsWith("HOUR#"));
    expect(hourAll.reduce((s, a) => s + (a.count ?? 0), 0)).toBe(4);
    expect(hourAll.reduce((s, a) => s + (a.failures ?? 0), 0)).toBe(1);
    for (const a of aggs) expect(a.expiresAt).toBeGreaterThan(nowSeconds + 300 * 86_400);
  });

  it('counts a redelivered message once, in a later batch too', async () => {
    const tenant = `t-${randomUUID().slice(0, 8)}`;
    const event = analyticsEvent({ properties: { tenant } });
    await send(stack.queueUrl('analytics'), [envelope(event)]);
    await runBatch(stack.queueUrl('analytics'));
    await send(stack.queueUrl('analytics'), [envelope(event), envelope(event)]);
    await runBatch(stack.queueUrl('analytics'));
    const day = event.detail.timestamp.slice(0, 10);
    expect(await rawEvents(tenant, day)).toHaveLength(1);
    const minute = (await aggregates(tenant, day)).find((a) => a.sk.startsWith('MINUTE#'));
    expect(minute).toMatchObject({ count: 1, duplicates: 2 });
  });

  it('files events without a tenant under the system tenant', async () => {
    const event = analyticsEvent({ type: 'HEALTH_CHECK', category: 'SYSTEM_EVENT', properties: {}, requestId: randomUUID() });
    await send(stack.queueUrl('analytics'), [envelope(event)]);
    await runBatch(stack.queueUrl('analytics'));
    const stored = await db.send(new GetCommand({ TableName: stack.tableName('analytics'), Key: eventKey(SYSTEM_TENANT, event.detail.timestamp, eventIdOf(event)) }));
    expect(stored.Item?.tenant).toBe(SYSTEM_TENANT);
  });

  it("trusts the tenant only in our own account's events from our sources, and redacts whatever it stores", async () => {
    const tenant = `t-${randomUUID().slice(0, 8)}`;
    const partner = '999988887777';
    // Built by hand, not by buildAnalyticsEvent: another account's emitter need not redact.
    const raw = (marker: string) => {
      const event = analyticsEvent({ properties: { tenant, marker } });
      Object.assign(event.detail.metadata.properties, { password: 'hunter2-secret', note: `mail jane.${marker}@example.org or call +44 20 7946 0958` });
      return event;
    };
    const ours = raw('ours');
    const foreign = raw('foreign');
    const unknownSource = raw('unknown-source');
    await send(stack.queueUrl('analytics'), [envelope(ours), envelope(foreign, randomUUID(), { account: partner }), envelope(unknownSource, randomUUID(), { source: 'partner.app' })]);
    const { result } = await runBatch(stack.queueUrl('analytics'));
    expect(result.batchItemFailures).toEqual([]);

    const day = ours.detail.timestamp.slice(0, 10);
    const markers = (items: Record<string, any>[]) => items.map((i) => i.event.detail.metadata.properties.marker).sort(); // any: stored items are read field by field
    expect(markers(await rawEvents(tenant, day))).toEqual(['ours']);
    expect(markers(await rawEvents(`_account-${partner}`, day))).toContain('foreign');
    expect(markers(await rawEvents('_account-unknown', day))).toContain('unknown-source');
    const stored = JSON.stringify([...(await rawEvents(tenant, day)), ...(await rawEvents(`_account-${partner}`, day))]);
    for (const secret of ['hunter2-secret', '@example.org', '7946 0958']) expect(stored).not.toContain(secret);
  });

  it("the analytics rule admits our own account's analytics only from our sources", async () => {
    const events = new EventBridgeClient(clientConfig({ endpoint: awsEndpoint(), region }));
    const marker = randomUUID();
    const put = (source: string) => ({ EventBusName: stack.busName('analytics'), Source: source, DetailType: 'ITEM_GET_ANALYTICS', Detail: JSON.stringify({ marker, source }) });
    const answer = await events.send(new PutEventsCommand({ Entries: [put('event-flows.query'), put('partner.app')] }));
    expect(answer.FailedEntryCount).toBe(0);
    const arrived: string[] = [];
    for (let i = 0; i < 3 && arrived.length < 2; i++) {
      const batch = await receive(stack.queueUrl('analytics'), 10, 1);
      for (const m of batch) {
        const body = JSON.parse(m.Body!) as { source: string; detail: { marker?: string } };
        if (body.detail.marker === marker) arrived.push(body.source);
      }
      // Consumed here, so later tests do not see them again after the 2 s visibility timeout.
      if (batch.length > 0) await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: stack.queueUrl('analytics'), Entries: batch.map((m, n) => ({ Id: String(n), ReceiptHandle: m.ReceiptHandle! })) }));
    }
    expect(arrived).toEqual(['event-flows.query']);
    // Other accounts' events match the pattern's second branch; the emulator cannot put across
    // accounts, so that branch is checked in the plan (tests/infra/plan-topology.ts) only.
    expect(JSON.stringify(eventPatternFor(rules['analytics-to-processor']!, localAccountId))).toContain(`{"anything-but":"${localAccountId}"}`);
  });

  it('reports transient failures per record and backs off through the visibility timeout, never shorter than the queue default', async () => {
    process.env.ANALYTICS_TABLE_NAME = `${stack.prefix}-missing-table`;
    process.env.ANALYTICS_RETRY_BASE_SECONDS = '0';
    try {
      const event = analyticsEvent();
      await send(stack.queueUrl('analytics'), [envelope(event)]);
      const { result, batch } = await runBatch(stack.queueUrl('analytics'));
      expect(result.batchItemFailures).toEqual([{ itemIdentifier: batch[0]!.MessageId }]);
      // The queue's visibility timeout is 2 s: even with base 0 the back-off is not shorter, so the message is not back at once.
      expect(await receive(stack.queueUrl('analytics'))).toEqual([]);
      const again = await receive(stack.queueUrl('analytics'), 10, 4);
      expect(again.map((m) => m.MessageId)).toEqual([batch[0]!.MessageId]);
      expect(again[0]!.Attributes?.ApproximateReceiveCount).toBe('2');
      // Fix the cause: the redelivered message is stored.
      process.env.ANALYTICS_TABLE_NAME = stack.tableName('analytics');
      const { result: second } = await runBatch(stack.queueUrl('analytics'), again);
      expect(second.batchItemFailures).toEqual([]);
    } finally {
      delete process.env.ANALYTICS_RETRY_BASE_SECONDS;
    }
  });

  it('fails a throttled batch as a whole, without a request per event to the throttled table', async () => {
    const proxy = await startFaultProxy({ upstream: awsEndpoint() });
    proxy.setRules([{ target: 'DynamoDB_20120810.TransactWriteItems', fault: { kind: 'throttle', code: 'ThrottlingException' } }]);
    const throttled = DynamoDBDocumentClient.from(new DynamoDBClient({ ...clientConfig({ endpoint: proxy.url, region }), maxAttempts: 3 }), { marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: true } });
    setAwsClients({ dynamo: throttled });
    try {
      await send(stack.queueUrl('analytics'), Array.from({ length: 5 }, () => envelope(analyticsEvent())));
      const { result, batch } = await runBatch(stack.queueUrl('analytics'));
      expect(batch).toHaveLength(5);
      expect(result.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(batch.map((m) => m.MessageId).sort());
      // The SDK's 3 attempts of the batch's one transaction; storing the 5 events one by one would have sent 15 more.
      expect(proxy.stats().operations['DynamoDB_20120810.TransactWriteItems']).toBe(3);
    } finally {
      setAwsClients({});
      await proxy.close();
    }
  });

  it('grows the retry delay with the receive count from the queue default, capped, never below the default', () => {
    // The deployed analytics queue's default visibility is 181 s (6 × 30 s + 1 s batching window).
    expect([1, 2, 3, 4, 5].map((n) => retryDelaySeconds(n, 181, {}))).toEqual([181, 362, 724, 900, 900]);
    expect(retryDelaySeconds(20, 181, {})).toBe(900);
    // A smaller configured base or cap never makes it shorter than the queue's default.
    expect([1, 2, 3, 4].map((n) => retryDelaySeconds(n, 181, { ANALYTICS_RETRY_BASE_SECONDS: '10' }))).toEqual([181, 181, 181, 181]);
    expect(retryDelaySeconds(3, 181, { ANALYTICS_RETRY_BASE_SECONDS: '1', ANALYTICS_RETRY_MAX_SECONDS: '3' })).toBe(181);
    expect(retryDelaySeconds(3, 2, { ANALYTICS_RETRY_BASE_SECONDS: '1', ANALYTICS_RETRY_MAX_SECONDS: '3' })).toBe(3);
  });
});

function envelopeBodyOf(messages: Message[], eventType: string): string {
  const body = messages.find((m) => m.Body?.includes(`"eventType":"${eventType}"`))?.Body;
  expect(body, `a DLQ message for ${eventType}`).toBeDefined();
  return body!;
}
