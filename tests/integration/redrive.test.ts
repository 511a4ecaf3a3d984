/**
 * scripts/redrive.ts against the emulator: a message the processor keeps failing on ends in
 * the DLQ after maxReceiveCount receives while its batch-mates are stored; a dry run lists
 * it without moving it; once the cause is fixed, a redrive brings it back and it is stored.
 */
import { readDayEvents } from '../../functions/shared/analytics/store.ts';
import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler as analyticsHandler } from '../../functions/analytics/handler.ts';
import { buildAnalyticsEvent, type AnalyticsInput } from '../../functions/shared/analytics/event.ts';
import { setAwsClients } from '../../functions/shared/aws-clients.ts';
import { toSqsRecord } from '../../scripts/local/event-source-mapping.ts';
import { clientConfig, type ProvisionedStack } from '../../scripts/local/provision.ts';
import { parseArgs, redrive } from '../../scripts/redrive.ts';
import { awsEndpoint, provisionTestStack, region } from '../support/stack.ts';

let stack: ProvisionedStack;
let sqs: SQSClient;
const context = { functionName: 'fn', functionVersion: '1', memoryLimitInMB: '512', getRemainingTimeInMillis: () => 1000 };

beforeAll(async () => {
  // 1 s: the processor's back-off is never shorter than the queue's default visibility.
  stack = await provisionTestStack({ visibilityTimeoutSeconds: 1 });
  setAwsClients({});
  sqs = new SQSClient(clientConfig({ endpoint: awsEndpoint(), region }));
});
afterAll(() => {
  delete process.env.ANALYTICS_RETENTION_DAYS_QUERY;
  delete process.env.ANALYTICS_RETRY_BASE_SECONDS;
});

const envelope = (input: Partial<AnalyticsInput> & { tenant: string }) => {
  const detail = buildAnalyticsEvent({ type: 'ITEM_GET', action: 'EXECUTE', category: 'QUERY', source: 'event-flows.query', status: 'SUCCESS', requestId: randomUUID(), context, properties: { tenant: input.tenant }, ...input });
  // As EventBridge delivers it: our account and source, so the processor believes the tenant.
  return JSON.stringify({ version: '0', id: randomUUID(), 'detail-type': detail.eventType, source: 'event-flows.query', account: '123456789012', time: new Date().toISOString(), region, resources: [], detail });
};

/** One event source mapping poll: receive, invoke, delete what succeeded. Returns how many were received. */
async function poll(waitSeconds = 0): Promise<number> {
  const url = stack.queueUrl('analytics');
  const arn = `arn:aws:sqs:${region}:123456789012:${url.split('/').pop()}`;
  const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: waitSeconds, MessageSystemAttributeNames: ['All'] }));
  if (Messages.length === 0) return 0;
  const result = await analyticsHandler({ Records: Messages.map((m) => toSqsRecord(m, arn, region)) });
  const failed = new Set(result.batchItemFailures.map((f) => f.itemIdentifier));
  const done = Messages.filter((m) => !failed.has(m.MessageId!));
  if (done.length) await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: done.map((m, n) => ({ Id: String(n), ReceiptHandle: m.ReceiptHandle! })) }));
  return Messages.length;
}

async function depth(url: string): Promise<number> {
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
  return Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
}

async function stored(tenant: string) {
  return readDayEvents(tenant, new Date().toISOString().slice(0, 10));
}

