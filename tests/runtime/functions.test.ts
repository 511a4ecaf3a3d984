/**
 * Every function's deployment zip in the real Lambda pieces: the Runtime Interface Emulator
 * and the Node.js runtime interface client (aws-lambda-ric) on the Lambda runtime's Node,
 * with the environment and log format Terraform gives the function, against the AWS
 * emulator. Recording proxies sit on the Runtime API and on the AWS endpoint (in front of
 * a fault proxy), so the test sees, in order, when each response was posted and what the
 * function called.
 *
 * Each function runs twice: with Terraform's log format and the 4.x client (the response
 * posted one setImmediate after the handler settles), and with the other log format and
 * the 3.x order (posted in the handler's promise continuation).
 */
import { ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error build.mjs is plain JavaScript without type declarations.
import { buildAll } from '../../build.mjs';
import { toSqsRecord } from '../../scripts/local/event-source-mapping.ts';
import { localAccountId } from '../../scripts/local/lambda-context.ts';
import { clientConfig, type ProvisionedStack } from '../../scripts/local/provision.ts';
import { repoRoot } from '../../scripts/local/python-env.ts';
import { functions, type FunctionName, type QueueName } from '../../scripts/local/topology.ts';
import { startRecordingProxy, type RecordedCall, type RecordingProxy } from '../../scripts/runtime/recording-proxy.ts';
import { startRieFunction, unpackFunction, type ClientOrder, type RieFunction } from '../../scripts/runtime/rie.ts';
import { ensureRuntimeTools } from '../../scripts/runtime/tools.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { apiEvent, type Claims } from '../support/invoke.ts';
import { awsEndpoint, provisionTestStack, region } from '../support/stack.ts';

const EXTENSION = 'event-flows-after-response';
/** The log format terraform/modules/function gives every function. */
const terraformLogFormat = /log_format\s*=\s*"(\w+)"/.exec(readFileSync(join(repoRoot, 'terraform/modules/function/main.tf'), 'utf8'))?.[1];
const otherLogFormat = terraformLogFormat === 'JSON' ? 'Text' : 'JSON';
const runs: { logFormat: 'JSON' | 'Text'; clientOrder: ClientOrder }[] = [
  { logFormat: terraformLogFormat as 'JSON', clientOrder: 'deferred' },
  { logFormat: otherLogFormat, clientOrder: 'immediate' },
];
const LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
const admin: Claims = { sub: 'runtime-admin', tenant: 'runtime', scope: 'admin' };
const user: Claims = { sub: 'runtime-user', tenant: 'runtime' };

let stack: ProvisionedStack;
let faults: FaultProxy;
let aws: RecordingProxy;
let sqs: SQSClient;
let codeRoot: string;
const awsCalls: RecordedCall[] = [];

beforeAll(async () => {
  ensureRuntimeTools((line) => console.error(line));
  codeRoot = mkdtempSync(join(tmpdir(), 'event-flows-runtime-'));
  // Build this code's zips into a private folder: other test files rebuild dist/ meanwhile.
  await buildAll({ quiet: true, distDir: join(codeRoot, 'dist') });
  stack = await provisionTestStack({ visibilityTimeoutSeconds: 1 });
  faults = await startFaultProxy({ upstream: awsEndpoint() });
  aws = await startRecordingProxy('aws', faults.url, awsCalls);
  sqs = new SQSClient(clientConfig({ endpoint: awsEndpoint(), region }));
}, 600_000);

/** Per function and run: invocations whose delivery calls all came after the response (printed at the end). */
const orderCounts = new Map<string, number>();

afterAll(async () => {
  process.stderr.write(`invocations with event delivery, all of it after the response: ${JSON.stringify(Object.fromEntries(orderCounts))}\n`);
  await aws?.close();
  await faults?.close();
  if (codeRoot) rmSync(codeRoot, { recursive: true, force: true });
});

/**
 * What Terraform sets (terraform/modules/event-flows: function_environment + JWT), pointed at
 * the emulator through the recording proxy, queue URLs included (the SQS client sends to the
 * queue URL's host).
 */
function terraformEnvironment(): Record<string, string> {
  const emulatorHost = new URL(awsEndpoint()).host;
  const throughProxy = Object.fromEntries(Object.entries(stack.environment).map(([key, value]) => [key, value.replace(`//${emulatorHost}/`, `//${aws.address}/`)]));
  return {
    ...throughProxy,
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL: `http://${aws.address}`,
  };
}

async function startFunction(name: FunctionName, run: (typeof runs)[number]): Promise<RieFunction> {
  const codeDir = unpackFunction(name, join(codeRoot, `${run.logFormat}-${run.clientOrder}`), join(codeRoot, 'dist'));
  return startRieFunction({
    codeDir,
    functionName: `${stack.prefix}-${name}`,
    environment: terraformEnvironment(),
    logFormat: run.logFormat,
    clientOrder: run.clientOrder,
    timeoutSeconds: functions[name].timeoutSeconds,
    memoryMb: functions[name].memoryMb,
  });
}

/** The body of the message no consumer can read (unterminated JSON). */
const UNREADABLE_BODY = '{"not":"what this queue carries"';

/**
 * Real records: ReceiveMessage on the queue, shaped as the SQS event source mapping delivers
 * them. Unreadable messages an earlier case left (visible again after their timeout) are skipped.
 */
async function receiveRecords(queue: QueueName, atLeast: number, keepUnreadable = false): Promise<SQSRecord[]> {
  const url = stack.queueUrl(queue);
  const arn = `arn:aws:sqs:${region}:${localAccountId}:${url.split('/').pop()}`;
  const records: SQSRecord[] = [];
  for (let attempt = 0; attempt < 20 && records.length < atLeast; attempt++) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60, MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['All'] }),
    );
    records.push(...Messages.filter((m) => keepUnreadable || m.Body !== UNREADABLE_BODY).map((m) => toSqsRecord(m, arn, region)));
  }
  expect(records.length, `records on ${queue}`).toBeGreaterThanOrEqual(atLeast);
  return records;
}

