/**
 * The import worker: consumes the import queue (ReportBatchItemFailures). Each message is
 * one batch of ≤ 98 items of one job, loaded with one BatchGetItem, planned once
 * (./batches.ts), written conditionally in one transaction (see ./writer.ts for conditions
 * and retries) and settled exactly once (settleBatch in ../shared/imports/jobs.ts).
 *
 * Items are written as PUT /items writes them (toItemRecord): an id that exists is replaced,
 * keeping its createdAt, with version + 1; a new id gets version 1. Each write is conditional
 * on the item being what the plan was made from (./writer.ts): an item changed by the API
 * between plan and write is not overwritten but recorded as that item's failure (a conflict),
 * at once, since sending the message again cannot change the outcome.
 *
 * A message whose items could not all be written for another reason is reported as failed
 * and SQS delivers it again (its written items are rewritten identically). On the last receive
 * (ApproximateReceiveCount ≥ the queue's maxReceiveCount) the worker settles the batch with
 * the items that still fail recorded in the job's failures, then reports the message failed
 * once more so that SQS moves it to the DLQ; a batch that cannot even be loaded then is
 * settled from its plan record alone (writtenBefore), so the job still finishes.
 */
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import * as v from 'valibot';
// Also registers the after-response extension during Init (a top-level await there).
import { withAfterResponse } from '../shared/after-response.ts';
import { recordAnalytics } from '../shared/analytics/emitter.ts';
import { IMPORT_EVENTS_SOURCE } from '../shared/events/domain-events.ts';
import { describeError } from '../shared/aws-errors.ts';
import { config } from '../shared/config.ts';
import { publishImportProgress } from '../shared/imports/events.ts';
import { importMaxReceiveCount } from '../shared/imports/limits.ts';
import { ImportMessageSchema, type ImportMessage } from '../shared/imports/messages.ts';
import { toItemRecord } from '../shared/items/item.ts';
import { settleBatch } from '../shared/imports/jobs.ts';
import { log } from '../shared/log.ts';
import { mapBounded } from '../shared/bounded.ts';
import { failureRecords, itemShardsOf, loadBatch, planKeyOf, readPlan, savePlan, type BatchPlan } from './batches.ts';
import { ITEMS_PER_TRANSACTION, writeItems, type PlannedWrite, type WriteOptions, type WriteReport } from './writer.ts';

export type MessageResult =
  | { kind: 'done'; message: ImportMessage; succeeded: number; failed: number; created: number; conflicts: number; chunkComplete: boolean }
  | { kind: 'duplicate'; message: ImportMessage }
  /** Its job was cancelled: acknowledged, nothing written. */
  | { kind: 'cancelled'; message: ImportMessage }
  /** Not settled: retried by SQS. */
  | { kind: 'retry'; message?: ImportMessage; reason: string }
  /** Settled with failures on the last receive: reported failed so it lands in the DLQ. */
  | { kind: 'dead'; message: ImportMessage; succeeded: number; failed: number; created: number; conflicts: number; chunkComplete: boolean };

/**
 * Time a message needs when DynamoDB is slow but answering (load, plan, write, settle, each
 * possibly retried): a message is not started with less left (IMPORT_MESSAGE_RESERVE_MS,
 * default 5 s of the function's 60), so the function never times out half-way through its last-receive handling
 * (Lambda would then fail the whole batch, and on the last receive send it to the DLQ
 * unsettled). A message not started is reported failed: SQS delivers it again.
 */
export function messageReserveMs(): number {
  const value = Number(process.env.IMPORT_MESSAGE_RESERVE_MS ?? 5_000);
  return Number.isFinite(value) && value >= 0 ? value : 5_000;
}

function workerConcurrency(): number {
  const value = Number(process.env.IMPORT_WORKER_CONCURRENCY ?? 4);
  return Number.isInteger(value) && value > 0 ? value : 4;
}

