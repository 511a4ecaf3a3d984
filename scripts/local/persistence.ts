/**
 * Keeps the local stack's data across restarts. moto holds everything in memory, so we
 * snapshot what matters into `.local/state/`:
 *
 * - every table (Scan), as DynamoDB JSON (binary values tagged `{"$b64": ...}`);
 * - the messages of every DLQ (`<queue>-dlq`, `<queue>-delivery-dlq`), periodically;
 * - at shutdown, after the pollers have stopped, the visible messages of the source queues
 *   too, so nothing queued is lost by a restart.
 *
 * Queues have no "peek": messages are received with a visibility timeout and made visible
 * again at once (ApproximateReceiveCount goes up by one; the periodic snapshot therefore
 * never reads a source queue, whose redrive counts receives). Restore re-sends them.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BatchWriteItemCommand, ScanCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { ProvisionedStack } from './provision.ts';
import { queues, ruleTargetQueues, tables, type QueueName, type TableName } from './topology.ts';

export interface PersistenceClients {
  dynamodb: DynamoDBClient;
  sqs: SQSClient;
}

interface SavedMessage {
  body: string;
  messageAttributes?: Record<string, unknown>;
}

type QueueKey = QueueName | `${QueueName}-dlq` | `${QueueName}-delivery-dlq`;

export function deadLetterQueues(): QueueKey[] {
  const targets = new Set<QueueName>(ruleTargetQueues());
  return (Object.keys(queues) as QueueName[]).flatMap((q): QueueKey[] => (targets.has(q) ? [`${q}-dlq`, `${q}-delivery-dlq`] : [`${q}-dlq`]));
}

/** Binary attribute values as `{"$b64": "..."}`, so a snapshot is plain JSON. */
function encode(value: unknown): unknown {
  if (value instanceof Uint8Array) return { $b64: Buffer.from(value).toString('base64') };
  if (Array.isArray(value)) return value.map(encode);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encode(v)]));
  return value;
}

function decode(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decode);
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 1 && entries[0]![0] === '$b64' && typeof entries[0]![1] === 'string') return new Uint8Array(Buffer.from(entries[0]![1], 'base64'));
    return Object.fromEntries(entries.map(([k, v]) => [k, decode(v)]));
  }
  return value;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function scanTable(dynamodb: DynamoDBClient, tableName: string): Promise<Array<Record<string, AttributeValue>>> {
  const items: Array<Record<string, AttributeValue>> = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamodb.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: start, ConsistentRead: true }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

async function queueDepth(sqs: SQSClient, url: string): Promise<number> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
}

/** Reads every visible message of a queue and leaves them all visible again. */
async function readQueue(sqs: SQSClient, url: string): Promise<SavedMessage[]> {
  const seen = new Map<string, SavedMessage>();
  const handles: string[] = [];
  try {
    for (;;) {
      const { Messages } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 60, MessageAttributeNames: ['All'] }),
      );
      if (!Messages?.length) break;
      for (const m of Messages) {
        if (m.ReceiptHandle) handles.push(m.ReceiptHandle);
        if (!m.MessageId || seen.has(m.MessageId)) continue;
        seen.set(m.MessageId, {
          body: m.Body ?? '',
          ...(m.MessageAttributes && Object.keys(m.MessageAttributes).length > 0 ? { messageAttributes: encode(m.MessageAttributes) as Record<string, unknown> } : {}),
        });
      }
    }
  } finally {
    for (let i = 0; i < handles.length; i += 10) {
      await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: url,
          Entries: handles.slice(i, i + 10).map((ReceiptHandle, n) => ({ Id: String(n), ReceiptHandle, VisibilityTimeout: 0 })),
        }),
      );
    }
  }
  return [...seen.values()];
}

export interface StateStore {
  /** Writes a snapshot of the tables and DLQs (and, with `sourceQueues`, the source queues); only files whose content changed are rewritten. */
  save(options?: { sourceQueues?: boolean }): Promise<{ written: string[] }>;
  /** Loads the snapshot into freshly provisioned resources. Queues that are not empty are left alone. */
  restore(): Promise<{ items: number; messages: number }>;
  /** Deletes the snapshot (`--reset`). */
  clear(): void;
  /** Saves every `intervalMs` until stop(); errors are logged, never thrown. */
  startPeriodic(intervalMs: number, log: (line: string) => void): { stop(): Promise<void> };
}