/** Sends a message nothing can process and receives it back as a real record. */
async function unreadableRecord(queue: QueueName): Promise<SQSRecord> {
  const url = stack.queueUrl(queue);
  const { MessageId } = await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: UNREADABLE_BODY }));
  for (let attempt = 0; attempt < 20; attempt++) {
    const records = await receiveRecords(queue, 1, true);
    const record = records.find((r) => r.messageId === MessageId);
    if (record) return record;
  }
  throw new Error(`the unreadable message did not come back from ${queue}`);
}

/**
 * Invokes an SQS consumer with up to `valid` real records from its queue plus one unreadable
 * record, and expects exactly that record back as the batch's only failure.
 */
async function expectOnlyUnreadableFails(fn: RieFunction, queue: QueueName, valid: number): Promise<void> {
  const records = [...(await receiveRecords(queue, 1)).slice(0, valid), await unreadableRecord(queue)];
  const result = await fn.invoke({ Records: records });
  expect(result.status).toBe(200);
  expect(result.body).toEqual({ batchItemFailures: [{ itemIdentifier: records.at(-1)!.messageId }] });
}

interface Observed {
  /** `<function>/<client order>` */
  label: string;
  fn: RieFunction;
  /** Runtime API and AWS calls of this run, in the order they reached the proxies. */
  timeline: RecordedCall[];
}

/** Runs the invocations, then stops the emulator and returns what was recorded. */
async function observe(name: FunctionName, run: (typeof runs)[number], invocations: (fn: RieFunction) => Promise<void>): Promise<Observed> {
  const firstAwsCall = awsCalls.length;
  const fn = await startFunction(name, run);
  try {
    await invocations(fn);
  } finally {
    await fn.stop();
  }
  const timeline = [...fn.calls, ...awsCalls.slice(firstAwsCall)].sort((a, b) => a.receivedAt - b.receivedAt);
  return { label: `${name}/${run.clientOrder}`, fn, timeline };
}

