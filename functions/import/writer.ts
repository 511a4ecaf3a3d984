/**
 * Writes an import batch's planned records, each on the condition that the item is still
 * what the plan was made from: absent for a planned create, at the version before the
 * planned one for a replacement. A PUT or DELETE that lands between plan and write is
 * therefore never overwritten (no two contents share a version, no deleted item comes
 * back): that item fails with a reason, as a conflict, and its batch-mates are written.
 *
 * The same transaction adds the written ids to the batch's plan record (`writtenIds`), so a
 * redelivered message knows exactly which items it wrote already, even if somebody changed
 * or deleted them since: it skips them and counts them as written (../import/handler.ts).
 * The SDK resending a transaction whose answer was lost is answered by its token.
 *
 * A message's items (≤ 98) go in one transaction through ../shared/imports/transact.ts (the
 * one conditional write mechanism; a cancellation by a conflicting transaction is retried
 * there). Transactional writes cost two write units per KB instead of BatchWriteItem's one:
 * the price of never overwriting a concurrent change.
 * A transaction cancelled for some items' conditions is sent again without them. A request
 * DynamoDB refuses outright (ValidationException: an item it cannot store) is written item
 * by item, so one poison item does not keep its batch-mates out. A call that still fails
 * after the SDK's retries (throttled, unavailable) is not retried here: its items come back
 * as transient failures and SQS delivers the message again.
 */
import { batchGetAll } from '../shared/batch-get.ts';
import { cancellationCodes, describeError, isConditionFailure, isTransient, isValidationError } from '../shared/aws-errors.ts';
import { transactWrite, type TransactItems } from '../shared/imports/transact.ts';
import type { ItemRecord } from '../shared/items/item.ts';

/** An item record as the import writes it, with what its condition expects. */
export interface PlannedWrite {
  record: ItemRecord;
  /** The version the plan was made from; undefined: the item did not exist. */
  basedOn?: number;
}

export interface WriteOptions {
  tableName: string;
  /** The key of the batch's plan record, which takes the ids written. */
  planKey: { pk: string; sk: string };
}

export interface WriteFailure {
  /** The item's `id` attribute. */
  id: string;
  reason: string;
  /** False for throttling/unavailability: the same write may well succeed later. */
  permanent: boolean;
  /** The item changed between plan and write: final, sending the message again cannot help. */
  conflict: boolean;
}

export interface WriteReport {
  failures: WriteFailure[];
  /** Items not written because they changed between plan and write. */
  conflicts: number;
  /** True when the batch had to be written item by item. */
  isolated: boolean;
}

/** Items in one TransactWriteItems: DynamoDB's limit of 100 actions less the plan's update; a whole message (≤ 98 items) at once. */
export const ITEMS_PER_TRANSACTION = 99;

/** Rounds of "send, drop the refused items": each drops one at least; more means the items keep changing under us. */
const MAX_ROUNDS = 5;

function conditionalPut(tableName: string, write: PlannedWrite): TransactItems[number] {
  if (write.basedOn === undefined) return { Put: { TableName: tableName, Item: write.record, ConditionExpression: 'attribute_not_exists(pk)' } };
  return {
    Put: {
      TableName: tableName,
      Item: write.record,
      ConditionExpression: '#version = :basedOn',
      ExpressionAttributeNames: { '#version': 'version' },
      ExpressionAttributeValues: { ':basedOn': write.basedOn },
    },
  };
}

function recordWritten(options: WriteOptions, writes: readonly PlannedWrite[]): TransactItems[number] {
  return {
    Update: {
      TableName: options.tableName,
      Key: options.planKey,
      UpdateExpression: 'ADD writtenIds :ids',
      ExpressionAttributeValues: { ':ids': new Set(writes.map((write) => write.record.id)) },
    },
  };
}

export async function writeItems(writes: readonly PlannedWrite[], options: WriteOptions): Promise<WriteReport> {
  const report: WriteReport = { failures: [], conflicts: 0, isolated: false };
  let pending = [...writes];
  // Each round either succeeds or drops at least one refused item.
  for (let round = 0; pending.length > 0 && round < MAX_ROUNDS; round++) {
    try {
      await transactWrite([...pending.map((write) => conditionalPut(options.tableName, write)), recordWritten(options, pending)]);
      return report;
    } catch (error) {
      const codes = cancellationCodes(error);
      if (codes && isConditionFailure(error)) {
        const refused = pending.filter((_, i) => codes[i] === 'ConditionalCheckFailed');
        await classifyRefused(refused, options, report);
        pending = pending.filter((_, i) => codes[i] !== 'ConditionalCheckFailed');
        continue;
      }
      if (isValidationError(error) && pending.length > 1) {
        // DynamoDB refused the whole request: find the item(s) at fault by writing one by one.
        report.isolated = true;
        const reports = await Promise.all(pending.map((write) => writeItems([write], options)));
        for (const single of reports) {
          report.failures.push(...single.failures);
          report.conflicts += single.conflicts;
        }
        return report;
      }
      const permanent = !isTransient(error) && isValidationError(error);
      for (const write of pending) report.failures.push({ id: write.record.id, reason: `${permanent ? '' : "still failing after the SDK's retries: "}${describeError(error)}`, permanent, conflict: false });
      return report;
    }
  }
  for (const write of pending) report.failures.push({ id: write.record.id, reason: 'kept meeting concurrent changes', permanent: false, conflict: false });
  return report;
}

/**
 * Items whose condition failed: written meanwhile by another delivery of the same message
 * (its ids are in the plan's `writtenIds`: they count as written), or changed by somebody
 * else between plan and write (a conflict, with what was found).
 */
async function classifyRefused(refused: readonly PlannedWrite[], options: WriteOptions, report: WriteReport): Promise<void> {
  if (refused.length === 0) return;
  const found = await batchGetAll(options.tableName, [options.planKey, ...refused.map((write) => ({ pk: write.record.pk, sk: write.record.sk }))], {
    expression: 'sk, #version, writtenIds',
    names: { '#version': 'version' },
  });
  const bySortKey = new Map(found.map((record) => [String(record.sk), record]));
  const writtenIds = bySortKey.get(options.planKey.sk)?.writtenIds;
  for (const write of refused) {
    if (writtenIds instanceof Set && writtenIds.has(write.record.id)) continue; // another delivery of this batch wrote it
    const current = bySortKey.get(write.record.sk);
    const expected = write.basedOn === undefined ? 'no item' : `version ${write.basedOn}`;
    const now = current ? `version ${String(current.version)}` : 'no item (deleted)';
    report.conflicts++;
    report.failures.push({
      id: write.record.id,
      reason: `conflict: the item changed after the import planned it (expected ${expected}, found ${now}); not overwritten`,
      permanent: true,
      conflict: true,
    });
  }
}
