/**
 * The import worker against the real emulator: a cancelled transaction sent again (a fault
 * injected around the real DynamoDB client), an API write between plan and write never
 * overwritten, a duplicate message changes nothing, a poison item ends
 * in the DLQ and in the job's failures while its batch-mates are written, and an import
 * over existing items keeps createdAt, bumps versions and counts only new items in the stats.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DeleteCommand, DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { handler as importHandler } from '../../functions/import/handler.ts';
import { drainAfterResponseTasks } from '../../functions/shared/after-response.ts';
import { setAwsClients } from '../../functions/shared/aws-clients.ts';
import { cancelJob, commitJob, createJob, getJob, listFailures, reserveChunk, tryCompleteJob, type ImportJob } from '../../functions/shared/imports/jobs.ts';
import { toMessages, type ImportMessage } from '../../functions/shared/imports/messages.ts';
import { validateItems } from '../../functions/shared/imports/items.ts';
import { importMaxReceiveCount } from '../../functions/shared/imports/limits.ts';
import { deleteItem, getCollectionStats, getItem, putItem } from '../../functions/shared/items/repository.ts';
import { collectionPartition, itemPartition, STATS_SORT_KEY } from '../../functions/shared/items/keys.ts';
import { forgetCollectionShards } from '../../functions/shared/items/shards.ts';
import { loadBatch, savePlan } from '../../functions/import/batches.ts';
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
  const { accepted, rejected } = validateItems(items, job);
  const messages = toMessages(job, 'c0', accepted);
  expect(await reserveChunk(job, { chunkId: 'c0', hash: 'h', status: 'QUEUED', accepted: accepted.length, rejectedCount: rejected.length, batches: messages.length })).toBe('reserved');
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

/** Commit and finish the job (what the commit route and the app-events function do). */
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

/** The settle of a batch: the transaction that updates its chunk record. */
const settlesABatch = (command: unknown) => command instanceof TransactWriteCommand && (command.input.TransactItems ?? []).some((item) => String(item.Update?.Key?.sk).startsWith('CHUNK#'));

/** DynamoDB's throttling error, as the SDK surfaces it once its own retries are spent. */
const throttled = () => Object.assign(new Error('Rate of requests exceeds the allowed throughput'), { name: 'ProvisionedThroughputExceededException', $metadata: { httpStatusCode: 400 } });

/** The worker dies after writing a batch's items, when it settles the batch. */
function crashWhenSettling() {
  wrappedDynamo((command) => (settlesABatch(command) ? Promise.reject(Object.assign(new Error('boom'), { name: 'InternalServerError' })) : undefined));
}