export async function processRecord(record: SQSRecord): Promise<MessageResult> {
  let message: ImportMessage;
  try {
    message = v.parse(ImportMessageSchema, JSON.parse(record.body));
  } catch (error) {
    log.error('unreadable import message', { messageId: record.messageId, error: String(error) });
    return { kind: 'retry', reason: 'unreadable message' };
  }
  const receiveCount = Number(record.attributes?.ApproximateReceiveCount ?? 1);
  const lastReceive = receiveCount >= importMaxReceiveCount();

  let attempt: Attempt;
  try {
    attempt = await planAndWrite(message);
  } catch (error) {
    if (!lastReceive) throw error;
    // The last receive, and DynamoDB would not let us read or write: settle with what the
    // plan record says was written and the rest as failures, so that the job still finishes.
    log.warn('import batch could not be loaded or written on its last receive; settling it with what was written', { importId: message.importId, batchId: message.batchId, error: String(error) });
    attempt = await writtenBefore(message, describeError(error));
  }
  if ('settled' in attempt) return { kind: attempt.cancelled ? 'cancelled' : 'duplicate', message };
  const { plan, report } = attempt;
  if (report.failures.some((failure) => !failure.conflict) && !lastReceive) {
    log.warn('import batch not fully written; SQS will deliver it again', {
      importId: message.importId,
      batchId: message.batchId,
      receiveCount,
      failures: report.failures.slice(0, 3),
    });
    return { kind: 'retry', message, reason: report.failures[0]!.reason };
  }
  const failedIds = new Set(report.failures.map((failure) => failure.id));
  const written = message.items.filter((item) => !failedIds.has(item.id));
  const created = written.filter((item) => plan.items[item.id]?.isNew !== false).length;
  const settled = await settleBatch(message, { succeeded: written.length, failed: report.failures.length, created }, failureRecords(message, report.failures));
  if (settled.outcome === 'duplicate') return { kind: 'duplicate', message };
  const counts = { succeeded: written.length, failed: report.failures.length, created, conflicts: report.conflicts, chunkComplete: settled.chunkComplete };
  if (report.failures.some((failure) => !failure.conflict)) {
    log.error('import items failed on the last receive; recorded in the job, message goes to the DLQ', { importId: message.importId, batchId: message.batchId, failures: report.failures });
    return { kind: 'dead', message, ...counts };
  }
  return { kind: 'done', message, ...counts };
}

type Attempt = { settled: true; cancelled?: boolean } | { plan: BatchPlan; report: WriteReport };

/** Loads the batch, plans it (once, whichever delivery is first) and writes what an earlier delivery did not. */
async function planAndWrite(message: ImportMessage): Promise<Attempt> {
  const state = await loadBatch(message);
  if (state.settled) return state;
  const plan: BatchPlan = state.planIsNew ? await savePlan(message, state.plan) : state.plan;
  const shards = await itemShardsOf(message);
  // Items an earlier delivery wrote are not written again: they count as written, whatever happened to them since.
  const writes = message.items
    .filter((item) => !state.writtenIds.has(item.id))
    .map((item): PlannedWrite => {
      const planned = plan.items[item.id] ?? { version: 1, createdAt: plan.at, isNew: true };
      const stored = { collection: message.collection, id: item.id, data: item.data, version: planned.version, createdAt: planned.createdAt, updatedAt: plan.at };
      const record = toItemRecord(message.tenant, stored, shards);
      return { record, ...(planned.isNew ? {} : { basedOn: planned.version - 1 }) };
    });
  return { plan, report: await writeInParallel(writes, { tableName: config.dataTable(), planKey: planKeyOf(message) }) };
}

/**
 * What the batch's deliveries wrote, from its plan record (one GetItem: writes happen only
 * after a plan is stored, and each records its ids there in the same transaction); every
 * other item is a failure with `reason`. Throws when even that cannot be read: the message
 * then reaches the DLQ unsettled, and a redrive finishes it.
 */
async function writtenBefore(message: ImportMessage, reason: string): Promise<Attempt> {
  const stored = await readPlan(message);
  const writtenIds = stored?.writtenIds ?? new Set<string>();
  const failures = message.items
    .filter((item) => !writtenIds.has(item.id))
    .map((item) => ({ id: item.id, reason: `not written after ${importMaxReceiveCount()} receives: ${reason}`, permanent: false, conflict: false }));
  return { plan: stored?.plan ?? { at: new Date().toISOString(), items: {} }, report: { failures, conflicts: 0, isolated: false } };
}