describe('redrive', () => {
  it('a poison message reaches the DLQ while its batch-mates are stored, and is processed after a fix and a redrive', async () => {
    const tenant = `t-${randomUUID().slice(0, 8)}`;
    // A bad deployment: QUERY retention misconfigured, so every QUERY event fails to store.
    process.env.ANALYTICS_RETENTION_DAYS_QUERY = 'thirty';
    process.env.ANALYTICS_RETRY_BASE_SECONDS = '0';
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: stack.queueUrl('analytics'),
        Entries: [
          envelope({ tenant }),
          envelope({ tenant, type: 'ITEM_PUT', action: 'WRITE', category: 'USER_ACTION' }),
          envelope({ tenant, type: 'ITEM_DELETE', action: 'DELETE', category: 'USER_ACTION' }),
        ].map((MessageBody, n) => ({ Id: String(n), MessageBody })),
      }),
    );
    // maxReceiveCount is 5: the sixth receive finds it moved to the DLQ.
    for (let round = 0; round < 10 && (await depth(stack.queueUrl('analytics'))) > 0; round++) await poll(2);
    vi.restoreAllMocks();
    expect(await depth(stack.queueUrl('analytics'))).toBe(0);
    expect((await stored(tenant)).map((s) => s.eventType).sort()).toEqual(['ITEM_DELETE_ANALYTICS', 'ITEM_PUT_ANALYTICS']);

    const listed = await redrive({ queue: stack.queueUrl('analytics-dlq'), dryRun: true, sqs, log: () => undefined });
    expect(listed.method).toBe('dry-run');
    expect(listed.messages).toHaveLength(1);
    expect(listed.messages![0]!.reason).toMatch(/maxReceiveCount/);
    expect(await depth(stack.queueUrl('analytics-dlq'))).toBe(1); // still there

    delete process.env.ANALYTICS_RETENTION_DAYS_QUERY;
    const lines: string[] = [];
    // By the source queue's name: the redrive policy names the DLQ.
    const result = await redrive({ queue: `${stack.prefix}-analytics`, sqs, log: (l) => lines.push(l) });
    expect(result).toMatchObject({ moved: 1, method: 'receive', dlqUrl: stack.queueUrl('analytics-dlq'), kind: 'sqs-redrive', destinationUrl: stack.queueUrl('analytics') });
    expect(lines.join('\n')).toMatch(/does not support StartMessageMoveTask/);
    expect(await depth(stack.queueUrl('analytics-dlq'))).toBe(0);
    while ((await poll()) > 0);
    expect((await stored(tenant)).map((s) => s.eventType).sort()).toEqual(['ITEM_DELETE_ANALYTICS', 'ITEM_GET_ANALYTICS', 'ITEM_PUT_ANALYTICS']);
  });

  it("an EventBridge delivery DLQ goes to the rule's target queue, by receive-and-send", async () => {
    // What EventBridge puts there: the event as the target would have received it, with why it failed.
    const body = JSON.stringify({ version: '0', id: randomUUID(), 'detail-type': 'ItemCreated', source: 'event-flows.items', detail: { tenant: 'acme', collection: 'c', id: 'x', at: new Date().toISOString() } });
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: stack.queueUrl('app-events-delivery-dlq'),
        Entries: [{ Id: '0', MessageBody: body, MessageAttributes: { ERROR_CODE: { DataType: 'String', StringValue: 'SQS_QUEUE_NOT_FOUND' }, TARGET_ARN: { DataType: 'String', StringValue: `arn:aws:sqs:${region}:123456789012:${stack.prefix}-app-events` } } }],
      }),
    );
    const listed = await redrive({ queue: `${stack.prefix}-app-events-delivery-dlq`, dryRun: true, sqs, log: () => undefined });
    expect(listed).toMatchObject({ kind: 'eventbridge-delivery', destinationUrl: stack.queueUrl('app-events') });
    expect(listed.messages![0]!.reason).toMatch(/SQS_QUEUE_NOT_FOUND/);
    // StartMessageMoveTask cannot serve it: asked for explicitly, a clear error; by default, receive-and-send.
    await expect(redrive({ queue: `${stack.prefix}-app-events-delivery-dlq`, method: 'move-task', sqs, log: () => undefined })).rejects.toThrow(/StartMessageMoveTask/);
    const moved = await redrive({ queue: `${stack.prefix}-app-events-delivery-dlq`, sqs, log: () => undefined });
    expect(moved).toMatchObject({ moved: 1, method: 'receive', destinationUrl: stack.queueUrl('app-events') });
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: stack.queueUrl('app-events'), MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    expect(Messages.map((m) => m.Body)).toEqual([body]);
    expect(await depth(stack.queueUrl('app-events-delivery-dlq'))).toBe(0);
  });

  it('--to sends the messages where it says instead', async () => {
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: stack.queueUrl('import-dlq'), Entries: [{ Id: '0', MessageBody: '{"to":"elsewhere"}' }] }));
    const target = stack.queueUrl('app-events-dlq');
    const moved = await redrive({ queue: `${stack.prefix}-import-dlq`, to: `${stack.prefix}-app-events-dlq`, sqs, log: () => undefined });
    expect(moved).toMatchObject({ moved: 1, kind: 'sqs-redrive', destinationUrl: target });
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: target, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    expect(Messages.map((m) => m.Body)).toContain('{"to":"elsewhere"}');
    expect(await depth(stack.queueUrl('import-dlq'))).toBe(0);
  });

  it('the CLI lists a DLQ in a dry run', async () => {
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: stack.queueUrl('import-dlq'), Entries: [{ Id: '0', MessageBody: '{}' }] }));
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/redrive.ts', '--queue', `${stack.prefix}-import-dlq`, '--dry-run', '--endpoint', awsEndpoint()], {
      encoding: 'utf8',
      env: { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' },
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`1 message\\(s\\) in .*${stack.prefix}-import-dlq \\(sqs-redrive\\) would move to .*${stack.prefix}-import`));
    expect(await depth(stack.queueUrl('import-dlq'))).toBe(1);
  });

  it('parses its arguments', () => {
    expect(parseArgs(['--queue', 'q', '--dry-run', '--endpoint=http://x'])).toEqual({ queue: 'q', 'dry-run': true, endpoint: 'http://x' });
  });
});