describe('import worker', () => {
  it('sends the items again when their transaction was cancelled by a conflicting one', async () => {
    const { job, messages } = await jobWithChunk('conflicting', makeItems('u', 25));
    let cancelled = 0;
    let itemWrites = 0;
    wrappedDynamo((command) => {
      if (!(command instanceof TransactWriteCommand) || !command.input.TransactItems?.some((item) => String(item.Put?.Item?.sk).startsWith('ITEM#'))) return undefined;
      itemWrites++;
      if (cancelled > 0) return undefined;
      cancelled++;
      const reasons = command.input.TransactItems.map((_, i) => ({ Code: i === 3 ? 'TransactionConflict' : 'None' }));
      return Promise.reject(Object.assign(new Error('Transaction cancelled'), { name: 'TransactionCanceledException', CancellationReasons: reasons, $metadata: { httpStatusCode: 400 } }));
    });
    const result = await runWorker(sqsEvent(messages));
    expect(result.batchItemFailures).toEqual([]);
    expect(itemWrites).toBe(2);
    const after = await getJob(tenant, job.importId);
    expect(after).toMatchObject({ processed: 25, succeeded: 25, failed: 0, batchesDone: 1 });
    for (const i of [0, 3, 24]) expect(await getItem({ tenant, collection: 'conflicting', id: `u-${i}` })).toMatchObject({ version: 1, data: { n: i } });
    expect(await finish(job)).toMatchObject({ status: 'COMPLETED', succeeded: 25 });
    expect((await getCollectionStats(tenant, 'conflicting')).itemCount).toBe(25);
  });

  it('an API write between plan and write is never overwritten: a conflict, recorded as that item\'s failure', async () => {
    const collection = 'interleaved';
    const address = (id: string) => ({ tenant, collection, id });
    // Existing: kept at version 3, deleted at version 1. New: racing (created by the API meanwhile), plain.
    for (let v = 0; v < 3; v++) await putItem(address('kept'), { api: v });
    await putItem(address('deleted'), { api: 0 });
    const { job, messages } = await jobWithChunk(collection, [
      { id: 'kept', data: { imported: true } },
      { id: 'deleted', data: { imported: true } },
      { id: 'racing', data: { imported: true } },
      { id: 'plain', data: { imported: true } },
    ]);
    // The worker's plan (kept → 4, deleted → 2, racing/plain → 1), then the API lands in between.
    const state = await loadBatch(messages[0]!);
    expect(state.settled).toBe(false);
    if (!state.settled) await savePlan(messages[0]!, state.plan);
    expect((await putItem(address('kept'), { api: 'if-match 3' }, 3)).item.version).toBe(4);
    await deleteItem(address('deleted'));
    await putItem(address('racing'), { api: 'created first' });

    const result = await runWorker(sqsEvent(messages));
    expect(result.batchItemFailures).toEqual([]); // conflicts are final: no redelivery
    expect(await getItem(address('kept'))).toMatchObject({ version: 4, data: { api: 'if-match 3' } });
    expect(await getItem(address('deleted'))).toBeUndefined();
    expect(await getItem(address('racing'))).toMatchObject({ version: 1, data: { api: 'created first' } });
    expect(await getItem(address('plain'))).toMatchObject({ version: 1, data: { imported: true } });
    const { failures } = await listFailures(tenant, job.importId, 10);
    expect(Object.fromEntries(failures.map((f) => [f.id, f.reason]))).toEqual({
      kept: expect.stringMatching(/conflict.*expected version 3, found version 4/),
      deleted: expect.stringMatching(/conflict.*expected version 1, found no item/),
      racing: expect.stringMatching(/conflict.*expected no item, found version 1/),
    });
    expect(await finish(job)).toMatchObject({ status: 'COMPLETED_WITH_ERRORS', succeeded: 1, failed: 3, created: 1 });
    // kept, racing, plain: the count follows the items that exist.
    expect((await getCollectionStats(tenant, collection)).itemCount).toBe(3);
  });

  it('skips the messages of a cancelled job: acknowledged, nothing written', async () => {
    const { job, messages } = await jobWithChunk('cancelled-job', makeItems('x', 5));
    expect(await cancelJob(tenant, job.importId)).toBe('cancelled');
    expect((await runWorker(sqsEvent(messages))).batchItemFailures).toEqual([]);
    expect(await getItem({ tenant, collection: 'cancelled-job', id: 'x-0' })).toBeUndefined();
    expect(await getJob(tenant, job.importId)).toMatchObject({ status: 'CANCELLED', processed: 0 });
  });

  it('a cancel while a batch is being written: the stats take every new item once, from the cancel or from the late settle', async () => {
    const collection = 'cancel-stats';
    const { job, messages } = await jobWithChunk(collection, makeItems('c', 100));
    expect(messages.map((m) => m.items.length)).toEqual([98, 2]);
    expect((await runWorker(sqsEvent([messages[1]!]))).batchItemFailures).toEqual([]);
    // The 98-item batch is written, then the job is cancelled just before the batch settles.
    let cancelledMeanwhile = false;
    wrappedDynamo((command, send) => {
      if (!settlesABatch(command) || cancelledMeanwhile) return undefined;
      cancelledMeanwhile = true;
      return cancelJob(tenant, job.importId).then(() => send(command));
    });
    expect((await runWorker(sqsEvent([messages[0]!]))).batchItemFailures).toEqual([]);
    expect(cancelledMeanwhile).toBe(true);
    setAwsClients({});
    expect(await getJob(tenant, job.importId)).toMatchObject({ status: 'CANCELLED', succeeded: 100, created: 100 });
    expect((await getCollectionStats(tenant, collection)).itemCount).toBe(100);
    // Cancelling again or redelivering changes nothing.
    expect(await cancelJob(tenant, job.importId)).toBe('already');
    expect((await runWorker(sqsEvent(messages, 2))).batchItemFailures).toEqual([]);
    expect((await getCollectionStats(tenant, collection)).itemCount).toBe(100);
  });

  it('does not start a message with too little time left: reported failed, nothing written', async () => {
    const { job, messages } = await jobWithChunk('late', makeItems('l', 5));
    const context = { ...lambdaContext('import'), getRemainingTimeInMillis: () => 3_000 };
    const result = await importHandler(sqsEvent(messages), context);
    await drainAfterResponseTasks();
    expect(result.batchItemFailures).toHaveLength(1);
    expect(await getItem({ tenant, collection: 'late', id: 'l-0' })).toBeUndefined();
    // With time, the redelivery writes it.
    expect((await runWorker(sqsEvent(messages, 2))).batchItemFailures).toEqual([]);
    expect(await getJob(tenant, job.importId)).toMatchObject({ processed: 5, succeeded: 5 });
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
    crashWhenSettling();
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

  it('a redelivery after its items were written and one was then deleted counts it as written: stats stay exact', async () => {
    const { job, messages } = await jobWithChunk('written-then-deleted', makeItems('w', 3));
    // First delivery: items written (and recorded in the plan), then settling "crashes".
    crashWhenSettling();
    expect((await runWorker(sqsEvent(messages))).batchItemFailures).toHaveLength(1);
    setAwsClients({});
    await deleteItem({ tenant, collection: 'written-then-deleted', id: 'w-1' });
    expect((await runWorker(sqsEvent(messages, 2))).batchItemFailures).toEqual([]);
    expect(await getItem({ tenant, collection: 'written-then-deleted', id: 'w-1' })).toBeUndefined(); // not brought back
    expect(await finish(job)).toMatchObject({ succeeded: 3, failed: 0, created: 3 });
    expect((await getCollectionStats(tenant, 'written-then-deleted')).itemCount).toBe(2);
  });

  it('on its last receive, a batch DynamoDB will not load is settled with every item failed and a reason: the job still finishes', async () => {
    const { job, messages } = await jobWithChunk('unloadable', makeItems('u', 4));
    wrappedDynamo((command) => (command instanceof BatchGetCommand ? Promise.reject(throttled()) : undefined));
    // Failed once more, so that SQS moves it to the DLQ, but settled first.
    expect((await runWorker(sqsEvent(messages, importMaxReceiveCount()))).batchItemFailures).toHaveLength(1);
    setAwsClients({});
    expect(await finish(job)).toMatchObject({ status: 'FAILED', processed: 4, succeeded: 0, failed: 4, created: 0 });
    const { failures } = await listFailures(tenant, job.importId, 10);
    expect(failures.map((f) => f.id).sort()).toEqual(['u-0', 'u-1', 'u-2', 'u-3']);
    expect(failures.every((f) => f.reason.includes('ProvisionedThroughputExceededException'))).toBe(true);
    expect(await getItem({ tenant, collection: 'unloadable', id: 'u-0' })).toBeUndefined();
  });

  it('on its last receive, items an earlier delivery wrote count as written though the batch cannot be loaded', async () => {
    const { job, messages } = await jobWithChunk('written-then-unloadable', makeItems('x', 3));
    crashWhenSettling();
    expect((await runWorker(sqsEvent(messages))).batchItemFailures).toHaveLength(1);
    wrappedDynamo((command) => (command instanceof BatchGetCommand ? Promise.reject(throttled()) : undefined));
    expect((await runWorker(sqsEvent(messages, importMaxReceiveCount()))).batchItemFailures).toEqual([]);
    setAwsClients({});
    expect(await finish(job)).toMatchObject({ status: 'COMPLETED', succeeded: 3, failed: 0, created: 3 });
    expect((await getCollectionStats(tenant, 'written-then-unloadable')).itemCount).toBe(3);
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
      new GetCommand({ TableName: stack.tableName('data'), Key: { pk: itemPartition('acme', 'replace', 's-1', second.job.itemShards), sk: 'ITEM#s-1' } }),
    );
    expect(Object.keys(Item ?? {}).sort()).toEqual(['collection', 'createdAt', 'createdSort', 'data', 'id', 'pk', 'sk', 'tenant', 'updatedAt', 'updatedSort', 'version']);
    expect(Item?.createdSort).toBe(`${Item?.createdAt}#s-1`);
  });

  it('a message queued before item shards (no count) into a never-written collection: items under the collection key, and a later PUT keeps them found', async () => {
    const collection = 'queued-before-shards';
    const { job, messages } = await jobWithChunk(collection, makeItems('q', 5));
    const client = DynamoDBDocumentClient.from(new DynamoDBClient({}));
    // What the old code left: no STATS item (an import recorded nothing before it finished), messages without itemShards.
    await client.send(new DeleteCommand({ TableName: stack.tableName('data'), Key: { pk: collectionPartition(tenant, collection), sk: STATS_SORT_KEY } }));
    forgetCollectionShards();
    const legacy = messages.map(({ itemShards: _dropped, ...message }) => message as ImportMessage);
    expect((await runWorker(sqsEvent(legacy))).batchItemFailures).toEqual([]);
    const { Item } = await client.send(new GetCommand({ TableName: stack.tableName('data'), Key: { pk: collectionPartition(tenant, collection), sk: 'ITEM#q-3' }, ConsistentRead: true }));
    expect(Item?.data).toEqual({ n: 3, name: 'item 3' });
    // A container deployed with shards meets the collection first through a PUT: it must not record a count that hides the imported items.
    forgetCollectionShards();
    process.env.ITEM_SHARDS = '8';
    try {
      await putItem({ tenant, collection, id: 'later' }, { put: true });
    } finally {
      delete process.env.ITEM_SHARDS;
    }
    forgetCollectionShards();
    expect(await getItem({ tenant, collection, id: 'q-3' })).toMatchObject({ id: 'q-3', version: 1 });
    expect(await getItem({ tenant, collection, id: 'later' })).toMatchObject({ data: { put: true } });
    expect(await finish(job)).toMatchObject({ succeeded: 5, created: 5 });
  });

  describe('through the queue', () => {
    const mappings: EventSourceMapping[] = [];
    afterEach(async () => {
      await Promise.all(mappings.splice(0).map((m) => m.stop()));
    });

    it('a poison item ends in the DLQ and in the job failures; its batch-mates are written', async () => {
      // 120 items: two messages (98 + 22); the poison item is in the first one's transaction.
      const { job, messages } = await jobWithChunk('poison', makeItems('p', 120).map((item, i) => (i === 7 ? { ...item, id: 'poison' } : item)));
      expect(messages.map((m) => m.items.length)).toEqual([98, 22]);
      // DynamoDB refuses any request that holds the poison item (as it would an over-deep document).
      const refuse = () => Promise.reject(Object.assign(new Error('Nesting Levels have exceeded supported limits'), { name: 'ValidationException', $metadata: { httpStatusCode: 400 } }));
      wrappedDynamo((command) => {
        const isPoison = (item?: Record<string, unknown>) => item?.id === 'poison' && String(item.sk).startsWith('ITEM#');
        if (command instanceof TransactWriteCommand && command.input.TransactItems?.some((item) => isPoison(item.Put?.Item))) return refuse();
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
      // Its batch-mates are written: in its own message and in the other one.
      for (const id of ['p-6', 'p-8', 'p-30', 'p-97', 'p-98', 'p-119']) expect(await getItem({ tenant, collection: 'poison', id }), id).toBeDefined();
      expect(await getItem({ tenant, collection: 'poison', id: 'poison' })).toBeUndefined();
      const dead = await sqsClient.send(new ReceiveMessageCommand({ QueueUrl: stack.queueUrl('import-dlq'), MaxNumberOfMessages: 1 }));
      expect(dead.Messages?.[0]?.Body).toContain('"poison"');
      expect((await getCollectionStats(tenant, 'poison')).itemCount).toBe(119);
    });
  });
});
