/**
 * A local SQS event source mapping with Lambda's semantics:
 *
 * - gathers up to `batchSize` messages (ReceiveMessage returns at most 10 a call), waiting
 *   at most `batchingWindowSeconds` after the first message for more; with no window the
 *   batch is what one receive returned;
 * - at most `maximumConcurrency` invocations at once; while all slots are busy nothing more
 *   is received (so no message sits invisible waiting for a slot);
 * - with ReportBatchItemFailures, `{batchItemFailures: [{itemIdentifier}]}` deletes every
 *   other message; an empty list / null / undefined / `{}` deletes the whole batch; a thrown
 *   error, a timeout, an invalid response, an empty/null identifier or one not in the batch
 *   deletes nothing;
 * - failed messages are simply not deleted: SQS makes them visible again after the visibility
 *   timeout and moves them to the DLQ after `maxReceiveCount` receives (redrive policy).
 *
 * It takes any queue URL and any handler, so tests drive it directly; stop() ends polling,
 * waits for running invocations and their deletes, and resolves.
 */
import { DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import { invoke, localRegion, type LocalFunction } from './lambda-context.ts';

export interface EventSourceMappingOptions {
  sqs: SQSClient;
  queueUrl: string;
  /** Looked up with GetQueueAttributes when omitted. */
  queueArn?: string;
  fn: LocalFunction;
  batchSize: number;
  batchingWindowSeconds: number;
  maximumConcurrency: number;
  /** Lambda's `FunctionResponseTypes: ["ReportBatchItemFailures"]`; default true (as every mapping here is deployed). */
  reportBatchItemFailures?: boolean;
  /** Long-poll wait while the queue is idle; short so stop() is quick. Default 1 s. */
  idleWaitSeconds?: number;
  region?: string;
  /** Called after each invocation has returned and its messages were deleted. */
  afterInvocation?: () => void;
  log?: (line: string) => void;
}

export interface EventSourceMapping {
  stop(): Promise<void>;
  /** Invocations running right now. */
  inFlight(): number;
}

/** Lambda caps a batch's payload at 6 MB. */
const maxBatchBytes = 6 * 1024 * 1024;

export type BatchVerdict = { kind: 'all-succeeded' } | { kind: 'partial'; failedIds: Set<string> } | { kind: 'all-failed'; reason: string };

/** Interprets a handler's response the way Lambda does with ReportBatchItemFailures. */
export function judgeBatchResponse(result: unknown, messageIds: ReadonlySet<string>): BatchVerdict {
  if (result === null || result === undefined) return { kind: 'all-succeeded' };
  if (typeof result !== 'object' || Array.isArray(result)) return { kind: 'all-failed', reason: 'the response is not a batch item failure response' };
  const failures = (result as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return { kind: 'all-succeeded' };
  if (!Array.isArray(failures)) return { kind: 'all-failed', reason: 'batchItemFailures is not a list' };
  if (failures.length === 0) return { kind: 'all-succeeded' };
  const failedIds = new Set<string>();
  for (const failure of failures) {
    const id: unknown = failure !== null && typeof failure === 'object' ? (failure as { itemIdentifier?: unknown }).itemIdentifier : undefined;
    if (typeof id !== 'string' || id === '') return { kind: 'all-failed', reason: `invalid itemIdentifier ${JSON.stringify(id ?? null)}` };
    if (!messageIds.has(id)) return { kind: 'all-failed', reason: `itemIdentifier ${id} is not in the batch` };
    failedIds.add(id);
  }
  return { kind: 'partial', failedIds };
}

export function toSqsRecord(message: Message, queueArn: string, region: string): SQSRecord {
  const attributes: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.Attributes ?? {})) if (value !== undefined) attributes[name] = value;
  const messageAttributes: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
      ...(value.BinaryValue !== undefined ? { binaryValue: Buffer.from(value.BinaryValue).toString('base64') } : {}),
      stringListValues: value.StringListValues ?? [],
      binaryListValues: (value.BinaryListValues ?? []).map((b) => Buffer.from(b).toString('base64')),
      dataType: value.DataType ?? 'String',
    };
  }
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: attributes as unknown as SQSRecord['attributes'],
    messageAttributes,
    md5OfBody: message.MD5OfBody ?? '',
    ...(message.MD5OfMessageAttributes ? { md5OfMessageAttributes: message.MD5OfMessageAttributes } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function startEventSourceMapping(options: EventSourceMappingOptions): EventSourceMapping {
  const log = options.log ?? ((line: string) => console.error(line));
  const region = options.region ?? localRegion;
  const reportFailures = options.reportBatchItemFailures ?? true;
  const idleWait = options.idleWaitSeconds ?? 1;
  const concurrency = Math.max(1, options.maximumConcurrency);
  let stopping = false;
  const running = new Set<Promise<void>>();
  let slotFreed: (() => void) | undefined;

  const receive = async (max: number, waitSeconds: number): Promise<Message[]> => {
    const { Messages } = await options.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: options.queueUrl,
        MaxNumberOfMessages: Math.min(10, max),
        WaitTimeSeconds: waitSeconds,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    return Messages ?? [];
  };

  /** One batch: waits for a first message, then fills it within the batching window. */
  const gather = async (): Promise<Message[]> => {
    const batch: Message[] = [];
    let bytes = 0;
    let windowEnds = 0;
    while (!stopping && batch.length < options.batchSize && bytes < maxBatchBytes) {
      let wait: number;
      if (batch.length === 0) wait = idleWait;
      else {
        const remaining = windowEnds - Date.now();
        if (remaining <= 0) break;
        wait = Math.min(20, Math.floor(remaining / 1000));
      }
      const messages = await receive(options.batchSize - batch.length, wait);
      for (const m of messages) bytes += Buffer.byteLength(m.Body ?? '');
      if (batch.length === 0 && messages.length > 0) {
        windowEnds = Date.now() + options.batchingWindowSeconds * 1000;
        if (options.batchingWindowSeconds <= 0) return messages;
      }
      batch.push(...messages);
      if (batch.length > 0 && messages.length === 0 && wait === 0) await sleep(Math.min(100, Math.max(0, windowEnds - Date.now())));
    }
    return batch;
  };

  const process = async (queueArn: string, messages: Message[]): Promise<void> => {
    const records = messages.map((m) => toSqsRecord(m, queueArn, region));
    const event: SQSEvent = { Records: records };
    const outcome = await invoke(options.fn, event, log);
    let toDelete: SQSRecord[] = [];
    if (!outcome.ok) toDelete = [];
    else if (!reportFailures) toDelete = records;
    else {
      const verdict = judgeBatchResponse(outcome.result, new Set(records.map((r) => r.messageId)));
      if (verdict.kind === 'all-succeeded') toDelete = records;
      else if (verdict.kind === 'partial') toDelete = records.filter((r) => !verdict.failedIds.has(r.messageId));
      else log(JSON.stringify({ level: 'WARN', function: options.fn.functionName, message: `whole batch will be retried: ${verdict.reason}` }));
    }
    for (let i = 0; i < toDelete.length; i += 10) {
      const chunk = toDelete.slice(i, i + 10);
      try {
        const result = await options.sqs.send(
          new DeleteMessageBatchCommand({ QueueUrl: options.queueUrl, Entries: chunk.map((r, n) => ({ Id: String(n), ReceiptHandle: r.receiptHandle })) }),
        );
        for (const failed of result.Failed ?? []) log(JSON.stringify({ level: 'WARN', message: `could not delete a message: ${failed.Code} ${failed.Message}` }));
      } catch (error) {
        log(JSON.stringify({ level: 'WARN', message: `could not delete messages from ${options.queueUrl}: ${String(error)}` }));
      }
    }
  };

  const loop = async (): Promise<void> => {
    let queueArn = options.queueArn;
    while (!stopping && !queueArn) {
      try {
        const { Attributes } = await options.sqs.send(new GetQueueAttributesCommand({ QueueUrl: options.queueUrl, AttributeNames: ['QueueArn'] }));
        queueArn = Attributes?.QueueArn;
      } catch (error) {
        log(JSON.stringify({ level: 'WARN', message: `event source mapping cannot read ${options.queueUrl}: ${String(error)}` }));
        await sleep(1000);
      }
    }
    while (!stopping) {
      if (running.size >= concurrency) {
        await new Promise<void>((resolve) => (slotFreed = resolve));
        continue;
      }
      let batch: Message[];
      try {
        batch = await gather();
      } catch (error) {
        if (stopping) break;
        log(JSON.stringify({ level: 'WARN', message: `receive from ${options.queueUrl} failed: ${String(error)}` }));
        await sleep(1000);
        continue;
      }
      if (batch.length === 0) continue;
      const task = process(queueArn!, batch).finally(() => {
        running.delete(task);
        options.afterInvocation?.();
        const wake = slotFreed;
        slotFreed = undefined;
        wake?.();
      });
      running.add(task);
    }
  };

  const looping = loop();
  return {
    inFlight: () => running.size,
    stop: async () => {
      stopping = true;
      const wake = slotFreed;
      slotFreed = undefined;
      wake?.();
      await looping;
      await Promise.all([...running]);
    },
  };
}
