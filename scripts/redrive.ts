/**
 * Moves a DLQ's messages back to its source queue.
 *
 *   npm run redrive -- --queue <name|url> [--dry-run] [--endpoint URL] [--region R] [--method auto|move-task|receive]
 *
 * `--queue` may name the DLQ or the source queue (its RedrivePolicy names the DLQ).
 * Uses SQS StartMessageMoveTask where the endpoint supports it; otherwise (moto, older
 * emulators) receives, re-sends to the source queue and deletes, ten at a time, deleting
 * only what was sent. `--dry-run` lists what would move: count, message ids, reasons (the
 * `failureReason` attribute our functions set, else the receive count) — the messages
 * stay where they are.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListDeadLetterSourceQueuesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
  type Message,
  type MessageAttributeValue,
} from '@aws-sdk/client-sqs';
import { pathToFileURL } from 'node:url';

export interface RedriveOptions {
  queue: string;
  dryRun?: boolean;
  method?: 'auto' | 'move-task' | 'receive';
  sqs: SQSClient;
  log?: (line: string) => void;
  /** How long to wait for a move task to finish. Default 60 s. */
  waitSeconds?: number;
}

export interface MessageSummary {
  messageId: string;
  receiveCount: number;
  reason: string;
}

export interface RedriveResult {
  dlqUrl: string;
  sourceUrl: string;
  method: 'dry-run' | 'move-task' | 'receive';
  /** Messages moved (receive method; for a move task, what the task reports). */
  moved: number;
  messages?: MessageSummary[];
  taskStatus?: string;
}

async function resolveUrl(sqs: SQSClient, queue: string): Promise<string> {
  if (/^https?:\/\//.test(queue)) return queue;
  const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: queue }));
  if (!QueueUrl) throw new Error(`no queue named ${queue}`);
  return QueueUrl;
}

async function attributesOf(sqs: SQSClient, url: string) {
  const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn', 'RedrivePolicy', 'ApproximateNumberOfMessages'] }));
  return Attributes;
}

const nameOfArn = (arn: string) => arn.split(':').pop() ?? arn;

/** Works out which queue is the DLQ and which its source, from either. */
export async function resolvePair(sqs: SQSClient, queue: string): Promise<{ dlqUrl: string; dlqArn: string; sourceUrl: string; sourceArn: string }> {
  const url = await resolveUrl(sqs, queue);
  const attributes = await attributesOf(sqs, url);
  if (attributes.RedrivePolicy) {
    const dlqArn = (JSON.parse(attributes.RedrivePolicy) as { deadLetterTargetArn: string }).deadLetterTargetArn;
    return { dlqUrl: await resolveUrl(sqs, nameOfArn(dlqArn)), dlqArn, sourceUrl: url, sourceArn: attributes.QueueArn ?? '' };
  }
  let sources: string[] = [];
  try {
    sources = (await sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: url }))).queueUrls ?? [];
  } catch {
    // Not every emulator has this call; fall back to the naming convention below.
  }
  if (sources.length > 1) throw new Error(`${queue} is the DLQ of several queues (${sources.join(', ')}); pass the source queue instead`);
  let sourceUrl = sources[0];
  if (!sourceUrl) {
    const name = nameOfArn(attributes.QueueArn ?? url.split('/').pop() ?? '');
    if (!name.endsWith('-dlq')) throw new Error(`${queue} has no redrive policy and is no queue's DLQ`);
    sourceUrl = await resolveUrl(sqs, name.slice(0, -'-dlq'.length));
  }
  return { dlqUrl: url, dlqArn: attributes.QueueArn ?? '', sourceUrl, sourceArn: (await attributesOf(sqs, sourceUrl)).QueueArn ?? '' };
}

function summarise(message: Message): MessageSummary {
  const receiveCount = Number(message.Attributes?.ApproximateReceiveCount ?? 0);
  const reason = message.MessageAttributes?.failureReason?.StringValue ?? `received ${receiveCount} time(s) without success (maxReceiveCount reached)`;
  return { messageId: message.MessageId ?? '', receiveCount, reason };
}

/** Lists the DLQ without moving anything: every message is received once and made visible again. */
async function listMessages(sqs: SQSClient, dlqUrl: string): Promise<MessageSummary[]> {
  const seen = new Map<string, Message>();
  let emptyRounds = 0;
  while (emptyRounds < 2) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 60, WaitTimeSeconds: 0, MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['All'] }),
    );
    const fresh = Messages.filter((m) => !seen.has(m.MessageId ?? ''));
    for (const m of fresh) seen.set(m.MessageId ?? '', m);
    emptyRounds = fresh.length === 0 ? emptyRounds + 1 : 0;
  }
  const messages = [...seen.values()];
  for (let i = 0; i < messages.length; i += 10) {
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({ QueueUrl: dlqUrl, Entries: messages.slice(i, i + 10).map((m, n) => ({ Id: String(n), ReceiptHandle: m.ReceiptHandle ?? '', VisibilityTimeout: 0 })) }),
    );
  }
  return messages.map(summarise);
}

/** The endpoint does not implement the call (moto answers an HTML 404). */
function isUnsupported(error: unknown): boolean {
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  return (
    ['UnsupportedOperation', 'InvalidAction', 'NotImplemented', 'SyntaxError', 'AWS.SimpleQueueService.UnsupportedOperation'].includes(e.name ?? '') ||
    [404, 501].includes(e.$metadata?.httpStatusCode ?? 0) ||
    /not (yet )?implemented|not valid JSON|unknown operation/i.test(e.message ?? '')
  );
}

