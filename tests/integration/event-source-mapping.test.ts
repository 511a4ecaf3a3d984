/**
 * The local SQS event source mapping against the real emulator: every Lambda semantic the
 * runtime promises (batching, window, visibility, DLQ, ReportBatchItemFailures, concurrency).
 * Each test makes its own queues with short timeouts, so the file stays fast.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  ChangeMessageVisibilityBatchCommand,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { startEventSourceMapping, type EventSourceMapping, type EventSourceMappingOptions } from '../../scripts/local/event-source-mapping.ts';
import { clientConfig } from '../../scripts/local/provision.ts';
import { awsEndpoint, region } from '../support/stack.ts';

const sqs = new SQSClient(clientConfig({ endpoint: awsEndpoint(), region }));
const mappings: EventSourceMapping[] = [];
afterEach(async () => {
  await Promise.all(mappings.splice(0).map((m) => m.stop()));
});

async function createQueue(options: { visibilityTimeoutSeconds: number; maxReceiveCount?: number }): Promise<{ url: string; arn: string; dlqUrl?: string }> {
  const name = `esm-${randomBytes(5).toString('hex')}`;
  const arnOf = async (url: string) =>
    (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn ?? '';
  let dlqUrl: string | undefined;
  const attributes: Record<string, string> = { VisibilityTimeout: String(options.visibilityTimeoutSeconds) };
  if (options.maxReceiveCount !== undefined) {
    dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }))).QueueUrl!;
    attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: await arnOf(dlqUrl), maxReceiveCount: options.maxReceiveCount });
  }
  const url = (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }))).QueueUrl!;
  return { url, arn: await arnOf(url), ...(dlqUrl ? { dlqUrl } : {}) };
}

async function send(url: string, bodies: string[]): Promise<void> {
  for (let i = 0; i < bodies.length; i += 10) {
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: bodies.slice(i, i + 10).map((MessageBody, n) => ({ Id: String(n), MessageBody })) }));
  }
}

type Handler = (event: SQSEvent) => unknown;

function start(url: string, handler: Handler, overrides: Partial<EventSourceMappingOptions> = {}): EventSourceMapping {
  const mapping = startEventSourceMapping({
    sqs,
    queueUrl: url,
    fn: { functionName: 'test-consumer', memoryMb: 128, timeoutSeconds: 5, handler: (event) => handler(event as SQSEvent) },
    batchSize: 10,
    batchingWindowSeconds: 0,
    maximumConcurrency: 5,
    idleWaitSeconds: 1,
    log: () => undefined,
    ...overrides,
  });
  mappings.push(mapping);
  return mapping;
}

async function until<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function queueDepth(url: string): Promise<number> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
}

describe('event source mapping', () => {
  it('passes messages in the SQSEvent record shape', async () => {
    const queue = await createQueue({ visibilityTimeoutSeconds: 5 });
    const sentAt = Date.now();
    const { MessageId } = await sqs.send(
      new SendMessageCommand({
        QueueUrl: queue.url,
        MessageBody: '{"hello":"world"}',
        MessageAttributes: { kind: { DataType: 'String', StringValue: 'greeting' }, raw: { DataType: 'Binary', BinaryValue: Buffer.from('bin') } },
      }),
    );
    const events: SQSEvent[] = [];
    start(queue.url, (event) => void events.push(event));
    const [event] = await until(() => (events.length > 0 ? events : undefined));
    expect(event!.Records).toHaveLength(1);
    const record = event!.Records[0]!;
    expect(record).toMatchObject({
      messageId: MessageId,
      body: '{"hello":"world"}',
      eventSource: 'aws:sqs',
      eventSourceARN: queue.arn,
      awsRegion: 'us-east-1',
      messageAttributes: {
        kind: { stringValue: 'greeting', stringListValues: [], binaryListValues: [], dataType: 'String' },
        raw: { binaryValue: Buffer.from('bin').toString('base64'), dataType: 'Binary' },
      },
    });
    expect(record.receiptHandle).toMatch(/.+/);
    expect(record.md5OfBody).toBe(createHash('md5').update('{"hello":"world"}').digest('hex'));
    expect(record.attributes.ApproximateReceiveCount).toBe('1');
    expect(Number(record.attributes.SentTimestamp)).toBeGreaterThanOrEqual(Math.floor(sentAt / 1000) * 1000);
    expect(Number(record.attributes.ApproximateFirstReceiveTimestamp)).toBeGreaterThanOrEqual(Number(record.attributes.SentTimestamp));
    await until(async () => ((await queueDepth(queue.url)) === 0 ? true : undefined));
  });

  it('gathers batches larger than one ReceiveMessage call, up to batchSize', async () => {
    const queue = await createQueue({ visibilityTimeoutSeconds: 10 });
    await send(queue.url, Array.from({ length: 25 }, (_, i) => `m${i}`));
    const sizes: number[] = [];
    start(queue.url, (event) => void sizes.push(event.Records.length), { batchSize: 12, batchingWindowSeconds: 1, maximumConcurrency: 1 });
    await until(() => (sizes.reduce((a, b) => a + b, 0) === 25 ? true : undefined));
    expect(sizes.slice(0, 2)).toEqual([12, 12]);
    expect(sizes[2]).toBe(1);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(12);
  });

  it('never exceeds batchSize below 10', async () => {
    const queue = await createQueue({ visibilityTimeoutSeconds: 10 });
    await send(queue.url, Array.from({ length: 7 }, (_, i) => `m${i}`));
    const sizes: number[] = [];
    start(queue.url, (event) => void sizes.push(event.Records.length), { batchSize: 3, maximumConcurrency: 1 });
    await until(() => (sizes.reduce((a, b) => a + b, 0) === 7 ? true : undefined));
    expect(Math.max(...sizes)).toBe(3);
  });

  it('waits up to the batching window after the first message for more', async () => {
    const queue = await createQueue({ visibilityTimeoutSeconds: 10 });
    const batches: Array<{ bodies: string[]; at: number }> = [];
    start(queue.url, (event) => void batches.push({ bodies: event.Records.map((r) => r.body), at: Date.now() }), { batchingWindowSeconds: 2 });
    await new Promise((r) => setTimeout(r, 300));
    const first = Date.now();
    await send(queue.url, ['a']);
    await new Promise((r) => setTimeout(r, 600));
    await send(queue.url, ['b', 'c']);
    await until(() => (batches.length > 0 ? true : undefined));
    expect(batches[0]!.bodies.sort()).toEqual(['a', 'b', 'c']);
    // Invoked once the window closed, not before, and not long after.
    expect(batches[0]!.at - first).toBeGreaterThanOrEqual(1500);
    expect(batches[0]!.at - first).toBeLessThan(4500);
  });

  it('without a batching window invokes with what one receive returned', async () => {
    const queue = await createQueue({ visibilityTimeoutSeconds: 10 });
    const batches: string[][] = [];
    start(queue.url, (event) => void batches.push(event.Records.map((r) => r.body)));
    await new Promise((r) => setTimeout(r, 200));
    await send(queue.url, ['a']);
    await until(() => (batches.length > 0 ? true : undefined));
    await send(queue.url, ['b']);
    await until(() => (batches.length > 1 ? true : undefined));
    expect(batches).toEqual([['a'], ['b']]);
  });

  it('makes a failed message visible again after the visibility timeout', async () => {
    const queue = await createQueue({ visibilityTimeoutSeconds: 1 });
    await send(queue.url, ['retry-me']);
    const attempts: Array<{ at: number; receiveCount: string }> = [];
    start(queue.url, (event) => {
      attempts.push({ at: Date.now(), receiveCount: event.Records[0]!.attributes.ApproximateReceiveCount });
      if (attempts.length === 1) throw new Error('first attempt fails');
    });
    await until(() => (attempts.length >= 2 ? true : undefined));
    expect(attempts.map((a) => a.receiveCount).slice(0, 2)).toEqual(['1', '2']);
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(900);
    await until(async () => ((await queueDepth(queue.url)) === 0 ? true : undefined));
  });

  it('moves a message that keeps failing to the DLQ after maxReceiveCount receives', async () => {
    const queue = await createQueue({ visibilityTimeoutSeconds: 1, maxReceiveCount: 2 });
    await send(queue.url, ['poison']);
    let attempts = 0;
    start(queue.url, () => {
      attempts++;
      throw new Error('always fails');
    });
    const moved = await until(async () => {
      const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queue.dlqUrl!, WaitTimeSeconds: 1 }));
      return Messages?.length ? Messages : undefined;
    });
    expect(moved.map((m) => m.Body)).toEqual(['poison']);
    expect(attempts).toBe(2);
    expect(await queueDepth(queue.url)).toBe(0);
  });

  it('runs at most maximumConcurrency invocations at once', async () => {
    const queue = await createQueue({ visibilityTimeoutSeconds: 10 });
    await send(queue.url, Array.from({ length: 8 }, (_, i) => `m${i}`));
    let running = 0;
    let peak = 0;
    let done = 0;
    start(
      queue.url,
      async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 250));
        running--;
        done++;
      },
      { batchSize: 1, maximumConcurrency: 2 },
    );
    await until(() => (done === 8 ? true : undefined));
    expect(peak).toBe(2);
  });

  it('treats a handler that runs past its timeout as a failed batch', async () => {
    const queue = await createQueue({ visibilityTimeoutSeconds: 1 });
    await send(queue.url, ['slow']);
    let attempts = 0;
    const mapping = startEventSourceMapping({
      sqs,
      queueUrl: queue.url,
      fn: {
        functionName: 'slow',
        memoryMb: 128,
        timeoutSeconds: 0.2,
        handler: async () => {
          attempts++;
          if (attempts === 1) await new Promise((r) => setTimeout(r, 500));
        },
      },
      batchSize: 10,
      batchingWindowSeconds: 0,
      maximumConcurrency: 1,
      log: () => undefined,
    });
    mappings.push(mapping);
    await until(() => (attempts >= 2 ? true : undefined));
    await until(async () => ((await queueDepth(queue.url)) === 0 ? true : undefined));
    expect(attempts).toBe(2);
  });

  it('stop() waits for the running invocation and its deletes', async () => {
    const queue = await createQueue({ visibilityTimeoutSeconds: 10 });
    await send(queue.url, ['a', 'b']);
    let started = false;
    let finished = false;
    const mapping = start(queue.url, async () => {
      started = true;
      await new Promise((r) => setTimeout(r, 500));
      finished = true;
    });
    await until(() => (started ? true : undefined));
    await mapping.stop();
    expect(finished).toBe(true);
    expect(mapping.inFlight()).toBe(0);
    expect(await queueDepth(queue.url)).toBe(0);
  });
});

describe('ReportBatchItemFailures', () => {
  // Each case: what the handler returns for the batch [a, b, c] → which messages stay queued.
  const cases: Array<{ name: string; respond: (ids: Record<string, string>) => unknown; remaining: string[] }> = [
    { name: 'one failed item deletes all the others', respond: (ids) => ({ batchItemFailures: [{ itemIdentifier: ids.b }] }), remaining: ['b'] },
    { name: 'two failed items', respond: (ids) => ({ batchItemFailures: [{ itemIdentifier: ids.a }, { itemIdentifier: ids.c }] }), remaining: ['a', 'c'] },
    { name: 'an empty list deletes the batch', respond: () => ({ batchItemFailures: [] }), remaining: [] },
    { name: 'a null list deletes the batch', respond: () => ({ batchItemFailures: null }), remaining: [] },
    { name: 'null deletes the batch', respond: () => null, remaining: [] },
    { name: 'undefined deletes the batch', respond: () => undefined, remaining: [] },
    { name: 'an empty object deletes the batch', respond: () => ({}), remaining: [] },
    {
      name: 'a thrown error retries the batch',
      respond: () => {
        throw new Error('boom');
      },
      remaining: ['a', 'b', 'c'],
    },
    { name: 'an invalid response retries the batch', respond: () => 'not a response', remaining: ['a', 'b', 'c'] },
    { name: 'batchItemFailures that is not a list retries the batch', respond: (ids) => ({ batchItemFailures: { itemIdentifier: ids.a } }), remaining: ['a', 'b', 'c'] },
    { name: 'an empty itemIdentifier retries the batch', respond: () => ({ batchItemFailures: [{ itemIdentifier: '' }] }), remaining: ['a', 'b', 'c'] },
    { name: 'a null itemIdentifier retries the batch', respond: () => ({ batchItemFailures: [{ itemIdentifier: null }] }), remaining: ['a', 'b', 'c'] },
    { name: 'a misspelt key retries the batch', respond: (ids) => ({ batchItemFailures: [{ itemId: ids.a }] }), remaining: ['a', 'b', 'c'] },
    {
      name: 'an identifier not in the batch retries the batch',
      respond: (ids) => ({ batchItemFailures: [{ itemIdentifier: ids.a }, { itemIdentifier: 'not-a-message-id' }] }),
      remaining: ['a', 'b', 'c'],
    },
  ];

  it.each(cases)('$name', async ({ respond, remaining }) => {
    const queue = await createQueue({ visibilityTimeoutSeconds: 5 });
    await send(queue.url, ['a', 'b', 'c']);
    let batch: SQSEvent | undefined;
    let invoked!: () => void;
    const invokedOnce = new Promise<void>((resolve) => (invoked = resolve));
    const mapping = startEventSourceMapping({
      sqs,
      queueUrl: queue.url,
      fn: {
        functionName: 'rbif',
        memoryMb: 128,
        timeoutSeconds: 5,
        handler: (event) => {
          batch = event as SQSEvent;
          return respond(Object.fromEntries(batch.Records.map((r) => [r.body, r.messageId])));
        },
      },
      batchSize: 10,
      batchingWindowSeconds: 1,
      maximumConcurrency: 1,
      afterInvocation: () => invoked(),
      log: () => undefined,
    });
    mappings.push(mapping);
    await invokedOnce;
    await mapping.stop();
    expect(batch!.Records.map((r) => r.body).sort()).toEqual(['a', 'b', 'c']);
    // Make whatever was not deleted visible now instead of waiting out the visibility timeout.
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queue.url,
        Entries: batch!.Records.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle, VisibilityTimeout: 0 })),
      }),
    );
    const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queue.url, MaxNumberOfMessages: 10 }));
    expect((Messages ?? []).map((m) => m.Body).sort()).toEqual(remaining);
  });
});