const isResponse = (c: RecordedCall) => c.channel === 'runtime' && c.method === 'POST' && /\/runtime\/invocation\/[^/]+\/response$/.test(c.path);
const isRuntimeNext = (c: RecordedCall) => c.channel === 'runtime' && c.path.endsWith('/runtime/invocation/next');
/** AWS calls only after-response work makes: event delivery, and its fallback to a DLQ. */
const isAfterResponseCall = (c: RecordedCall) =>
  c.channel === 'aws' && (c.operation === 'AWSEvents.PutEvents' || (c.operation === 'AmazonSQS.SendMessageBatch' && /-dlq"/.test(c.body)));
/**
 * The SDK's warning when GetQueueUrl names another host than the client's endpoint: the
 * emulator answers with its own address, not the proxy's (in AWS both are the SQS endpoint).
 */
const proxyHostWarning = /QueueUrl=\S+ differs from SQSClient resolved endpoint/;

function checkInitAndRegistration({ fn, timeline }: Observed): void {
  const output = fn.lines.map((l) => l.text).join('\n');
  expect(output).toMatch(/INIT RTDONE\(status: success\)/);
  expect(fn.initDurationMs()).toBeGreaterThan(0);
  expect(output).not.toMatch(/ErrRegistrationServiceOff|Failed to create internal agent/);
  expect(output).toMatch(new RegExp(`Internal agent ${EXTENSION} \\([^)]+\\) registered`));
  const registration = timeline.findIndex((c) => c.path.endsWith('/extension/register'));
  expect(registration, 'the extension registers').toBeGreaterThanOrEqual(0);
  expect(timeline[registration]!.status).toBe(200);
  expect(registration, 'before the runtime asks for its first event').toBeLessThan(timeline.findIndex(isRuntimeNext));
}

/**
 * For every invocation: no after-response AWS call between the moment the runtime got the
 * event and the moment it posted the response (calls after it are counted).
 */
function checkResponseBeforeTasks({ label, timeline }: Observed, expectAfterResponseCalls: boolean): void {
  const responses = timeline.filter(isResponse);
  expect(responses.length).toBeGreaterThan(0);
  const dispatches = timeline.filter((c) => isRuntimeNext(c) && c.status === 200).map((c) => c.answeredAt!);
  const afterResponseCalls = timeline.filter(isAfterResponseCall);
  let seen = 0;
  for (const response of responses) {
    const began = Math.max(...dispatches.filter((t) => t < response.receivedAt));
    const nextDispatch = Math.min(...dispatches.filter((t) => t > response.receivedAt));
    const before = afterResponseCalls.filter((c) => c.receivedAt > began && c.receivedAt < response.receivedAt);
    const after = afterResponseCalls.filter((c) => c.receivedAt > response.receivedAt && c.receivedAt < nextDispatch).length;
    if (before.length === 0 && after > 0) orderCounts.set(label, (orderCounts.get(label) ?? 0) + 1);
    expect(before.map((c) => c.operation), 'after-response calls made before the response was posted').toEqual([]);
    seen += after;
  }
  if (expectAfterResponseCalls) expect(seen, 'after-response calls after the responses').toBeGreaterThan(0);
}

/** Every line the function printed is a top-level JSON object with a level; EMF blocks are top level too. */
function checkLogLines({ fn }: Observed, expect_: { emf: string[]; warn?: string }): void {
  const stdout = fn.lines.filter((l) => l.stream === 'stdout' && !/^(START|END|REPORT) RequestId:/.test(l.text) && l.text.trim() !== '' && !proxyHostWarning.test(l.text));
  const records = stdout.map((l) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(l.text);
    } catch {
      throw new Error(`not a JSON line on stdout: ${l.text.slice(0, 300)}`);
    }
    expect(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed), l.text).toBe(true);
    return parsed as Record<string, unknown>;
  });
  for (const record of records) {
    expect(LEVELS, JSON.stringify(record).slice(0, 300)).toContain(record.level);
    // A line of ours wrapped by the runtime would carry our JSON as a string.
    expect(String(record.message ?? '').trimStart().startsWith('{'), `JSON wrapped in message: ${JSON.stringify(record).slice(0, 300)}`).toBe(false);
  }
  const emf = records.filter((r) => '_aws' in r);
  for (const name of expect_.emf) {
    const line = emf.find((r) => name in r);
    expect(line, `an EMF line with ${name}`).toBeDefined();
    const [directive] = (line!._aws as { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] }).CloudWatchMetrics;
    expect(directive!.Namespace).toBe('EventFlows');
    expect(directive!.Metrics.map((m) => m.Name)).toContain(name);
    expect(directive!.Dimensions[0]).toContain('Environment');
    for (const dimension of directive!.Dimensions[0]!) expect(typeof line![dimension], dimension).toBe('string');
    expect(line!.Environment).toBe(stack.environment.ENVIRONMENT);
  }
  if (expect_.warn) {
    const warned = records.filter((r) => r.message === expect_.warn);
    expect(warned.length, `a "${expect_.warn}" line`).toBeGreaterThan(0);
    for (const r of warned) expect(r.level).toBe('WARN');
  }
}

