/**
 * The analytics processor: SQS batches from the analytics queue, each record an EventBridge
 * envelope whose `detail` is an AnalyticsEvent. Per record: validate → enrich → store once
 * (with its aggregates). Records fail independently (ReportBatchItemFailures).
 *
 * - Invalid records (bad JSON, wrong shape) will never succeed: they go straight to the
 *   analytics DLQ with a `failureReason` message attribute and are removed from the queue,
 *   instead of being received maxReceiveCount times. If that send fails, the record is
 *   reported failed and reaches the DLQ through the redrive policy.
 * - Transient failures (DynamoDB throttling, an outage) are reported failed, and their
 *   visibility timeout grows with the receive count (exponential back-off), never shorter
 *   than the queue's own default. On the last receive (the queue's maxReceiveCount) the
 *   processor moves the record to the DLQ itself, marked with `failureReason` and its first
 *   failure's `failedAt` (SQS's own move would add no mark); scripts/redrive.ts or SQS's
 *   StartMessageMoveTask bring it back with its attributes, and an event stored from such a
 *   copy is counted in the DLQ recovery aggregate (shared/analytics/dead-letter.ts).
 * - Duplicates (same content, see shared/analytics/keys.ts) are stored and counted once.
 * - The tenant in an event is trusted only from our own account and sources (tenant.ts);
 *   every event is redacted again here, whoever sent it.
 *
 * The processor emits no analytics of its own (that would feed itself); it logs and
 * writes EMF metrics.
 */
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import * as v from 'valibot';
import { eventIdOf, timeParts } from '../shared/analytics/keys.ts';
import { describeIssues, envelopeSchema } from '../shared/analytics/schema.ts';
import { deadLetterAttributes, deadLetterMarkOf } from '../shared/analytics/dead-letter.ts';
// Also registers the after-response extension during Init (a top-level await there).
import { withAfterResponse } from '../shared/after-response.ts';
import { storeEvents, type Enrichment, type EventToStore, type StoreOutcome } from '../shared/analytics/store.ts';
import { sqs } from '../shared/aws-clients.ts';
import { isRetryableTransactionFailure, isTransient } from '../shared/aws-errors.ts';
import { config } from '../shared/config.ts';
import { countMetrics, log } from '../shared/log.ts';
import { redact } from '../shared/redact.ts';
import { accountOfQueueArn, trustedTenant } from './tenant.ts';

type Outcome = StoreOutcome | 'rejected' | 'deadLettered' | 'failed';

/**
 * Visibility timeout after the n-th failed receive: base * 2^(n-1) seconds (base: the
 * queue's default visibility unless ANALYTICS_RETRY_BASE_SECONDS says otherwise), capped at
 * ANALYTICS_RETRY_MAX_SECONDS (900; SQS allows 12 h), and never shorter than the queue's
 * default: a shorter one would bring a failing event back sooner than a plain failure does,
 * spending its maxReceiveCount receives in a fraction of the time the queue was sized for.
 */
export function retryDelaySeconds(receiveCount: number, queueDefaultSeconds: number, env: NodeJS.ProcessEnv = process.env): number {
  const base = Number(env.ANALYTICS_RETRY_BASE_SECONDS ?? queueDefaultSeconds);
  const max = Math.min(Math.max(Number(env.ANALYTICS_RETRY_MAX_SECONDS ?? 900), queueDefaultSeconds), 43_200);
  return Math.min(max, Math.max(queueDefaultSeconds, Math.round(base * 2 ** Math.max(0, receiveCount - 1))));
}

class InvalidRecord extends Error {}

function parseRecord(record: SQSRecord): v.InferOutput<typeof envelopeSchema> {
  let body: unknown;
  try {
    body = JSON.parse(record.body) as unknown;
  } catch {
    throw new InvalidRecord('the body is not JSON');
  }
  const result = v.safeParse(envelopeSchema, body);
  if (!result.success) throw new InvalidRecord(describeIssues(result.issues));
  return result.output;
}

function enrich(envelope: v.InferOutput<typeof envelopeSchema>, receivedAt: Date, ownAccount: string | undefined): Enrichment {
  const event = envelope.detail;
  // Normalise the timestamp to UTC `...Z` so keys and buckets sort as time does.
  event.detail.timestamp = new Date(event.detail.timestamp).toISOString();
  const { day, hour } = timeParts(event.detail.timestamp);
  return {
    eventId: eventIdOf(event),
    tenant: trustedTenant(envelope, event.detail.metadata.properties, ownAccount),
    receivedAt: receivedAt.toISOString(),
    processingLagMs: Math.max(0, receivedAt.getTime() - Date.parse(event.detail.timestamp)),
    environment: config.environment(),
    day,
    hour: `${day}T${hour}`,
    envelopeId: envelope.id,
  };
}

/**
 * The record's first failure: what an earlier round through the DLQ recorded, else its
 * first receive on this queue (which failed, or it would not be failing now).
 */
