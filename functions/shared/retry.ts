/**
 * The one retry policy. Retries happen in three layers, each for its own failures, so the
 * attempts never multiply beyond the bounds below (docs/ARCHITECTURE.md, "Retries"):
 *
 * 1. The SDK (./aws-clients.ts): every call up to AWS_MAX_ATTEMPTS (3) times for throttling,
 *    5xx, timeouts and dropped connections. It resends the very request, so a write whose
 *    answer was lost reaches DynamoDB twice: every conditional write is therefore an
 *    idempotent transaction (./imports/transact.ts).
 * 2. This module: only what the SDK returns as an answer but is transient for us: a
 *    transaction cancelled by a conflicting one (or whose token is still in progress), and
 *    the part of a batch call the service did not process (UnprocessedItems/Keys, failed
 *    entries). Never an error the SDK has retried already, with one exception: event
 *    delivery also resends a PutEvents call that failed as a whole, inside the publisher's
 *    3 s budget (an undelivered event costs more than a call). Each kind has its attempts
 *    in RETRY_POLICIES, so one logical operation costs at most attempts × 3 calls.
 * 3. The caller's caller: SQS redelivers a message a consumer reported failed, and the API
 *    answers 503 with Retry-After.
 */

export interface RetryPolicy {
  /** Calls in all, the first included (each may be retried by the SDK as well). */
  attempts: number;
  /** Back-off before retry n: random in [0, min(maxDelayMs, baseDelayMs * 2^n)] (full jitter). */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const RETRY_POLICIES = {
  /** A transaction cancelled by a conflict: ≤ 4 × 3 calls. */
  transaction: { attempts: 4, baseDelayMs: 25, maxDelayMs: 1000 },
  /** What a BatchWriteItem/BatchGetItem/SendMessageBatch left unprocessed: ≤ 8 × 3 calls, as AWS recommends for batch remainders. */
  batchRemainder: { attempts: 8, baseDelayMs: 25, maxDelayMs: 1000 },
  /** Events EventBridge did not accept: ≤ 4 rounds, within the publisher's time budget. */
  eventDelivery: { attempts: 4, baseDelayMs: 50, maxDelayMs: 1000 },
  /** An optimistic read-modify-write that met a concurrent writer: re-read and try again, no wait. */
  optimisticWrite: { attempts: 5, baseDelayMs: 0, maxDelayMs: 0 },
} as const satisfies Record<string, RetryPolicy>;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Full-jitter exponential back-off: random in [0, min(capMs, base * 2^attempt)]. */
export function backoffDelay(attempt: number, baseDelayMs: number, random: () => number = Math.random, capMs = Number.POSITIVE_INFINITY): number {
  return Math.floor(random() * Math.min(capMs, baseDelayMs * 2 ** attempt));
}

/** The wait before retry `attempt` (1 for the first retry) under `policy`. */
export function retryDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  return backoffDelay(attempt, policy.baseDelayMs, random, policy.maxDelayMs);
}

/**
 * Calls `operation` until it succeeds, throws an error `retryable` refuses, or the policy's
 * attempts are spent (then the last error is thrown). `operation` gets the attempt number.
 */
export async function withRetries<T>(policy: RetryPolicy, retryable: (error: unknown) => boolean, operation: (attempt: number) => Promise<T>, wait: (ms: number) => Promise<void> = sleep): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (attempt + 1 >= policy.attempts || !retryable(error)) throw error;
      await wait(retryDelay(policy, attempt + 1));
    }
  }
}

/**
 * Sends `items` and, while `send` returns some of them as not processed, sends those again
 * with back-off, up to the policy's attempts. Returns what is still unprocessed at the end.
 */
export async function sendUntilProcessed<T>(policy: RetryPolicy, items: readonly T[], send: (pending: T[]) => Promise<T[]>, wait: (ms: number) => Promise<void> = sleep): Promise<T[]> {
  let pending = [...items];
  for (let attempt = 0; attempt < policy.attempts && pending.length > 0; attempt++) {
    if (attempt > 0) await wait(retryDelay(policy, attempt));
    pending = await send(pending);
  }
  return pending;
}
