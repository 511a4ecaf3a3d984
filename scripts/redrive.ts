/**
 * Moves a DLQ's messages back to where they should have been consumed.
 *
 *   npm run redrive -- --queue <name|url> [--to <name|url|arn>] [--dry-run] [--endpoint URL] [--region R] [--method auto|move-task|receive]
 *
 * Two kinds of DLQ, each with its own destination:
 * - `<queue>-dlq`, the redrive DLQ of an SQS queue (its RedrivePolicy names the DLQ): the
 *   destination is that queue. `--queue` may name the DLQ or the source queue. Uses SQS
 *   StartMessageMoveTask where the endpoint supports it.
 * - `<queue>-delivery-dlq`, where EventBridge puts events it could not deliver to the rule's
 *   target `<queue>`: the destination is that target (each message's TARGET_ARN attribute,
 *   else the name). It is no queue's redrive DLQ, and StartMessageMoveTask only serves
 *   those, so its messages are always moved by receive-and-send.
 * `--to` overrides the destination. Receive-and-send (also where the endpoint has no
 * StartMessageMoveTask: moto, older emulators) re-sends ten at a time and deletes only what
 * was sent. It moves what the move task moves: the body and the message attributes (so the
 * `failureReason`/`failedAt` mark by which the analytics processor recognises a redriven
 * event survives either way; functions/shared/analytics/dead-letter.ts), and like the move
 * task it makes new messages (new id, new enqueue time, receive count from zero). `--dry-run` lists what would move: count, message ids, reasons (the
 * `failureReason` attribute our functions set, EventBridge's ERROR_CODE, else the receive
 * count) — the messages stay where they are.
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
  /** Where to move the messages (name, URL or ARN) instead of the DLQ's own destination. */
  to?: string;
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
  /** The first failure, where whoever dead-lettered it recorded one (the `failedAt` attribute). */
  failedAt?: string;
}

export type DlqKind = 'sqs-redrive' | 'eventbridge-delivery';

export interface RedriveResult {
  dlqUrl: string;
  kind: DlqKind;
  destinationUrl: string;
  method: 'dry-run' | 'move-task' | 'receive';
  /** Messages moved (receive method; for a move task, what the task reports). */
  moved: number;
  messages?: MessageSummary[];
  taskStatus?: string;
}

async function resolveUrl(sqs: SQSClient, queue: string): Promise<string> {
  if (/^https?:\/\//.test(queue)) return queue;
  const [, , , , account, name] = queue.startsWith('arn:') ? queue.split(':') : [];
  const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: name ?? queue, ...(account ? { QueueOwnerAWSAccountId: account } : {}) }));
  if (!QueueUrl) throw new Error(`no queue named ${queue}`);
  return QueueUrl;
}

async function attributesOf(sqs: SQSClient, url: string) {
  const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn', 'RedrivePolicy', 'ApproximateNumberOfMessages'] }));
  return Attributes;
}

const nameOfArn = (arn: string) => arn.split(':').pop() ?? arn;

export const DELIVERY_DLQ_SUFFIX = '-delivery-dlq';

export interface Route {
  kind: DlqKind;
  dlqUrl: string;
  dlqArn: string;
  destinationUrl: string;
  destinationArn: string;
}

/** Works out the DLQ, its kind and where its messages go, from the DLQ or an SQS source queue; `to` overrides the destination. */
export async function resolveRoute(sqs: SQSClient, queue: string, to?: string): Promise<Route> {
  const route = await defaultRoute(sqs, queue);
  if (!to) return route;
  const destinationUrl = await resolveUrl(sqs, to);
  return { ...route, destinationUrl, destinationArn: (await attributesOf(sqs, destinationUrl)).QueueArn ?? '' };
}

