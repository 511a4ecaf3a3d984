/**
 * The app-events queue's consumer, the router of application events: the app bus's rule
 * delivers EventBridge envelopes to the app-events queue, and each is routed by source and
 * detail-type:
 *
 * - event-flows.items ItemCreated / ItemUpdated / ItemDeleted → the collection's lastWriteAt
 *   (the item count changes in the write's own transaction, see ../shared/items/repository.ts,
 *   so copies of an event or a lost event cannot skew it);
 * - event-flows.imports ImportProgress → finish the job when its last batch is done;
 * - anything else is acknowledged and logged (a new event type must not clog the queue).
 *
 * Only the records that failed are reported (ReportBatchItemFailures); SQS retries them and
 * moves them to the DLQ after maxReceiveCount receives. One SYSTEM_EVENT analytics event
 * per invocation describes the background work done.
 */
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import * as v from 'valibot';
// Also registers the after-response extension during Init (a top-level await there).
import { withAfterResponse } from '../shared/after-response.ts';
import { recordAnalytics } from '../shared/analytics/emitter.ts';
import { IMPORT_EVENTS_SOURCE, ITEM_EVENTS_SOURCE } from '../shared/events/domain-events.ts';
import { completeIfDone } from '../shared/imports/complete.ts';
import { IMPORT_COMPLETED, IMPORT_PROGRESS } from '../shared/imports/events.ts';
import { advanceLastWriteAt } from '../shared/items/stats.ts';
import { log } from '../shared/log.ts';

const Envelope = v.object({
  id: v.string(),
  source: v.string(),
  'detail-type': v.string(),
  detail: v.record(v.string(), v.unknown()),
});
type Envelope = v.InferOutput<typeof Envelope>;

const ItemDetail = v.object({ tenant: v.string(), collection: v.string(), id: v.string(), at: v.string() });
const ProgressDetail = v.object({ tenant: v.string(), importId: v.string(), chunksCompleted: v.optional(v.number(), 1) });

export type Outcome = 'applied' | 'duplicate' | 'ignored';

const ITEM_EVENTS = new Set(['ItemCreated', 'ItemUpdated', 'ItemDeleted']);

export async function routeEnvelope(envelope: Envelope, context: Context): Promise<Outcome> {
  if (envelope.source === ITEM_EVENTS_SOURCE && ITEM_EVENTS.has(envelope['detail-type'])) {
    const detail = v.parse(ItemDetail, envelope.detail);
    await advanceLastWriteAt(detail.tenant, detail.collection, detail.at);
    return 'applied';
  }
  if (envelope.source === IMPORT_EVENTS_SOURCE && envelope['detail-type'] === IMPORT_PROGRESS) {
    const detail = v.parse(ProgressDetail, envelope.detail);
    // Only a chunk's last batch can be the job's last: otherwise there is no need to look at the job.
    if (detail.chunksCompleted === 0) return 'ignored';
    await completeIfDone(detail.tenant, detail.importId, context);
    return 'applied';
  }
  if (envelope.source === IMPORT_EVENTS_SOURCE && envelope['detail-type'] === IMPORT_COMPLETED) return 'ignored';
  log.warn('unrouted application event', { source: envelope.source, detailType: envelope['detail-type'], id: envelope.id });
  return 'ignored';
}

function parseRecord(record: SQSRecord): Envelope {
  return v.parse(Envelope, JSON.parse(record.body));
}

async function consume(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  const started = performance.now();
  const failures: string[] = [];
  const counts: Record<string, number> = {};
  // Few records (batch size 10) and independent: all at once.
  await Promise.all(
    event.Records.map(async (record) => {
      let key = 'unparsable';
      try {
        const envelope = parseRecord(record);
        key = `${envelope['detail-type']}`;
        const outcome = await routeEnvelope(envelope, context);
        counts[`${key}:${outcome}`] = (counts[`${key}:${outcome}`] ?? 0) + 1;
      } catch (error) {
        counts[`${key}:failed`] = (counts[`${key}:failed`] ?? 0) + 1;
        log.error('application event failed', { messageId: record.messageId, receiveCount: record.attributes?.ApproximateReceiveCount, error: String(error) });
        failures.push(record.messageId);
      }
    }),
  );
  recordAnalytics({
    type: 'APP_EVENTS_PROCESSED',
    action: 'PROCESS',
    category: 'SYSTEM_EVENT',
    source: 'event-flows.app-events',
    status: failures.length === 0 ? 'SUCCESS' : 'FAILURE',
    ...(failures.length > 0 ? { errorType: 'INTERNAL_ERROR' } : {}),
    durationMs: performance.now() - started,
    requestId: context.awsRequestId,
    context,
    properties: { records: event.Records.length, failed: failures.length, outcomes: counts },
  });
  return { batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })) };
}

export const handler = withAfterResponse(consume);
