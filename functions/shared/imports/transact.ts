/**
 * The one way this project makes a conditional write: TransactWriteItems with a
 * ClientRequestToken. DynamoDB applies a request with a given token at most once for 10
 * minutes after it completes, and answers a repeat with success. So when the answer to a
 * write is lost (a timeout, a dropped connection) and the SDK sends it again, the repeat
 * changes nothing and reports success, instead of failing its condition (a create that
 * "already exists") or applying twice (a version bumped twice, a counter added twice).
 *
 * One token per attempt that DynamoDB answers: every resend of that attempt (the SDK's own
 * retries, or ours after TransactionInProgressException) carries it; after a cancellation
 * nothing was applied, so the next attempt gets a new token (its items may differ too).
 * Cancellations by a conflicting transaction are retried with the transaction policy of
 * ../retry.ts; a failed condition is the caller's to interpret (isConditionFailure).
 *
 * Used for single-item writes as well: a one-item transaction costs two write units
 * instead of one, the price of an exact answer under retries (docs/ARCHITECTURE.md).
 */
import { TransactWriteCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { dynamo } from '../aws-clients.ts';
import { errorName, isRetryableTransactionFailure } from '../aws-errors.ts';
import { RETRY_POLICIES, withRetries } from '../retry.ts';

export type TransactItems = NonNullable<TransactWriteCommandInput['TransactItems']>;

export async function transactWrite(items: TransactItems): Promise<void> {
  let token = randomUUID();
  await withRetries(RETRY_POLICIES.transaction, isRetryableTransactionFailure, async () => {
    try {
      await dynamo().send(new TransactWriteCommand({ TransactItems: items, ClientRequestToken: token }));
    } catch (error) {
      // Still running under this token: wait for it with the same token. Anything else: not applied.
      if (errorName(error) !== 'TransactionInProgressException') token = randomUUID();
      throw error;
    }
  });
}
