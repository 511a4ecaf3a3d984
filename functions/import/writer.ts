/**
 * BatchWriteItem with the retries AWS asks for: UnprocessedItems are sent again with
 * back-off (../shared/retry.ts). A batch DynamoDB refuses outright (ValidationException:
 * one item it cannot store) is written item by item, so one poison item does not keep its
 * batch-mates out. A call that still fails after the SDK's own retries (throttled,
 * unavailable) is not retried here: its items come back as transient failures and SQS
 * delivers the message again. Returns the items that could not be written, with a reason each.
 */
import { BatchWriteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { dynamo } from '../shared/aws-clients.ts';
import { isTransient } from '../shared/aws-errors.ts';
import { RETRY_POLICIES, sendUntilProcessed } from '../shared/retry.ts';

export interface WriteOptions {
  tableName: string;
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

/** Any item record: only its `id` is read here. */
type Record_ = { id: string };

export async function writeItems(records: readonly Record_[], options: WriteOptions): Promise<WriteReport> {
  const report: WriteReport = { failures: [], unprocessedRetries: 0, isolated: false };
  const policy = RETRY_POLICIES.batchRemainder;
  const left = await sendUntilProcessed(
    policy,
    records,
    async (pending) => {
      try {
        const result = await dynamo().send(
          new BatchWriteCommand({ RequestItems: { [options.tableName]: pending.map((Item) => ({ PutRequest: { Item } })) } }),
        );
        const unprocessed = new Set((result.UnprocessedItems?.[options.tableName] ?? []).map((request) => String(request.PutRequest?.Item?.id)));
        const next = pending.filter((record) => unprocessed.has(record.id));
        report.unprocessedRetries += next.length;
        return next;
      } catch (error) {
        if (isTransient(error)) {
          for (const record of pending) report.failures.push({ id: record.id, reason: `still failing after the SDK's retries: ${describe(error)}`, permanent: false });
        } else {
          // DynamoDB refused the whole request: find the item(s) at fault by writing one by one.
          report.isolated = true;
          report.failures.push(...(await writeOneByOne(pending, options.tableName)));
        }
        return [];
      }
    },
    options.sleep,
  );
  for (const record of left) report.failures.push({ id: record.id, reason: `still unprocessed after ${policy.attempts} attempts`, permanent: false });
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