/** Every check of a run: init and registration, response before delivery (`delivery`: some is expected), log lines. */
function checkRun(observed: Observed, expected: { delivery: boolean; emf: string[]; warn?: string }): void {
  checkInitAndRegistration(observed);
  checkResponseBeforeTasks(observed, expected.delivery);
  checkLogLines(observed, { emf: expected.emf, ...(expected.warn ? { warn: expected.warn } : {}) });
}

/** PutEvents fails on every attempt: events go to the fallback queue, counted as UndeliveredEvents. */
async function withEventBridgeDown<T>(work: () => Promise<T>): Promise<T> {
  faults.setRules([{ target: 'AWSEvents.PutEvents', fault: { kind: 'status500' } }]);
  try {
    return await work();
  } finally {
    faults.clearRules();
  }
}

function httpResult(result: { status: number; body: unknown }): { statusCode: number; body: Record<string, unknown> } {
  expect(result.status).toBe(200);
  const body = result.body as { statusCode: number; body?: string };
  return { statusCode: body.statusCode, body: body.body ? (JSON.parse(body.body) as Record<string, unknown>) : {} };
}

const itemEvent = (method: 'GET' | 'PUT', id: string) =>
  apiEvent({
    routeKey: `${method} /items/{collection}/{id}`,
    path: `/items/runtime/${id}`,
    claims: user,
    pathParameters: { collection: 'runtime', id },
    ...(method === 'PUT' ? { body: { colour: 'teal' } } : {}),
  });