function firstFailureOf(record: SQSRecord): string {
  const first = Number(record.attributes.ApproximateFirstReceiveTimestamp);
  return deadLetterMarkOf(record.messageAttributes)?.failedAt ?? new Date(Number.isFinite(first) && first > 0 ? first : Date.now()).toISOString();
}

/** Sends the record to the analytics DLQ, marked (shared/analytics/dead-letter.ts). False when that was not possible. */
async function sendToDeadLetterQueue(record: SQSRecord, reason: string): Promise<boolean> {
  const dlq = config.analyticsFallbackQueueUrl();
  if (!dlq) return false;
  try {
    // SQS is needed only for rejected or retried events: loaded then, not at init.
    const { SendMessageCommand } = await import('@aws-sdk/client-sqs');
    await (await sqs()).send(
      new SendMessageCommand({
        QueueUrl: dlq,
        MessageBody: record.body,
        MessageAttributes: { ...deadLetterAttributes(reason, firstFailureOf(record)), sourceQueueArn: { DataType: 'String', StringValue: record.eventSourceARN } },
      }),
    );
    return true;
  } catch (error) {
    log.error('could not move an event to the DLQ; it will be retried', { messageId: record.messageId, error: String(error) });
    return false;
  }
}

async function reject(record: SQSRecord, reason: string): Promise<Outcome> {
  log.warn('analytics event rejected', { messageId: record.messageId, reason });
  return (await sendToDeadLetterQueue(record, `INVALID_EVENT: ${reason}`)) ? 'rejected' : 'failed';
}

function describeError(error: unknown) {
  return { error: String(error), errorName: (error as Error | undefined)?.name };
}

/**
 * Validates every record, then stores the valid ones in one transaction. When that fails
 * for a reason other than a transient one (say one event DynamoDB will not take), the
 * events are stored one by one, so only the culprit fails; a throttled or unavailable
 * table fails the batch's valid records, for SQS to deliver again.
 */
async function processRecords(records: SQSRecord[], errors: Map<number, unknown>): Promise<Outcome[]> {
  const outcomes: Outcome[] = records.map(() => 'failed');
  const valid: Array<{ index: number; item: EventToStore }> = [];
  const receivedAt = new Date();
  await Promise.all(
    records.map(async (record, index) => {
      try {
        const envelope = parseRecord(record);
        // Emitters redact already; events from other accounts may not have been.
        envelope.detail = redact(envelope.detail, { extraKeys: config.redactFields().split(',').filter(Boolean) });
        const deadLetter = deadLetterMarkOf(record.messageAttributes);
        valid.push({ index, item: { event: envelope.detail, enrichment: enrich(envelope, receivedAt, accountOfQueueArn(record.eventSourceARN)), ...(deadLetter ? { deadLetter } : {}) } });
      } catch (error) {
        errors.set(index, error);
        outcomes[index] = error instanceof InvalidRecord ? await reject(record, error.message) : 'failed';
      }
    }),
  );
  valid.sort((a, b) => a.index - b.index);
  try {
    const stored = await storeEvents(valid.map((v) => v.item));
    valid.forEach((v, i) => (outcomes[v.index] = stored[i]!));
  } catch (error) {
    // Throttled or unavailable: storing the events one by one would send ten times the requests
    // to a partition that is already over its rate (and cost more units per event, since each
    // would update its aggregates alone). The whole batch is retried later instead, and storeEvents
    // has grown the throttled day's shard counts for that retry (shared/analytics/shard-counts.ts).
    if (isTransient(error) || isRetryableTransactionFailure(error)) {
      log.warn('batch transaction failed transiently; the batch will be retried', describeError(error));
      return outcomes;
    }
    log.warn('batch transaction failed; storing events one by one', describeError(error));
    for (const { index, item } of valid) {
      try {
        outcomes[index] = (await storeEvents([item]))[0]!;
      } catch (single) {
        const record = records[index]!;
        log.error('analytics event not stored; will retry', { messageId: record.messageId, receiveCount: record.attributes.ApproximateReceiveCount, ...describeError(single) });
        outcomes[index] = 'failed';
        errors.set(index, single);
      }
    }
  }
  return outcomes;
}

interface SourceQueue {
  url: string;
  /** The queue's default visibility timeout: the floor of our back-off. */
  visibilitySeconds: number;
  /** Its redrive policy's maxReceiveCount: on that receive a failing record is dead-lettered here. */
  maxReceiveCount?: number;
}

const sourceQueues = new Map<string, Promise<SourceQueue>>();

