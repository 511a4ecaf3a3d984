/**
 * The one retry policy (functions/shared/retry.ts) and the classification it relies on
 * (functions/shared/aws-errors.ts): bounded attempts, one back-off formula, and which AWS
 * answers are worth another attempt.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cancellationCodes, isConditionFailure, isRetryableTransactionFailure, isTransient } from '../../functions/shared/aws-errors.ts';
import { backoffDelay, RETRY_POLICIES, retryDelay, sendUntilProcessed, withRetries, type RetryPolicy } from '../../functions/shared/retry.ts';

const named = (name: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(name), { name, ...extra });
const cancelled = (...codes: string[]) => named('TransactionCanceledException', { CancellationReasons: codes.map((Code) => ({ Code })) });

describe('backoff', () => {
  it('is full jitter within [0, min(cap, base * 2^attempt)]', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 1, max: 500 }), fc.integer({ min: 1, max: 5000 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (attempt, base, cap, r) => {
        const delay = backoffDelay(attempt, base, () => r, cap);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(Math.min(cap, base * 2 ** attempt));
      }),
    );
    expect(retryDelay(RETRY_POLICIES.transaction, 10, () => 0.999999)).toBe(RETRY_POLICIES.transaction.maxDelayMs - 1);
  });
});

describe('withRetries', () => {
  const policy: RetryPolicy = { attempts: 3, baseDelayMs: 10, maxDelayMs: 100 };

  it('makes at most `attempts` calls, waiting between them, then throws the last error', async () => {
    const waits: number[] = [];
    let calls = 0;
    await expect(
      withRetries(policy, () => true, async () => {
        calls++;
        throw named(`Fail${calls}`);
      }, async (ms) => void waits.push(ms)),
    ).rejects.toMatchObject({ name: 'Fail3' });
    expect(calls).toBe(3);
    expect(waits).toHaveLength(2);
  });

  it('does not retry what `retryable` refuses, and returns the first success', async () => {
    let calls = 0;
    await expect(withRetries(policy, () => false, async () => { calls++; throw named('Nope'); }, async () => undefined)).rejects.toMatchObject({ name: 'Nope' });
    expect(calls).toBe(1);
    expect(await withRetries(policy, () => true, async (attempt) => { if (attempt === 0) throw named('Once'); return attempt; }, async () => undefined)).toBe(1);
  });
});

describe('sendUntilProcessed', () => {
  it('resends only what came back unprocessed, and returns what is left after the attempts', async () => {
    const sent: number[][] = [];
    const left = await sendUntilProcessed({ attempts: 3, baseDelayMs: 1, maxDelayMs: 1 }, [1, 2, 3, 4], async (pending) => {
      sent.push(pending);
      return pending.slice(1);
    }, async () => undefined);
    expect(sent).toEqual([[1, 2, 3, 4], [2, 3, 4], [3, 4]]);
    expect(left).toEqual([4]);
    expect(await sendUntilProcessed(RETRY_POLICIES.batchRemainder, ['a'], async () => [], async () => undefined)).toEqual([]);
  });
});

describe('AWS error classification', () => {
  it('a cancelled transaction is retried for conflicts and throttling, never when a condition failed', () => {
    expect(isRetryableTransactionFailure(cancelled('None', 'TransactionConflict'))).toBe(true);
    expect(isRetryableTransactionFailure(cancelled('ThrottlingError'))).toBe(true);
    expect(isRetryableTransactionFailure(named('TransactionInProgressException'))).toBe(true);
    expect(isRetryableTransactionFailure(cancelled('ConditionalCheckFailed', 'TransactionConflict'))).toBe(false);
    expect(isRetryableTransactionFailure(named('ValidationException'))).toBe(false);
    // The SDK has retried these already.
    expect(isRetryableTransactionFailure(named('InternalServerError', { $metadata: { httpStatusCode: 500 } }))).toBe(false);
  });

  it('condition failures, cancellation codes and transient errors', () => {
    expect(isConditionFailure(named('ConditionalCheckFailedException'))).toBe(true);
    expect(isConditionFailure(cancelled('None', 'ConditionalCheckFailed'))).toBe(true);
    expect(isConditionFailure(cancelled('TransactionConflict'))).toBe(false);
    expect(cancellationCodes(cancelled('None', 'ConditionalCheckFailed'))).toEqual(['None', 'ConditionalCheckFailed']);
    expect(cancellationCodes(named('ConditionalCheckFailedException'))).toBeUndefined();
    expect(isTransient(named('ProvisionedThroughputExceededException'))).toBe(true);
    expect(isTransient(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isTransient(named('Whatever', { $metadata: { httpStatusCode: 503 } }))).toBe(true);
    expect(isTransient(named('ValidationException', { $metadata: { httpStatusCode: 400 } }))).toBe(false);
  });
});
