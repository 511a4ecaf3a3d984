/**
 * TransactWriteItems with retries of transaction *conflicts* (another transaction touched
 * the same item, e.g. a job's counters or a collection's stats, at the same moment), with
 * full-jitter exponential back-off. A condition failure is not retried: the caller decides.
 */
import { TransactWriteCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { dynamo } from '../aws-clients.ts';
import { backoffDelay } from '../events/publisher.ts';

type TransactItems = NonNullable<TransactWriteCommandInput['TransactItems']>;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** True when every reason is a conflict/throttle (nothing failed its condition). */
export function isRetryableCancellation(error: unknown): boolean {
  const reasons = (error as { CancellationReasons?: Array<{ Code?: string }> }).CancellationReasons;
  if (!reasons || reasons.length === 0) return false;
  const codes = reasons.map((reason) => reason.Code ?? 'None');
  return codes.some((code) => code === 'TransactionConflict' || code === 'ThrottlingError') && !codes.includes('ConditionalCheckFailed');
}

export async function transactWrite(items: TransactItems, attempts = 8): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await dynamo().send(new TransactWriteCommand({ TransactItems: items }));
      return;
    } catch (error) {
      const name = (error as Error).name;
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 0;
      // 5xx: a service hiccup (the emulator also answers 500 when a transaction races a write).
      const retryable =
        (name === 'TransactionCanceledException' && isRetryableCancellation(error)) ||
        name === 'TransactionConflictException' ||
        name === 'TransactionInProgressException' ||
        status >= 500;
      if (!retryable || attempt + 1 >= attempts) throw error;
      await sleep(Math.min(2000, backoffDelay(attempt, 25) + 5));
    }
  }
}