async function moveByTask(sqs: SQSClient, pair: { dlqArn: string; sourceArn: string }, waitSeconds: number, log: (line: string) => void) {
  const { TaskHandle } = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: pair.dlqArn, DestinationArn: pair.sourceArn }));
  log(`started message move task ${TaskHandle}`);
  const deadline = Date.now() + waitSeconds * 1000;
  for (;;) {
    const { Results = [] } = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: pair.dlqArn, MaxResults: 1 }));
    const task = Results[0];
    if (task && task.Status !== 'RUNNING') return { moved: task.ApproximateNumberOfMessagesMoved ?? 0, status: task.Status ?? 'UNKNOWN' };
    if (Date.now() > deadline) return { moved: task?.ApproximateNumberOfMessagesMoved ?? 0, status: 'RUNNING' };
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function copyAttributes(attributes: Record<string, MessageAttributeValue> | undefined): Record<string, MessageAttributeValue> | undefined {
  if (!attributes) return undefined;
  const out: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(attributes)) {
    out[name] = { DataType: value.DataType, ...(value.StringValue !== undefined ? { StringValue: value.StringValue } : {}), ...(value.BinaryValue !== undefined ? { BinaryValue: value.BinaryValue } : {}) };
  }
  return out;
}

async function moveByReceive(sqs: SQSClient, pair: { dlqUrl: string; sourceUrl: string }, log: (line: string) => void): Promise<number> {
  let moved = 0;
  let emptyRounds = 0;
  while (emptyRounds < 2) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: pair.dlqUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 60, WaitTimeSeconds: 0, MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['All'] }),
    );
    if (Messages.length === 0) {
      emptyRounds++;
      continue;
    }
    emptyRounds = 0;
    const sent = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: pair.sourceUrl,
        Entries: Messages.map((m, n) => {
          const attributes = copyAttributes(m.MessageAttributes);
          return {
            Id: String(n),
            MessageBody: m.Body ?? '',
            ...(attributes && Object.keys(attributes).length > 0 ? { MessageAttributes: attributes } : {}),
            ...(m.Attributes?.MessageGroupId ? { MessageGroupId: m.Attributes.MessageGroupId, MessageDeduplicationId: m.Attributes.MessageDeduplicationId ?? m.MessageId } : {}),
          };
        }),
      }),
    );
    const ok = (sent.Successful ?? []).map((s) => Messages[Number(s.Id)]!);
    for (const failure of sent.Failed ?? []) log(`could not re-send ${Messages[Number(failure.Id)]?.MessageId}: ${failure.Code} ${failure.Message ?? ''}; it stays in the DLQ`);
    if (ok.length > 0) await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: pair.dlqUrl, Entries: ok.map((m, n) => ({ Id: String(n), ReceiptHandle: m.ReceiptHandle ?? '' })) }));
    moved += ok.length;
  }
  return moved;
}

export async function redrive(options: RedriveOptions): Promise<RedriveResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const pair = await resolvePair(options.sqs, options.queue);
  if (options.dryRun) {
    const messages = await listMessages(options.sqs, pair.dlqUrl);
    return { dlqUrl: pair.dlqUrl, sourceUrl: pair.sourceUrl, method: 'dry-run', moved: 0, messages };
  }
  const method = options.method ?? 'auto';
  if (method !== 'receive') {
    try {
      const task = await moveByTask(options.sqs, pair, options.waitSeconds ?? 60, log);
      return { dlqUrl: pair.dlqUrl, sourceUrl: pair.sourceUrl, method: 'move-task', moved: task.moved, taskStatus: task.status };
    } catch (error) {
      if (method === 'move-task' || !isUnsupported(error)) throw error;
      log('this endpoint does not support StartMessageMoveTask; moving by receive-and-send');
    }
  }
  const moved = await moveByReceive(options.sqs, pair, log);
  return { dlqUrl: pair.dlqUrl, sourceUrl: pair.sourceUrl, method: 'receive', moved };
}

/* ------------------------------------------------------------ CLI */

export function parseArgs(argv: string[]): Record<string, string | true> {
  const args: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}`);
    const [key, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    if (inline !== undefined) args[key] = inline;
    else if (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--')) args[key] = argv[++i]!;
    else args[key] = true;
  }
  return args;
}

/** An SQS/EventBridge client config from --endpoint/--region, with dummy credentials for an emulator. */
export function clientOptions(args: Record<string, string | true>) {
  const endpoint = typeof args.endpoint === 'string' ? args.endpoint : process.env.AWS_ENDPOINT_URL;
  const region = typeof args.region === 'string' ? args.region : (process.env.AWS_REGION ?? 'us-east-1');
  return {
    region,
    ...(endpoint ? { endpoint } : {}),
    ...(endpoint && !process.env.AWS_ACCESS_KEY_ID ? { credentials: { accessKeyId: 'test', secretAccessKey: 'test' } } : {}),
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (typeof args.queue !== 'string') {
    console.error('usage: npm run redrive -- --queue <name|url> [--dry-run] [--endpoint URL] [--region R] [--method auto|move-task|receive]');
    process.exit(2);
  }
  const method = typeof args.method === 'string' ? (args.method as RedriveOptions['method']) : 'auto';
  const result = await redrive({ queue: args.queue, dryRun: args['dry-run'] === true, method, sqs: new SQSClient(clientOptions(args)) });
  if (result.method === 'dry-run') {
    console.log(`${result.messages?.length ?? 0} message(s) in ${result.dlqUrl} would move to ${result.sourceUrl}:`);
    for (const m of result.messages ?? []) console.log(`  ${m.messageId}  receives=${m.receiveCount}  ${m.reason}`);
  } else {
    console.log(`moved ${result.moved} message(s) from ${result.dlqUrl} to ${result.sourceUrl} (${result.method}${result.taskStatus ? `, task ${result.taskStatus}` : ''})`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    console.error(String(error));
    process.exit(1);
  });
}