export function stateStore(dir: string, stack: ProvisionedStack, clients: PersistenceClients): StateStore {
  const lastWritten = new Map<string, string>();
  const tableFile = (t: TableName) => join(dir, 'tables', `${t}.json`);
  const queueFile = (q: QueueKey) => join(dir, 'queues', `${q}.json`);

  const writeIfChanged = (file: string, content: string): boolean => {
    if (lastWritten.get(file) === content) return false;
    if (!lastWritten.has(file) && existsSync(file) && readFileSync(file, 'utf8') === content) {
      lastWritten.set(file, content);
      return false;
    }
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(`${file}.tmp`, content);
    renameSync(`${file}.tmp`, file);
    lastWritten.set(file, content);
    return true;
  };

  const save: StateStore['save'] = async (options = {}) => {
    const written: string[] = [];
    for (const t of Object.keys(tables) as TableName[]) {
      const items = await scanTable(clients.dynamodb, stack.tableName(t));
      if (writeIfChanged(tableFile(t), JSON.stringify(encode(items)))) written.push(`tables/${t}`);
    }
    const queueKeys: QueueKey[] = [...(options.sourceQueues ? (Object.keys(queues) as QueueName[]) : []), ...deadLetterQueues()];
    for (const q of queueKeys) {
      const url = stack.queueUrl(q);
      // An empty queue that was empty last time needs no receive round-trip.
      if ((await queueDepth(clients.sqs, url)) === 0) {
        if (writeIfChanged(queueFile(q), '[]')) written.push(`queues/${q}`);
        continue;
      }
      if (writeIfChanged(queueFile(q), JSON.stringify(await readQueue(clients.sqs, url)))) written.push(`queues/${q}`);
    }
    return { written };
  };

  const restore: StateStore['restore'] = async () => {
    let items = 0;
    let messages = 0;
    for (const t of Object.keys(tables) as TableName[]) {
      const file = tableFile(t);
      if (!existsSync(file)) continue;
      const saved = decode(JSON.parse(readFileSync(file, 'utf8'))) as Array<Record<string, AttributeValue>>;
      lastWritten.set(file, readFileSync(file, 'utf8'));
      for (let i = 0; i < saved.length; i += 25) {
        let requests: Record<string, Array<{ PutRequest: { Item: Record<string, AttributeValue> } }>> | undefined = {
          [stack.tableName(t)]: saved.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })),
        };
        for (let attempt = 0; requests && Object.keys(requests).length > 0; attempt++) {
          if (attempt > 0) await sleep(Math.min(1000, 50 * 2 ** attempt));
          const result = await clients.dynamodb.send(new BatchWriteItemCommand({ RequestItems: requests }));
          requests = result.UnprocessedItems as typeof requests;
        }
      }
      items += saved.length;
    }
    for (const q of [...(Object.keys(queues) as QueueName[]), ...deadLetterQueues()] as QueueKey[]) {
      const file = queueFile(q);
      if (!existsSync(file)) continue;
      const saved = JSON.parse(readFileSync(file, 'utf8')) as SavedMessage[];
      const url = stack.queueUrl(q);
      if (saved.length === 0 || (await queueDepth(clients.sqs, url)) > 0) continue;
      for (let i = 0; i < saved.length; i += 10) {
        await clients.sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: url,
            Entries: saved.slice(i, i + 10).map((m, n) => ({
              Id: String(n),
              MessageBody: m.body,
              ...(m.messageAttributes ? { MessageAttributes: decode(m.messageAttributes) as Record<string, MessageAttributeValue> } : {}),
            })),
          }),
        );
      }
      messages += saved.length;
    }
    return { items, messages };
  };

  return {
    save,
    restore,
    clear: () => rmSync(dir, { recursive: true, force: true }),
    startPeriodic: (intervalMs, log) => {
      let current: Promise<unknown> = Promise.resolve();
      const timer = setInterval(() => {
        current = current.then(() => save()).catch((error: unknown) => log(`state snapshot failed: ${String(error)}`));
      }, intervalMs);
      timer.unref();
      return {
        stop: async () => {
          clearInterval(timer);
          await current;
        },
      };
    },
  };
}
