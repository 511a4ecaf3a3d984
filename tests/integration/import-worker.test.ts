/**
 * The import worker against the real emulator: UnprocessedItems retried (a fault injected
 * around the real DynamoDB client), a duplicate message changes nothing, a poison item ends
 * in the DLQ and in the job's failures while its batch-mates are written, and an import
 * over existing items keeps createdAt, bumps versions and counts only new items in the stats.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { handler as importHandler } from '../../functions/import/handler.ts';
import { drainAfterResponseTasks } from '../../functions/shared/after-response.ts';
import { setAwsClients } from '../../functions/shared/aws-clients.ts';
import { commitJob, createJob, getJob, listFailures, reserveChunk, tryCompleteJob, type ImportJob } from '../../functions/shared/imports/jobs.ts';
import { toMessages, type ImportMessage } from '../../functions/shared/imports/messages.ts';
import { validateItems } from '../../functions/shared/imports/items.ts';
import { getCollectionStats, getItem } from '../../functions/shared/items/repository.ts';
import { startEventSourceMapping, type EventSourceMapping } from '../../scripts/local/event-source-mapping.ts';
import { clientConfig, type ProvisionedStack } from '../../scripts/local/provision.ts';
import { lambdaContext } from '../support/invoke.ts';
import { awsEndpoint, provisionTestStack, region } from '../support/stack.ts';

let stack: ProvisionedStack;
let sqsClient: SQSClient;
const tenant = 'acme';

beforeAll(async () => {
  stack = await provisionTestStack({ visibilityTimeoutSeconds: 1 });
  process.env.ANALYTICS_ENABLED = 'false';
  sqsClient = new SQSClient(clientConfig({ endpoint: awsEndpoint(), region }));
});
afterEach(() => setAwsClients({}));
afterAll(() => {
  delete process.env.ANALYTICS_ENABLED;
});

function makeItems(prefix: string, n: number) {
  return Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${i}`, data: { n: i, name: `item ${i}` } }));
}

/** A job with one chunk reserved (as the API does), returning the chunk's queue messages unsent. */
async function jobWithChunk(collection: string, items: unknown[]): Promise<{ job: ImportJob; messages: ImportMessage[] }> {
  const job = await createJob(tenant, collection, 'alice');
  const { accepted, rejected } = validateItems(items);
  const messages = toMessages(job, 'c0', accepted);
  expect(await reserveChunk(job, { chunkId: 'c0', hash: 'h', status: 'QUEUED', accepted: accepted.length, rejected, batches: messages.length })).toBe('reserved');
  return { job, messages };
}

function sqsEvent(messages: ImportMessage[], receiveCount = 1): SQSEvent {
  return {
    Records: messages.map(
      (message): SQSRecord => ({
        messageId: randomUUID(),
        receiptHandle: 'r',
        body: JSON.stringify(message),
        attributes: { ApproximateReceiveCount: String(receiveCount), SentTimestamp: '0', SenderId: 'x', ApproximateFirstReceiveTimestamp: '0' },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:import',
        awsRegion: region,
      }),
    ),
  };
}

/** Commit and finish the job (what the commit route and the event processor do). */
async function finish(job: ImportJob) {
  await commitJob(tenant, job.importId);
  return tryCompleteJob(tenant, job.importId);
}

async function runWorker(event: SQSEvent) {
  const result = await importHandler(event, lambdaContext('import'));
  await drainAfterResponseTasks();
  return result;
}

/** The real document client with `intercept` in front of its send: a fault around the real thing. */
function wrappedDynamo(intercept: (command: unknown, send: (command: unknown) => Promise<unknown>) => Promise<unknown> | undefined) {
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
  // The SDK's send is heavily overloaded; we only forward commands, so a loose signature is enough here.
  const send = client.send.bind(client) as (command: unknown) => Promise<unknown>;
  client.send = ((command: unknown) => intercept(command, send) ?? send(command)) as typeof client.send;
  setAwsClients({ dynamo: client });
}

