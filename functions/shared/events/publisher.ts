/**
 * Delivers events to an EventBridge bus after the response, in PutEvents-sized batches,
 * retrying throttled or failed entries with exponential back-off and jitter. What still
 * cannot be delivered goes to a fallback queue (the DLQ of the queue the event would have
 * reached, in the same envelope EventBridge writes, so redrive feeds it to the consumer);
 * if even that fails, to the log as an `UNDELIVERED_EVENT` line that scripts/replay-log
 * re-ingests. Either way it is counted, and the caller's response never changes.
 *
 * Delivery runs after the response but still inside the invocation (billed, and counted
 * toward the function timeout), so it has a budget: every PutEvents call has a timeout and
 * the whole flush a deadline, after which what is left goes straight to the fallback. The
 * deadline never passes the invocation's own (given by the after-response drain): what
 * the fallback queue cannot take before that goes to the log.
 */
import { PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { randomUUID } from 'node:crypto';
import { afterResponse } from '../after-response.ts';
import { deadLetterAttributes, DELIVERY_FAILED_PREFIX } from '../analytics/dead-letter.ts';
import { eventBridge, sqs } from '../aws-clients.ts';
import { countMetric, log } from '../log.ts';
import { backoffDelay, RETRY_POLICIES, sleep as realSleep } from '../retry.ts';

/** PutEvents takes 10 entries a call. */
export const MAX_ENTRIES_PER_CALL = 10;
/** Entries and requests may carry up to 1 MB since January 2026 (was 256 KB). */
export const MAX_REQUEST_BYTES = 1024 * 1024;
/** One entry may be as large as a whole request. */
export const MAX_ENTRY_BYTES = MAX_REQUEST_BYTES;

/** Of the invocation's remaining time, what PutEvents rounds leave to the fallback queue. */
export const FALLBACK_RESERVE_MS = 500;

/** The log line's message for an event nothing else would take; scripts/replay-log.ts looks for it. */
export const UNDELIVERED_EVENT = 'UNDELIVERED_EVENT';

export interface OutgoingEvent {
  source: string;
  detailType: string;
  detail: unknown;
}

export interface PublisherOptions {
  busName: () => string;
  fallbackQueueUrl: () => string | undefined;
  /** PutEvents rounds, the first included. Default: RETRY_POLICIES.eventDelivery (4). */
  maxAttempts?: number;
  /** Back-off base; round n waits a random time in [0, base * 2^n] (capped by the policy). Default 50 ms. */
  baseDelayMs?: number;
  /** Each PutEvents call is abandoned after this long (and retried). Default 1,500 ms. */
  callTimeoutMs?: number;
  /** No new PutEvents round starts after this long; what is left goes to the fallback. Default 3,000 ms. */
  flushBudgetMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export interface DeliveryReport {
  delivered: number;
  /** Entry re-sends (an entry retried twice counts twice). */
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

/** Per-entry error codes that will fail the same way however often they are retried. */
const PERMANENT_ENTRY_ERRORS = new Set(['MalformedDetail', 'InvalidArgument', 'ValidationException', 'AccessDeniedException', 'NotAuthorizedForSourceException', 'ResourceNotFoundException']);

export function isRetryableEntryError(code: string): boolean {
  return !PERMANENT_ENTRY_ERRORS.has(code);
}

/** A whole PutEvents call that failed this way will not succeed on retry (missing bus, no permission, bad request). */
export function isRetryableCallError(error: unknown): boolean {
  const name = (error as { name?: string } | undefined)?.name ?? '';
  return !PERMANENT_ENTRY_ERRORS.has(name) && name !== 'UnrecognizedClientException';
}

interface Failed {
  entry: PutEventsRequestEntry;
  reason: string;
}

export class EventPublisher {
  private buffer: PutEventsRequestEntry[] = [];
  private flushScheduled = false;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly callTimeoutMs: number;
  private readonly flushBudgetMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(private readonly options: PublisherOptions) {
    this.maxAttempts = options.maxAttempts ?? RETRY_POLICIES.eventDelivery.attempts;
    this.baseDelayMs = options.baseDelayMs ?? RETRY_POLICIES.eventDelivery.baseDelayMs;
    this.callTimeoutMs = options.callTimeoutMs ?? 1500;
    this.flushBudgetMs = options.flushBudgetMs ?? 3000;
    this.sleep = options.sleep ?? realSleep;
    this.random = options.random ?? Math.random;
  }

  /** Buffers an event; it is delivered after the response. */
  publish(event: OutgoingEvent): void {
    this.buffer.push({
      EventBusName: this.options.busName(),
      Source: event.source,
      DetailType: event.detailType,
      Detail: JSON.stringify(event.detail),
    });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      afterResponse(async (invocationDeadline) => {
        this.flushScheduled = false;
        await this.flush(invocationDeadline);
      });
    }
  }

  /** Events buffered and not yet handed to delivery. */
  get pending(): number {
    return this.buffer.length;
  }

  /**
   * Delivers everything buffered; never rejects. `invocationDeadline` (epoch ms): when the
   * invocation must be done; PutEvents stops FALLBACK_RESERVE_MS before it.
   */
  async flush(invocationDeadline = Infinity): Promise<DeliveryReport> {
    const entries = this.buffer.splice(0, this.buffer.length);
    const report: DeliveryReport = { delivered: 0, retried: 0, toFallbackQueue: 0, toLog: 0 };
    if (entries.length === 0) return report;
    // The first attempt: for an event that fails, its first failure (to within one call).
    const firstAttemptAt = new Date().toISOString();
    const deadline = Math.min(Date.now() + this.flushBudgetMs, invocationDeadline - FALLBACK_RESERVE_MS);

    const givenUp: Failed[] = [];
    let remaining: Failed[] = [];
    for (const entry of entries) {
      // An entry PutEvents would reject for its size never gets a call.
      if (entrySize(entry) > MAX_ENTRY_BYTES) givenUp.push({ entry, reason: 'EntryTooLarge' });
      else remaining.push({ entry, reason: '' });
    }
    for (let attempt = 0; attempt < this.maxAttempts && remaining.length > 0 && Date.now() < deadline; attempt++) {
      if (attempt > 0) {
        const delay = backoffDelay(attempt, this.baseDelayMs, this.random, RETRY_POLICIES.eventDelivery.maxDelayMs);
        if (Date.now() + delay >= deadline) break;
        report.retried += remaining.length;
        await this.sleep(delay);
      }
      const retry: Failed[] = [];
      await Promise.all(
        toBatches(remaining.map((f) => f.entry)).map(async (batch) => {
          try {
            const timeout = Math.max(1, Math.min(this.callTimeoutMs, deadline - Date.now()));
            const result = await eventBridge().send(new PutEventsCommand({ Entries: batch }), { abortSignal: AbortSignal.timeout(timeout) });
            // Entries come back in request order; an entry with an ErrorCode was not accepted.
            batch.forEach((entry, index) => {
              const outcome = result.Entries?.[index];
              if (outcome?.EventId && !outcome.ErrorCode) {
                report.delivered++;
                return;
              }
              const code = outcome?.ErrorCode ?? 'NoEventId';
              (isRetryableEntryError(code) ? retry : givenUp).push({ entry, reason: code });
            });
          } catch (error) {
            const name = (error as { name?: string } | undefined)?.name ?? 'Error';
            log.warn('PutEvents failed', { error: String(error), entries: batch.length, attempt });
            for (const entry of batch) (isRetryableCallError(error) ? retry : givenUp).push({ entry, reason: name });
          }
        }),
      );
      remaining = retry;
    }
    const undelivered = [...givenUp, ...remaining];
    if (undelivered.length > 0) await this.fallBack(undelivered, report, invocationDeadline, firstAttemptAt);
    return report;
  }

  private async fallBack(failures: Failed[], report: DeliveryReport, invocationDeadline: number, firstAttemptAt: string): Promise<void> {
    const queueUrl = this.options.fallbackQueueUrl();
    // Our account, as EventBridge would have written it: the analytics processor believes a
    // tenant only in its own account's events. The queue's URL names its owner, which is us.
    const account = accountOfQueueUrl(queueUrl);
    let undelivered = failures;
    if (queueUrl) {
      undelivered = [];
      for (let i = 0; i < failures.length; i += 10) {
        const chunk = failures.slice(i, i + 10);
        const timeLeft = Math.min(this.callTimeoutMs, invocationDeadline - Date.now());
        if (timeLeft <= 0) {
          undelivered.push(...chunk);
          continue;
        }
        try {
          const { SendMessageBatchCommand } = await import('@aws-sdk/client-sqs');
          const result = await (await sqs()).send(
            new SendMessageBatchCommand({
              QueueUrl: queueUrl,
              Entries: chunk.map((failure, index) => ({
                Id: String(index),
                MessageBody: JSON.stringify(toEnvelope(failure.entry, account)),
                // Kept by a redrive: the processor counts the event as recovered from the DLQ.
                MessageAttributes: deadLetterAttributes(`${DELIVERY_FAILED_PREFIX}${failure.reason}`, firstAttemptAt),
              })),
            }),
            { abortSignal: AbortSignal.timeout(timeLeft) },
          );
          for (const failed of result.Failed ?? []) undelivered.push(chunk[Number(failed.Id)]!);
          report.toFallbackQueue += chunk.length - (result.Failed?.length ?? 0);
        } catch (error) {
          log.warn('fallback queue unavailable', { error: String(error) });
          undelivered.push(...chunk);
        }
      }
    }
    for (const failure of undelivered) {
      // One line per event, in the envelope EventBridge would have delivered: replayable.
      log.error(UNDELIVERED_EVENT, { bus: failure.entry.EventBusName, reason: failure.reason, envelope: toEnvelope(failure.entry, account) });
      report.toLog++;
    }
    countMetric('UndeliveredEvents', failures.length, { EventBus: this.options.busName() });
    if (report.toLog > 0) countMetric('LostToLogEvents', report.toLog, { EventBus: this.options.busName() });
  }
}

/** `https://sqs.<region>.amazonaws.com/<account>/<name>` → the account; undefined when the URL names none. */
export function accountOfQueueUrl(queueUrl: string | undefined): string | undefined {
  return queueUrl?.match(/^[a-z]+:\/\/[^/]+\/(\d{12})\//)?.[1];
}

/**
 * The envelope EventBridge writes to an SQS target, so a fallback message looks like a
 * delivery. `account` is our account as the fallback queue's URL names it (Lambda sets no
 * variable with it); without a queue there is none to name, and the field is left out
 * rather than invented.
 */
export function toEnvelope(entry: PutEventsRequestEntry, account: string | undefined): Record<string, unknown> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': entry.DetailType,
    source: entry.Source,
    ...(account ? { account } : {}),
    time: new Date().toISOString(),
    region: process.env.AWS_REGION ?? 'us-east-1',
    resources: [],
    detail: JSON.parse(entry.Detail ?? '{}') as unknown,
  };
}
