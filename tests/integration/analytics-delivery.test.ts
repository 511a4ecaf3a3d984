/**
 * EventBridge outages against the emulator: requests keep their responses, and no event is
 * lost — it goes to the analytics DLQ (in the EventBridge envelope, so a redrive feeds it
 * to the processor), or, when SQS is down too, to an UNDELIVERED_EVENT log line that
 * scripts/replay-log.ts re-ingests. Every path ends with the events stored exactly once.
 */
import { readDayEvents } from '../../functions/shared/analytics/store.ts';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler as analyticsHandler } from '../../functions/analytics/handler.ts';
import { handler as queryHandler } from '../../functions/query/handler.ts';
import { drainAfterResponseTasks } from '../../functions/shared/after-response.ts';
import { setAwsClients } from '../../functions/shared/aws-clients.ts';
import { UNDELIVERED_EVENT } from '../../functions/shared/events/publisher.ts';
import { toSqsRecord } from '../../scripts/local/event-source-mapping.ts';
import { clientConfig, type ProvisionedStack } from '../../scripts/local/provision.ts';
import { redrive } from '../../scripts/redrive.ts';
import { apiEvent, lambdaContext } from '../support/invoke.ts';
import { awsEndpoint, provisionTestStack, region } from '../support/stack.ts';

let stack: ProvisionedStack;
let sqs: SQSClient;
/** Nothing listens on port 9 (discard) on loopback: connections are refused at once. */
const refused = { endpoint: 'http://127.0.0.1:9', region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 };

beforeAll(async () => {
  stack = await provisionTestStack();
  sqs = new SQSClient(clientConfig({ endpoint: awsEndpoint(), region }));
});

afterEach(() => {
  setAwsClients({});
  Object.assign(process.env, stack.environment);
  vi.restoreAllMocks();
});

/** N query requests by a fresh tenant; every response must be what it would be without analytics. */
async function requests(n: number): Promise<{ tenant: string; requestIds: string[] }> {
  const tenant = `t-${randomUUID().slice(0, 8)}`;
  const requestIds: string[] = [];
  for (let i = 0; i < n; i++) {
    const context = lambdaContext('query');
    const result = await queryHandler(apiEvent({ routeKey: 'GET /items/{collection}', path: '/items/notes', pathParameters: { collection: 'notes' }, claims: { sub: 'u', tenant } }), context);
    expect(result.statusCode).toBe(200);
    requestIds.push(context.awsRequestId);
  }
  return { tenant, requestIds };
}

async function pump(): Promise<number> {
  const url = stack.queueUrl('analytics');
  const arn = `arn:aws:sqs:${region}:123456789012:${url.split('/').pop()}`;
  let handled = 0;
  for (;;) {
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['All'] }));
    if (Messages.length === 0) return handled;
    const result = await analyticsHandler({ Records: Messages.map((m) => toSqsRecord(m, arn, region)) });
    expect(result.batchItemFailures).toEqual([]);
    await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: Messages.map((m, n) => ({ Id: String(n), ReceiptHandle: m.ReceiptHandle! })) }));
    handled += Messages.length;
  }
}

async function storedRequestIds(tenant: string): Promise<string[]> {
  const items = await readDayEvents(tenant, new Date().toISOString().slice(0, 10));
  return items.map((i) => (i.event as { requestId: string }).requestId).sort();
}

function captureLogs() {
  const lines: string[] = [];
  vi.spyOn(console, 'error').mockImplementation((line: unknown) => void lines.push(String(line)));
  vi.spyOn(console, 'log').mockImplementation((line: unknown) => void lines.push(String(line)));
  return lines;
}

describe('analytics delivery when EventBridge is down', () => {
  it('falls back to the analytics DLQ in the EventBridge envelope; a redrive gets every event stored once', async () => {
    setAwsClients({ eventBridge: new EventBridgeClient(refused) });
    const logs = captureLogs();
    const { tenant, requestIds } = await requests(12);
    await drainAfterResponseTasks();
    vi.restoreAllMocks();
    setAwsClients({});
    expect(logs.some((l) => l.includes('PutEvents failed'))).toBe(true);
    expect(logs.some((l) => l.includes(UNDELIVERED_EVENT))).toBe(false);
    const metric = logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => '_aws' in l && 'UndeliveredEvents' in l);
    expect(metric.reduce((s, m) => s + Number(m.UndeliveredEvents), 0)).toBe(12);

    const listed = await redrive({ queue: stack.queueUrl('analytics-dlq'), dryRun: true, sqs, log: () => undefined });
    expect(listed.messages).toHaveLength(12);
    expect(listed.messages!.every((m) => /^EventBridge PutEvents: /.test(m.reason))).toBe(true);
    expect(listed.destinationUrl).toBe(stack.queueUrl('analytics'));

    const moved = await redrive({ queue: stack.queueUrl('analytics-dlq'), sqs, log: () => undefined });
    expect(moved.moved).toBe(12);
    expect(await pump()).toBe(12);
    expect(await storedRequestIds(tenant)).toEqual([...requestIds].sort());
  });

  it('treats a missing bus as permanent: no retries, straight to the DLQ', async () => {
    process.env.ANALYTICS_BUS_NAME = `${stack.prefix}-no-such-bus`;
    const logs = captureLogs();
    const { tenant, requestIds } = await requests(3);
    await drainAfterResponseTasks();
    vi.restoreAllMocks();
    expect(logs.filter((l) => l.includes('PutEvents failed'))).toHaveLength(1);
    process.env.ANALYTICS_BUS_NAME = stack.busName('analytics');
    expect((await redrive({ queue: stack.queueUrl('analytics'), sqs, log: () => undefined })).moved).toBe(3);
    await pump();
    expect(await storedRequestIds(tenant)).toEqual([...requestIds].sort());
  });

  it('logs UNDELIVERED_EVENT lines when SQS is down too, and replay-log re-ingests them', async () => {
    setAwsClients({ eventBridge: new EventBridgeClient(refused), sqs: new SQSClient(refused) });
    const logs = captureLogs();
    const { tenant, requestIds } = await requests(5);
    await drainAfterResponseTasks();
    vi.restoreAllMocks();
    setAwsClients({});
    const undelivered = logs.filter((l) => l.includes(UNDELIVERED_EVENT));
    expect(undelivered).toHaveLength(5);
    expect(await storedRequestIds(tenant)).toEqual([]);

    // As it would come out of CloudWatch Logs in the text format, plus noise; fed twice to prove replays are harmless.
    const logFile = [...undelivered.map((l) => `2026-11-27T00:00:00.000Z\t${randomUUID()}\tERROR\t${l}`), 'START RequestId: x', ...undelivered].join('\n');
    const output = await runCli(['scripts/replay-log.ts', '--endpoint', awsEndpoint(), '--region', region], logFile);
    expect(output).toMatch(/replayed 10 of 10 event\(s\); 0 failed/);
    await pump();
    expect(await storedRequestIds(tenant)).toEqual([...requestIds].sort());
  });
});

function runCli(args: string[], stdin: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: process.cwd(), env: { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' } });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${out}`))));
    child.stdin.end(stdin);
  });
}