describe('import worker', () => {
  it('retries UnprocessedItems until every item is written', async () => {
    const { job, messages } = await jobWithChunk('unprocessed', makeItems('u', 25));
    let injected = 0;
    let batchWrites = 0;
    wrappedDynamo((command, send) => {
      if (!(command instanceof BatchWriteCommand)) return undefined;
      batchWrites++;
      if (injected > 0) return undefined;
      // First BatchWrite: write only the first 10, hand the other 15 back as UnprocessedItems.
      const [table, requests] = Object.entries(command.input.RequestItems ?? {})[0]!;
      injected = requests.length - 10;
      return send(new BatchWriteCommand({ RequestItems: { [table]: requests.slice(0, 10) } })).then(() => ({ UnprocessedItems: { [table]: requests.slice(10) }, $metadata: {} }));
    });
    const result = await runWorker(sqsEvent(messages));
    expect(result.batchItemFailures).toEqual([]);
    expect(injected).toBe(15);
    expect(batchWrites).toBe(2);
    const after = await getJob(tenant, job.importId);
    expect(after).toMatchObject({ processed: 25, succeeded: 25, failed: 0, batchesDone: 1 });
    for (const i of [0, 9, 10, 24]) expect(await getItem({ tenant, collection: 'unprocessed', id: `u-${i}` })).toMatchObject({ version: 1, data: { n: i } });
    expect(await finish(job)).toMatchObject({ status: 'COMPLETED', succeeded: 25 });
    expect((await getCollectionStats(tenant, 'unprocessed')).itemCount).toBe(25);
  });

  it('a duplicate message changes nothing', async () => {
    // 100 items: two messages (98 + 2).
    const { job, messages } = await jobWithChunk('duplicates', makeItems('d', 100));
    expect(messages).toHaveLength(2);
    await runWorker(sqsEvent(messages));
    const first = await getJob(tenant, job.importId);
    const item = await getItem({ tenant, collection: 'duplicates', id: 'd-3' });
    // The same messages again, once more in one batch and once with a higher receive count.
    expect((await runWorker(sqsEvent([...messages, messages[0]!], 2))).batchItemFailures).toEqual([]);
    const second = await getJob(tenant, job.importId);
    expect(second).toMatchObject({ processed: 100, succeeded: 100, created: 100, batchesDone: 2, batchesTotal: 2 });
    expect(second?.processed).toBe(first?.processed);
    expect(await getItem({ tenant, collection: 'duplicates', id: 'd-3' })).toEqual(item);
    await finish(job);
    // After completion too: a late duplicate neither changes the job nor the stats.
    expect((await runWorker(sqsEvent(messages, 3))).batchItemFailures).toEqual([]);
    expect(await tryCompleteJob(tenant, job.importId)).toBeUndefined();
    expect(await getJob(tenant, job.importId)).toMatchObject({ status: 'COMPLETED', processed: 100 });
    expect((await getCollectionStats(tenant, 'duplicates')).itemCount).toBe(100);
  });

  it('a message redelivered after a crash mid-batch rewrites the same records and counts once', async () => {
    const { job, messages } = await jobWithChunk('crash', makeItems('k', 5));
    // First delivery: the plan is saved, items written, then the update that settles it "crashes".
    wrappedDynamo((command) => {
      if (command instanceof TransactWriteCommand && command.input.TransactItems?.some((item) => item.Update)) return Promise.reject(Object.assign(new Error('boom'), { name: 'InternalServerError' }));
      return undefined;
    });
    expect((await runWorker(sqsEvent(messages))).batchItemFailures).toHaveLength(1);
    const written = await getItem({ tenant, collection: 'crash', id: 'k-1' });
    expect(written?.version).toBe(1);
    setAwsClients({});
    expect((await runWorker(sqsEvent(messages, 2))).batchItemFailures).toEqual([]);
    // Not counted as "replaced" though the items already existed on the second delivery.
    expect(await getJob(tenant, job.importId)).toMatchObject({ succeeded: 5, created: 5 });
    expect(await getItem({ tenant, collection: 'crash', id: 'k-1' })).toEqual(written);
    await finish(job);
    expect((await getCollectionStats(tenant, 'crash')).itemCount).toBe(5);
  });

  it('replaces existing items like PUT does: version + 1, createdAt kept, stats count only new items', async () => {
    const first = await jobWithChunk('replace', makeItems('r', 10));
    await runWorker(sqsEvent(first.messages));
    await finish(first.job);
    const before = await getItem({ tenant, collection: 'replace', id: 'r-2' });
    const items = [...makeItems('r', 5).map((item) => ({ ...item, data: { replaced: true } })), ...makeItems('s', 3)];
    const second = await jobWithChunk('replace', items);
    await runWorker(sqsEvent(second.messages));
    const after = await getItem({ tenant, collection: 'replace', id: 'r-2' });
    expect(after).toMatchObject({ version: 2, createdAt: before?.createdAt, data: { replaced: true } });
    expect(after!.updatedAt >= before!.updatedAt).toBe(true);
    expect(await finish(second.job)).toMatchObject({ succeeded: 8, created: 3 });
    expect((await getCollectionStats(tenant, 'replace')).itemCount).toBe(13);
    // Same stored shape as the write path's records (toItemRecord): keys and index sort keys.
    const { Item } = await DynamoDBDocumentClient.from(new DynamoDBClient({})).send(
      new GetCommand({ TableName: stack.tableName('data'), Key: { pk: 'TENANT#acme#COLLECTION#replace', sk: 'ITEM#s-1' } }),
    );
    expect(Object.keys(Item ?? {}).sort()).toEqual(['collection', 'createdAt', 'createdSort', 'data', 'id', 'pk', 'sk', 'tenant', 'updatedAt', 'updatedSort', 'version']);
    expect(Item?.createdSort).toBe(`${Item?.createdAt}#s-1`);
  });

  describe('through the queue', () => {
    const mappings: EventSourceMapping[] = [];
    afterEach(async () => {
      await Promise.all(mappings.splice(0).map((m) => m.stop()));
    });

    it('a poison item ends in the DLQ and in the job failures; its batch-mates are written', async () => {
      // 120 items: two messages (98 + 22); the poison item is in the first one's first BatchWriteItem.
      const { job, messages } = await jobWithChunk('poison', makeItems('p', 120).map((item, i) => (i === 7 ? { ...item, id: 'poison' } : item)));
      expect(messages.map((m) => m.items.length)).toEqual([98, 22]);
      // DynamoDB refuses any request that holds the poison item (as it would an over-deep document).
      const refuse = () => Promise.reject(Object.assign(new Error('Nesting Levels have exceeded supported limits'), { name: 'ValidationException', $metadata: { httpStatusCode: 400 } }));
      wrappedDynamo((command) => {
        const isPoison = (item?: Record<string, unknown>) => item?.id === 'poison' && String(item.sk).startsWith('ITEM#');
        if (command instanceof BatchWriteCommand && Object.values(command.input.RequestItems ?? {}).flat().some((r) => isPoison(r.PutRequest?.Item))) return refuse();
        if (command instanceof PutCommand && isPoison(command.input.Item)) return refuse();
        return undefined;
      });
      await sqsClient.send(
        new SendMessageBatchCommand({ QueueUrl: stack.queueUrl('import'), Entries: messages.map((m, i) => ({ Id: String(i), MessageBody: JSON.stringify(m) })) }),
      );
      const receives: number[] = [];
      mappings.push(
        startEventSourceMapping({
          sqs: sqsClient,
          queueUrl: stack.queueUrl('import'),
          fn: {
            functionName: 'import',
            memoryMb: 1024,
            timeoutSeconds: 10,
            handler: async (event) => {
              for (const r of (event as SQSEvent).Records) receives.push(Number(r.attributes.ApproximateReceiveCount));
              return importHandler(event as SQSEvent, lambdaContext('import'));
            },
          },
          batchSize: 10,
          batchingWindowSeconds: 0,
          maximumConcurrency: 2,
          idleWaitSeconds: 1,
          afterInvocation: () => void drainAfterResponseTasks(),
          log: () => undefined,
        }),
      );
      const deadline = Date.now() + 25_000;
      let dlqDepth = 0;
      while (Date.now() < deadline) {
        const { Attributes } = await sqsClient.send(new GetQueueAttributesCommand({ QueueUrl: stack.queueUrl('import-dlq'), AttributeNames: ['ApproximateNumberOfMessages'] }));
        dlqDepth = Number(Attributes?.ApproximateNumberOfMessages ?? 0);
        if (dlqDepth > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      expect(dlqDepth).toBe(1);
      expect(Math.max(...receives)).toBe(5);
      const after = await getJob(tenant, job.importId);
      expect(after).toMatchObject({ total: 120, processed: 120, succeeded: 119, failed: 1, batchesDone: 2 });
      expect(await finish(job)).toMatchObject({ status: 'COMPLETED_WITH_ERRORS', failed: 1 });
      const { failures } = await listFailures(tenant, job.importId, 10);
      expect(failures).toEqual([expect.objectContaining({ id: 'poison', reason: expect.stringContaining('ValidationException') })]);
      // Its batch-mates are written: in its own BatchWriteItem, in the message's other ones, in the other message.
      for (const id of ['p-6', 'p-8', 'p-30', 'p-97', 'p-98', 'p-119']) expect(await getItem({ tenant, collection: 'poison', id }), id).toBeDefined();
      expect(await getItem({ tenant, collection: 'poison', id: 'poison' })).toBeUndefined();
      const dead = await sqsClient.send(new ReceiveMessageCommand({ QueueUrl: stack.queueUrl('import-dlq'), MaxNumberOfMessages: 1 }));
      expect(dead.Messages?.[0]?.Body).toContain('"poison"');
      expect((await getCollectionStats(tenant, 'poison')).itemCount).toBe(119);
    });
  });
});