/** Writes a message's records in transactions of ≤ 100 items (one: a message holds ≤ 98); one report for the whole message. */
async function writeInParallel(writes: readonly PlannedWrite[], options: WriteOptions): Promise<WriteReport> {
  const groups: PlannedWrite[][] = [];
  for (let i = 0; i < writes.length; i += ITEMS_PER_TRANSACTION) groups.push(writes.slice(i, i + ITEMS_PER_TRANSACTION));
  const reports = await Promise.all(groups.map((group) => writeItems(group, options)));
  return {
    failures: reports.flatMap((report) => report.failures),
    conflicts: reports.reduce((n, report) => n + report.conflicts, 0),
    isolated: reports.some((report) => report.isolated),
  };
}

async function consume(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  const started = performance.now();
  const failures: string[] = [];
  const results = await mapBounded(event.Records, workerConcurrency(), async (record): Promise<MessageResult> => {
    if (context.getRemainingTimeInMillis() < messageReserveMs()) {
      failures.push(record.messageId);
      return { kind: 'retry', reason: 'not started: too little time left in this invocation' };
    }
    try {
      const result = await processRecord(record);
      if (result.kind === 'retry' || result.kind === 'dead') failures.push(record.messageId);
      return result;
    } catch (error) {
      log.error('import message failed', { messageId: record.messageId, error: String(error), stack: (error as Error).stack });
      failures.push(record.messageId);
      return { kind: 'retry', reason: String(error) } as MessageResult;
    }
  });
  reportProgress(results, context, performance.now() - started);
  return { batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })) };
}

/**
 * Per job touched by this invocation: one progress event on the application bus (the event
 * processor finishes the job when a chunk completed) and one IMPORT analytics event.
 */
function reportProgress(results: MessageResult[], context: Context, durationMs: number): void {
  const byJob = new Map<
    string,
    { message: ImportMessage; batches: number; duplicates: number; retries: number; succeeded: number; failed: number; created: number; conflicts: number; chunksCompleted: number }
  >();
  for (const result of results) {
    if (!result.message) continue;
    const key = `${result.message.tenant}/${result.message.importId}`;
    const entry = byJob.get(key) ?? { message: result.message, batches: 0, duplicates: 0, retries: 0, succeeded: 0, failed: 0, created: 0, conflicts: 0, chunksCompleted: 0 };
    if (result.kind === 'duplicate' || result.kind === 'cancelled') entry.duplicates++;
    else if (result.kind === 'retry') entry.retries++;
    else {
      entry.batches++;
      entry.succeeded += result.succeeded;
      entry.failed += result.failed;
      entry.created += result.created;
      entry.conflicts += result.conflicts;
      if (result.chunkComplete) entry.chunksCompleted++;
    }
    byJob.set(key, entry);
  }
  for (const entry of byJob.values()) {
    const { message, ...counts } = entry;
    if (counts.batches > 0) {
      publishImportProgress({
        tenant: message.tenant,
        collection: message.collection,
        importId: message.importId,
        batches: counts.batches,
        succeeded: counts.succeeded,
        failed: counts.failed,
        created: counts.created,
        chunksCompleted: counts.chunksCompleted,
        at: new Date().toISOString(),
      });
    }
    recordAnalytics({
      type: 'IMPORT_BATCH',
      action: 'IMPORT',
      category: 'SYSTEM_EVENT',
      source: IMPORT_EVENTS_SOURCE,
      status: counts.failed > 0 || counts.retries > 0 ? 'FAILURE' : 'SUCCESS',
      ...(counts.failed > 0 || counts.retries > 0 ? { errorType: 'IMPORT_WRITE_FAILED' } : {}),
      durationMs,
      requestId: context.awsRequestId,
      context,
      properties: { importId: message.importId, tenant: message.tenant, collection: message.collection, items: counts.succeeded + counts.failed, ...counts },
    });
  }
}

export const handler = withAfterResponse(consume);
