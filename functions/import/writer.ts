/**
 * BatchWriteItem with the retries AWS asks for: UnprocessedItems are sent again with
 * full-jitter exponential back-off. A batch DynamoDB refuses outright (ValidationException:
 * one item it cannot store) is written item by item, so one poison item does not keep its
 * batch-mates out. Returns the items that could not be written, with a reason each.
 */
import { BatchWriteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { dynamo } from '../shared/aws-clients.ts';
import { backoffDelay } from '../shared/events/publisher.ts';

export interface WriteOptions {
  tableName: string;
  attempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface WriteFailure {
  /** The item's `id` attribute. */
  id: string;
  reason: string;
  /** False for throttling/unavailability: the same write may well succeed later. */
  permanent: boolean;
}

export interface WriteReport {
  failures: WriteFailure[];
  /** Items sent again because DynamoDB returned them as UnprocessedItems. */
  unprocessedRetries: number;
  /** True when the batch had to be written item by item. */
  isolated: boolean;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const TRANSIENT = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TimeoutError',
  'ECONNRESET',
  'ECONNREFUSED',
]);

export function isTransient(error: unknown): boolean {
  const e = error as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  return TRANSIENT.has(e.name ?? '') || TRANSIENT.has(e.code ?? '') || (e.$metadata?.httpStatusCode ?? 0) >= 500;
}

/** Any item record: only its `id` is read here. */
type Record_ = { id: string };

export async function writeItems(records: readonly Record_[], options: WriteOptions): Promise<WriteReport> {
  const attempts = options.attempts ?? 8;
  const baseDelayMs = options.baseDelayMs ?? 50;
  const maxDelayMs = options.maxDelayMs ?? 3000;
  const sleep = options.sleep ?? defaultSleep;
  const report: WriteReport = { failures: [], unprocessedRetries: 0, isolated: false };
  let pending: Record_[] = [...records];
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts && pending.length > 0; attempt++) {
    if (attempt > 0) await sleep(Math.min(maxDelayMs, backoffDelay(attempt, baseDelayMs)));
    try {
      const result = await dynamo().send(
        new BatchWriteCommand({ RequestItems: { [options.tableName]: pending.map((Item) => ({ PutRequest: { Item } })) } }),
      );
      const unprocessed = result.UnprocessedItems?.[options.tableName] ?? [];
      const left = new Set(unprocessed.map((request) => String(request.PutRequest?.Item?.id)));
      pending = pending.filter((record) => left.has(record.id));
      report.unprocessedRetries += pending.length;
    } catch (error) {
      lastError = error;
      if (isTransient(error)) continue;
      // DynamoDB refused the whole request: find the item(s) at fault by writing one by one.
      report.isolated = true;
      report.failures.push(...(await writeOneByOne(pending, options.tableName)));
      pending = [];
    }
  }
  const reason = lastError ? `still failing after ${attempts} attempts: ${describe(lastError)}` : `still unprocessed after ${attempts} attempts`;
  for (const record of pending) report.failures.push({ id: record.id, reason, permanent: false });
  return report;
}

async function writeOneByOne(records: readonly Record_[], tableName: string): Promise<WriteFailure[]> {
  const results = await Promise.all(
    records.map(async (record): Promise<WriteFailure | undefined> => {
      try {
        await dynamo().send(new PutCommand({ TableName: tableName, Item: record }));
        return undefined;
      } catch (error) {
        return { id: record.id, reason: describe(error), permanent: !isTransient(error) };
      }
    }),
  );
  return results.filter((failure): failure is WriteFailure => failure !== undefined);
}

function describe(error: unknown): string {
  const e = error as { name?: string; message?: string };
  return `${e.name ?? 'Error'}: ${e.message ?? String(error)}`.slice(0, 500);
}
