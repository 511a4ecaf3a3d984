/**
 * Delivers events to an EventBridge bus after the response, in PutEvents-sized batches,
 * retrying throttled or failed entries with exponential back-off and jitter. What still
 * cannot be delivered goes to a fallback queue (the DLQ of the queue the event would have
 * reached, in the same envelope EventBridge writes, so redrive feeds it to the consumer);
 * if even that fails, to the log as an `UNDELIVERED_EVENT` line that scripts/replay-log
 * re-ingests. Either way it is counted, and the caller's response never changes.
 */
import { PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import { afterResponse } from '../after-response.ts';
import { eventBridge, sqs } from '../aws-clients.ts';
import { countMetric, log } from '../log.ts';

/** PutEvents takes 10 entries a call. */
export const MAX_ENTRIES_PER_CALL = 10;
/** Entries and requests may carry up to 1 MB since January 2026 (was 256 KB). */
export const MAX_REQUEST_BYTES = 1024 * 1024;

export interface OutgoingEvent {
  source: string;
  detailType: string;
  detail: unknown;
  /** The X-Ray trace header, so the trace follows the event. */
  traceHeader?: string;
}

export interface PublisherOptions {
  busName: () => string;
  fallbackQueueUrl: () => string | undefined;
  maxAttempts?: number;
  baseDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface DeliveryReport {
  delivered: number;
  retried: number;
  toFallbackQueue: number;
  toLog: number;
}

/** Size as EventBridge counts it (Time is 14 bytes; we never set Resources). */
export function entrySize(entry: PutEventsRequestEntry): number {
  return 14 + Buffer.byteLength(entry.Source ?? '') + Buffer.byteLength(entry.DetailType ?? '') + Buffer.byteLength(entry.Detail ?? '');
}

/** Splits entries into PutEvents calls: at most 10 entries and 1 MB each. */
export function toBatches(entries: PutEventsRequestEntry[]): PutEventsRequestEntry[][] {
  const batches: PutEventsRequestEntry[][] = [];
  let current: PutEventsRequestEntry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = entrySize(entry);
    if (current.length > 0 && (current.length === MAX_ENTRIES_PER_CALL || bytes + size > MAX_REQUEST_BYTES)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** Full-jitter exponential back-off: random in [0, base * 2^attempt]. */
export function backoffDelay(attempt: number, baseDelayMs: number, random: () => number = Math.random): number {
  return Math.floor(random() * baseDelayMs * 2 ** attempt);
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class EventPublisher {
  private buffer: PutEventsRequestEntry[] = [];
  private flushScheduled = false;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: PublisherOptions) {
    this.maxAttempts = options.maxAttempts ?? 4;
    this.baseDelayMs = options.baseDelayMs ?? 50;
    this.sleep = options.sleep ?? defaultSleep;
  }

  /** Buffers an event; it is delivered after the response. */
  publish(event: OutgoingEvent): void {
    this.buffer.push({
      EventBusName: this.options.busName(),
      Source: event.source,
      DetailType: event.detailType,
      Detail: JSON.stringify(event.detail),
      ...(event.traceHeader ? { TraceHeader: event.traceHeader } : {}),
    });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      afterResponse(async () => {
        this.flushScheduled = false;
        await this.flush();
      });
    }
  }

  /** Events buffered and not yet handed to delivery. */
  get pending(): number {
    return this.buffer.length;
  }

  async flush(): Promise<DeliveryReport> {
    const entries = this.buffer.splice(0, this.buffer.length);
    const report: DeliveryReport = { delivered: 0, retried: 0, toFallbackQueue: 0, toLog: 0 };
    if (entries.length === 0) return report;

    let remaining = entries;
    for (let attempt = 0; attempt < this.maxAttempts && remaining.length > 0; attempt++) {
      if (attempt > 0) {
        report.retried += remaining.length;
        await this.sleep(backoffDelay(attempt, this.baseDelayMs));
      }
      const failed: PutEventsRequestEntry[] = [];
      await Promise.all(
        toBatches(remaining).map(async (batch) => {
          try {
            const result = await eventBridge().send(new PutEventsCommand({ Entries: batch }));
            // Entries come back in request order; an entry with an ErrorCode was not accepted.
            batch.forEach((entry, index) => {
              if (result.Entries?.[index]?.ErrorCode || !result.Entries?.[index]?.EventId) failed.push(entry);
              else report.delivered++;
            });
          } catch (error) {
            log.warn('PutEvents failed', { error: String(error), entries: batch.length, attempt });
            failed.push(...batch);
          }
        }),
      );
      remaining = failed;
    }
    if (remaining.length > 0) await this.fallBack(remaining, report);
    return report;
  }

  private async fallBack(entries: PutEventsRequestEntry[], report: DeliveryReport): Promise<void> {
    const queueUrl = this.options.fallbackQueueUrl();
    let undelivered = entries;
    if (queueUrl) {
      undelivered = [];
      for (let i = 0; i < entries.length; i += 10) {
        const chunk = entries.slice(i, i + 10);
        try {
          const result = await sqs().send(
            new SendMessageBatchCommand({
              QueueUrl: queueUrl,
              Entries: chunk.map((entry, index) => ({ Id: String(index), MessageBody: JSON.stringify(toEnvelope(entry)) })),
            }),
          );
          for (const failure of result.Failed ?? []) undelivered.push(chunk[Number(failure.Id)]!);
          report.toFallbackQueue += chunk.length - (result.Failed?.length ?? 0);
        } catch (error) {
          log.warn('fallback queue unavailable', { error: String(error) });
          undelivered.push(...chunk);
        }
      }
    }
    for (const entry of undelivered) {
      // One line per event, in the envelope EventBridge would have delivered: replayable.
      log.error('UNDELIVERED_EVENT', { envelope: toEnvelope(entry) });
      report.toLog++;
    }
    countMetric('UndeliveredEvents', entries.length, { EventBus: this.options.busName() });
  }
}

/** The envelope EventBridge writes to an SQS target, so a fallback message looks like a delivery. */
export function toEnvelope(entry: PutEventsRequestEntry): Record<string, unknown> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': entry.DetailType,
    source: entry.Source,
    account: process.env.AWS_ACCOUNT_ID ?? '000000000000',
    time: new Date().toISOString(),
    region: process.env.AWS_REGION ?? 'us-east-1',
    resources: [],
    detail: JSON.parse(entry.Detail ?? '{}') as unknown,
  };
}