async function defaultRoute(sqs: SQSClient, queue: string): Promise<Route> {
  const url = await resolveUrl(sqs, queue);
  const attributes = await attributesOf(sqs, url);
  if (attributes.RedrivePolicy) {
    const dlqArn = (JSON.parse(attributes.RedrivePolicy) as { deadLetterTargetArn: string }).deadLetterTargetArn;
    return { kind: 'sqs-redrive', dlqUrl: await resolveUrl(sqs, nameOfArn(dlqArn)), dlqArn, destinationUrl: url, destinationArn: attributes.QueueArn ?? '' };
  }
  const name = nameOfArn(attributes.QueueArn ?? url.split('/').pop() ?? '');
  if (name.endsWith(DELIVERY_DLQ_SUFFIX)) {
    // EventBridge's DLQ for the rule's target: the events go to the target (no queue names this one in a RedrivePolicy).
    const destinationUrl = await resolveUrl(sqs, name.slice(0, -DELIVERY_DLQ_SUFFIX.length));
    return { kind: 'eventbridge-delivery', dlqUrl: url, dlqArn: attributes.QueueArn ?? '', destinationUrl, destinationArn: (await attributesOf(sqs, destinationUrl)).QueueArn ?? '' };
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
  return { kind: 'sqs-redrive', dlqUrl: url, dlqArn: attributes.QueueArn ?? '', destinationUrl: sourceUrl, destinationArn: (await attributesOf(sqs, sourceUrl)).QueueArn ?? '' };
}

function summarise(message: Message): MessageSummary {
  const receiveCount = Number(message.Attributes?.ApproximateReceiveCount ?? 0);
  const attributes = message.MessageAttributes;
  const eventBridgeError = attributes?.ERROR_CODE?.StringValue ? `EventBridge could not deliver it: ${attributes.ERROR_CODE.StringValue} ${attributes.ERROR_MESSAGE?.StringValue ?? ''}`.trim() : undefined;
  const reason = attributes?.failureReason?.StringValue ?? eventBridgeError ?? `received ${receiveCount} time(s) without success (maxReceiveCount reached)`;
  const failedAt = attributes?.failedAt?.StringValue;
  return { messageId: message.MessageId ?? '', receiveCount, reason, ...(failedAt ? { failedAt } : {}) };
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

async function moveByTask(sqs: SQSClient, pair: { dlqArn: string; destinationArn: string }, waitSeconds: number, log: (line: string) => void) {
  const { TaskHandle } = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: pair.dlqArn, DestinationArn: pair.destinationArn }));
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

async function moveByReceive(sqs: SQSClient, pair: { dlqUrl: string; destinationUrl: string }, log: (line: string) => void): Promise<number> {
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
        QueueUrl: pair.destinationUrl,
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
  const route = await resolveRoute(options.sqs, options.queue, options.to);
  const where = { dlqUrl: route.dlqUrl, kind: route.kind, destinationUrl: route.destinationUrl };
  if (options.dryRun) {
    const messages = await listMessages(options.sqs, route.dlqUrl);
    return { ...where, method: 'dry-run', moved: 0, messages };
  }
  const method = options.method ?? 'auto';
  if (route.kind === 'eventbridge-delivery' && method === 'move-task') {
    throw new Error(`${route.dlqUrl} is an EventBridge delivery DLQ, not an SQS queue's DLQ: StartMessageMoveTask cannot move its messages; use --method receive (or auto)`);
  }
  if (method !== 'receive' && route.kind === 'sqs-redrive') {
    try {
      const task = await moveByTask(options.sqs, route, options.waitSeconds ?? 60, log);
      return { ...where, method: 'move-task', moved: task.moved, taskStatus: task.status };
    } catch (error) {
      if (method === 'move-task' || !isUnsupported(error)) throw error;
      log('this endpoint does not support StartMessageMoveTask; moving by receive-and-send');
    }
  }
  const moved = await moveByReceive(options.sqs, route, log);
  return { ...where, method: 'receive', moved };
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
    console.error('usage: npm run redrive -- --queue <name|url> [--to <name|url|arn>] [--dry-run] [--endpoint URL] [--region R] [--method auto|move-task|receive]');
    process.exit(2);
  }
  const method = typeof args.method === 'string' ? (args.method as RedriveOptions['method']) : 'auto';
  const result = await redrive({
    queue: args.queue,
    ...(typeof args.to === 'string' ? { to: args.to } : {}),
    dryRun: args['dry-run'] === true,
    method,
    sqs: new SQSClient(clientOptions(args)),
  });
  if (result.method === 'dry-run') {
    console.log(`${result.messages?.length ?? 0} message(s) in ${result.dlqUrl} (${result.kind}) would move to ${result.destinationUrl}:`);
    for (const m of result.messages ?? []) console.log(`  ${m.messageId}  receives=${m.receiveCount}${m.failedAt ? `  first failure ${m.failedAt}` : ''}  ${m.reason}`);
  } else {
    console.log(`moved ${result.moved} message(s) from ${result.dlqUrl} to ${result.destinationUrl} (${result.method}${result.taskStatus ? `, task ${result.taskStatus}` : ''})`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    console.error(String(error));
    process.exit(1);
  });
}