/** The queue behind an SQS ARN (`arn:aws:sqs:<region>:<account>:<name>`): its URL and default visibility, looked up once. */
function sourceQueueOf(arn: string): Promise<SourceQueue> {
  let queue = sourceQueues.get(arn);
  if (!queue) {
    const [, , , , account, name] = arn.split(':');
    queue = Promise.all([sqs(), import('@aws-sdk/client-sqs')]).then(async ([client, { GetQueueUrlCommand, GetQueueAttributesCommand }]) => {
      const { QueueUrl: url } = await client.send(new GetQueueUrlCommand({ QueueName: name, QueueOwnerAWSAccountId: account }));
      if (!url) throw new Error(`no URL for ${arn}`);
      const { Attributes } = await client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['VisibilityTimeout', 'RedrivePolicy'] }));
      const visibilitySeconds = Number(Attributes?.VisibilityTimeout);
      if (!Number.isFinite(visibilitySeconds)) throw new Error(`no visibility timeout for ${arn}`);
      const maxReceiveCount = Attributes?.RedrivePolicy ? Number((JSON.parse(Attributes.RedrivePolicy) as { maxReceiveCount?: unknown }).maxReceiveCount) : NaN;
      return { url, visibilitySeconds, ...(Number.isInteger(maxReceiveCount) && maxReceiveCount > 0 ? { maxReceiveCount } : {}) };
    });
    queue.catch(() => sourceQueues.delete(arn));
    sourceQueues.set(arn, queue);
  }
  return queue;
}

/**
 * Back-off for failed records: hide each for longer the more often it was received, never
 * shorter than the queue's default. Best effort: if it fails, the queue's default applies.
 */
async function delayRetries(records: SQSRecord[]): Promise<void> {
  const byQueue = new Map<string, SQSRecord[]>();
  for (const record of records) byQueue.set(record.eventSourceARN, [...(byQueue.get(record.eventSourceARN) ?? []), record]);
  for (const [arn, queued] of byQueue) {
    try {
      const { url: QueueUrl, visibilitySeconds } = await sourceQueueOf(arn);
      const { ChangeMessageVisibilityBatchCommand } = await import('@aws-sdk/client-sqs');
      for (let i = 0; i < queued.length; i += 10) {
        await (await sqs()).send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl,
            Entries: queued.slice(i, i + 10).map((record, n) => ({
              Id: String(n),
              ReceiptHandle: record.receiptHandle,
              VisibilityTimeout: retryDelaySeconds(Number(record.attributes.ApproximateReceiveCount ?? 1), visibilitySeconds),
            })),
          }),
        );
      }
    } catch (error) {
      log.warn('could not extend the visibility of failed records; the queue default applies', { error: String(error) });
    }
  }
}

/**
 * Records failing on their queue's last receive (maxReceiveCount) go to the DLQ now, marked
 * with why and since when, instead of SQS moving them unmarked; those the DLQ took become
 * `deadLettered` (removed from the queue). Best effort: if the lookup or the send fails,
 * they stay failed and SQS's redrive policy moves them.
 */
async function deadLetterLastReceives(records: SQSRecord[], outcomes: Outcome[], errors: Map<number, unknown>): Promise<void> {
  await Promise.all(
    records.map(async (record, index) => {
      if (outcomes[index] !== 'failed') return;
      const receives = Number(record.attributes.ApproximateReceiveCount ?? 1);
      const maxReceiveCount = await sourceQueueOf(record.eventSourceARN).then(
        (queue) => queue.maxReceiveCount,
        () => undefined,
      );
      if (maxReceiveCount === undefined || receives < maxReceiveCount) return;
      const error = errors.get(index);
      const why = error instanceof InvalidRecord ? `INVALID_EVENT: ${error.message}` : `STORE_FAILED: ${(error as { name?: string } | undefined)?.name ?? 'Error'}`;
      const reason = `${why} (receive ${receives} of maxReceiveCount ${maxReceiveCount})`;
      if (await sendToDeadLetterQueue(record, reason)) outcomes[index] = 'deadLettered';
    }),
  );
}

function emitMetrics(counts: Record<Outcome, number>): void {
  countMetrics(
    {
      AnalyticsEventsStored: counts.stored,
      AnalyticsDuplicatesDropped: counts.duplicate,
      AnalyticsEventsRejected: counts.rejected,
      AnalyticsEventsDeadLettered: counts.deadLettered,
      AnalyticsEventsFailed: counts.failed,
    },
    { Function: 'analytics' },
  );
}

async function consume(event: SQSEvent): Promise<SQSBatchResponse> {
  const errors = new Map<number, unknown>();
  const outcomes = await processRecords(event.Records, errors);
  if (outcomes.includes('failed')) await deadLetterLastReceives(event.Records, outcomes, errors);
  const failed = event.Records.filter((_, i) => outcomes[i] === 'failed');
  if (failed.length > 0) await delayRetries(failed);
  const counts: Record<Outcome, number> = { stored: 0, duplicate: 0, rejected: 0, deadLettered: 0, failed: 0 };
  for (const outcome of outcomes) counts[outcome]++;
  emitMetrics(counts);
  return { batchItemFailures: failed.map((record) => ({ itemIdentifier: record.messageId })) };
}

/** Wrapped like every handler: the registered extension waits for the wrapper's signal after each invocation. */
export const handler = withAfterResponse(consume);