describe.each(runs)('the real runtime, log format $logFormat, client order $clientOrder', (run) => {
  it('write: init, registration, response before its events, EMF and levels', async () => {
    const observed = await observe('write', run, async (fn) => {
      expect(httpResult(await fn.invoke(itemEvent('PUT', `w-${run.clientOrder}`))).statusCode).toBe(201);
      expect(httpResult(await withEventBridgeDown(() => fn.invoke(itemEvent('PUT', `w-${run.clientOrder}`)))).statusCode).toBe(200);
    });
    checkRun(observed, { delivery: true, emf: ['UndeliveredEvents'], warn: 'PutEvents failed' });
  }, 120_000);

  it('query: init, registration, response before its analytics, EMF and levels', async () => {
    const observed = await observe('query', run, async (fn) => {
      expect(httpResult(await fn.invoke(itemEvent('GET', `w-${run.clientOrder}`))).statusCode).toBe(200);
      expect(httpResult(await withEventBridgeDown(() => fn.invoke(itemEvent('GET', 'missing')))).statusCode).toBe(404);
    });
    checkRun(observed, { delivery: true, emf: ['UndeliveredEvents'], warn: 'PutEvents failed' });
  }, 120_000);

  it('analytics-api: init, registration, response before its analytics, EMF and levels', async () => {
    const post = apiEvent({ routeKey: 'POST /events', path: '/events', claims: user, body: { events: [{ action: 'VIEW', type: 'PAGE_VIEW', properties: { page: '/runtime' } }] } });
    const observed = await observe('analytics-api', run, async (fn) => {
      expect(httpResult(await fn.invoke(post)).statusCode).toBe(202);
      expect(httpResult(await withEventBridgeDown(() => fn.invoke(post))).statusCode).toBe(202);
    });
    checkRun(observed, { delivery: true, emf: ['UndeliveredEvents'], warn: 'PutEvents failed' });
  }, 120_000);

  it('import-api: init, registration, an import created before its events, levels', async () => {
    const create = apiEvent({
      routeKey: 'POST /imports',
      path: '/imports',
      claims: admin,
      body: { collection: `imp-${run.clientOrder}`, items: [{ id: 'a', data: { n: 1 } }, { id: 'b', data: { n: 2 } }] },
    });
    const observed = await observe('import-api', run, async (fn) => {
      expect(httpResult(await fn.invoke(create)).statusCode).toBe(201);
    });
    checkRun(observed, { delivery: true, emf: [] });
  }, 120_000);

  it('app-events: real app-event records (the writes and imports above) with a partial batch failure', async () => {
    const observed = await observe('app-events', run, async (fn) => {
      await expectOnlyUnreadableFails(fn, 'app-events', 3);
    });
    checkRun(observed, { delivery: true, emf: [] });
  }, 120_000);

  it('import: real import-queue records with a partial batch failure', async () => {
    const observed = await observe('import', run, async (fn) => {
      await expectOnlyUnreadableFails(fn, 'import', 1);
    });
    checkRun(observed, { delivery: false, emf: [] });
  }, 120_000);

  it('auth-triggers: a pre-token-generation (V2) trigger on a token refresh answers the token claims before its AUTHENTICATION event (TOKEN_REFRESHED)', async () => {
    const sub = `runtime-${run.clientOrder}`;
    const trigger = {
      version: '2',
      region: 'us-east-1',
      userPoolId: 'us-east-1_pool',
      userName: sub,
      callerContext: { awsSdkVersion: 'aws-sdk-unknown-unknown', clientId: 'client-1' },
      triggerSource: 'TokenGeneration_RefreshTokens',
      request: { userAttributes: { sub }, groupConfiguration: { groupsToOverride: ['admin'] } },
      response: {},
    };
    const observed = await observe('auth-triggers', run, async (fn) => {
      const answer = await fn.invoke(trigger);
      expect(answer.status).toBe(200);
      const body = answer.body as { triggerSource?: string; response?: { claimsAndScopeOverrideDetails?: { accessTokenGeneration?: { scopesToAdd?: string[] } } } };
      expect(body.triggerSource).toBe('TokenGeneration_RefreshTokens');
      // No membership record for this user: the Cognito group alone grants no admin scope.
      expect(body.response?.claimsAndScopeOverrideDetails?.accessTokenGeneration?.scopesToAdd).toEqual([]);
    });
    checkRun(observed, { delivery: true, emf: [] });
  }, 120_000);

  it('analytics: real analytics-queue records; an invalid one the DLQ refuses is the partial batch failure', async () => {
    const observed = await observe('analytics', run, async (fn) => {
      // The DLQ refuses the unreadable record, so it is reported failed (retried, then redriven).
      faults.setRules([{ target: 'AmazonSQS.SendMessage', fault: { kind: 'status500' } }]);
      try {
        await expectOnlyUnreadableFails(fn, 'analytics', 5);
      } finally {
        faults.clearRules();
      }
    });
    checkRun(observed, { delivery: false, emf: ['AnalyticsEventsStored', 'AnalyticsEventsFailed'], warn: 'analytics event rejected' });
  }, 120_000);
});
