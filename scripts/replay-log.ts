/**
 * Re-ingests events that nothing would take at delivery time: the `UNDELIVERED_EVENT` log
 * lines the publisher (functions/shared/events/publisher.ts) writes when both EventBridge
 * and the fallback DLQ failed.
 *
 *   npm run replay-log -- [file ...] [--bus NAME] [--to-queue URL] [--dry-run] [--endpoint URL] [--region R]
 *
 * Reads the files (or stdin) line by line; understands our JSON lines as they are, inside
 * Lambda's JSON log format (`"message": "<json>"`) and in the text format
 * (`<time>\t<requestId>\tERROR\t<json>`). Each event is put back on a bus (--bus if given,
 * else the `bus` in the line, else $ANALYTICS_BUS_NAME) with PutEvents, or sent as the EventBridge
 * envelope straight to --to-queue. Safe to run twice: the analytics processor stores an
 * event once whatever the number of copies (content-hash identity).
 */
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { toBatches, UNDELIVERED_EVENT } from '../functions/shared/events/publisher.ts';
import { clientOptions, parseArgs } from './redrive.ts';

export interface UndeliveredEvent {
  bus?: string;
  envelope: { source: string; 'detail-type': string; detail: unknown; [key: string]: unknown };
}

function asUndelivered(value: unknown): UndeliveredEvent | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const record = value as Record<string, unknown>;
  if (record.message === UNDELIVERED_EVENT) {
    const envelope = record.envelope as UndeliveredEvent['envelope'] | undefined;
    if (envelope && typeof envelope.source === 'string' && typeof envelope['detail-type'] === 'string') {
      return { ...(typeof record.bus === 'string' ? { bus: record.bus } : {}), envelope };
    }
  }
  // Lambda's JSON log format wraps a logged string in `message`.
  if (typeof record.message === 'string' && record.message.includes(UNDELIVERED_EVENT)) {
    try {
      return asUndelivered(JSON.parse(record.message));
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The UNDELIVERED_EVENT in a log line, if there is one. */
export function parseLogLine(line: string): UndeliveredEvent | undefined {
  if (!line.includes(UNDELIVERED_EVENT)) return undefined;
  const start = line.indexOf('{');
  if (start < 0) return undefined;
  try {
    return asUndelivered(JSON.parse(line.slice(start)));
  } catch {
    return undefined;
  }
}

export async function readUndelivered(input: Readable): Promise<UndeliveredEvent[]> {
  const events: UndeliveredEvent[] = [];
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    const event = parseLogLine(line);
    if (event) events.push(event);
  }
  return events;
}

export interface ReplayOptions {
  events: UndeliveredEvent[];
  bus?: string;
  toQueue?: string;
  eventBridge: EventBridgeClient;
  sqs: SQSClient;
}

export async function replay(options: ReplayOptions): Promise<{ sent: number; failed: number }> {
  let sent = 0;
  let failed = 0;
  if (options.toQueue) {
    for (let i = 0; i < options.events.length; i += 10) {
      const chunk = options.events.slice(i, i + 10);
      const result = await options.sqs.send(new SendMessageBatchCommand({ QueueUrl: options.toQueue, Entries: chunk.map((e, n) => ({ Id: String(n), MessageBody: JSON.stringify(e.envelope) })) }));
      sent += result.Successful?.length ?? 0;
      failed += result.Failed?.length ?? 0;
    }
    return { sent, failed };
  }
  const entries: PutEventsRequestEntry[] = options.events.map((e) => {
    const bus = e.bus ?? options.bus ?? process.env.ANALYTICS_BUS_NAME;
    if (!bus) throw new Error('a line names no bus; pass --bus');
    return { EventBusName: options.bus ?? bus, Source: e.envelope.source, DetailType: e.envelope['detail-type'], Detail: JSON.stringify(e.envelope.detail) };
  });
  for (const batch of toBatches(entries)) {
    const result = await options.eventBridge.send(new PutEventsCommand({ Entries: batch }));
    const rejected = result.Entries?.filter((e) => e.ErrorCode || !e.EventId).length ?? batch.length;
    failed += rejected;
    sent += batch.length - rejected;
  }
  return { sent, failed };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const files: string[] = [];
  const flags: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (['--bus', '--to-queue', '--endpoint', '--region'].includes(arg)) flags.push(arg, argv[++i] ?? '');
    else if (arg.startsWith('--')) flags.push(arg);
    else files.push(arg);
  }
  const args = parseArgs(flags);
  const inputs: Readable[] = files.length > 0 && !(files.length === 1 && files[0] === '-') ? files.map((f) => createReadStream(f)) : [process.stdin];
  const events = (await Promise.all(inputs.map(readUndelivered))).flat();
  if (args['dry-run'] === true) {
    console.log(`${events.length} undelivered event(s) found`);
    for (const e of events) console.log(`  ${e.bus ?? '(no bus)'}  ${e.envelope.source}  ${e.envelope['detail-type']}`);
    return;
  }
  const config = clientOptions(args);
  const result = await replay({
    events,
    ...(typeof args.bus === 'string' ? { bus: args.bus } : {}),
    ...(typeof args['to-queue'] === 'string' ? { toQueue: args['to-queue'] } : {}),
    eventBridge: new EventBridgeClient(config),
    sqs: new SQSClient(config),
  });
  console.log(`replayed ${result.sent} of ${events.length} event(s); ${result.failed} failed`);
  if (result.failed > 0) process.exit(1);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    console.error(String(error));
    process.exit(1);
  });
}
