/**
 * What an AWS error means for a retry, in one place. The SDK has retried every error it
 * considers transient (throttling, 5xx, timeouts, dropped connections) before we see it;
 * see ./retry.ts for what our own layer retries on top.
 */

/** The error's name (SDK exceptions) or Node's code (network errors). */
export function errorName(error: unknown): string {
  const e = error as { name?: string; code?: string } | undefined;
  return e?.name && e.name !== 'Error' ? e.name : (e?.code ?? e?.name ?? 'Error');
}

/** `<name>: <message>`, bounded: it is stored as an item's failure reason. */
export function describeError(error: unknown): string {
  return `${errorName(error)}: ${(error as { message?: string } | undefined)?.message ?? String(error)}`.slice(0, 500);
}

export function httpStatusOf(error: unknown): number {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode ?? 0;
}

const THROTTLING = new Set(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException', 'Throttling']);
const UNAVAILABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'TimeoutError', 'ServiceUnavailable', 'InternalServerError', 'RequestTimeout']);

export function isThrottling(error: unknown): boolean {
  return THROTTLING.has(errorName(error));
}

/** The service was unreachable, failed (5xx) or answered too late: the same call may succeed later. */
export function isUnavailable(error: unknown): boolean {
  const e = error as { name?: string; code?: string } | undefined;
  return UNAVAILABLE.has(e?.name ?? '') || UNAVAILABLE.has(e?.code ?? '') || httpStatusOf(error) >= 500;
}

/** Throttled or unavailable: worth trying again later (by the SDK, the queue or the client), not a bad request. */
export function isTransient(error: unknown): boolean {
  return isThrottling(error) || isUnavailable(error);
}

/** The codes of a cancelled transaction, one per item in request order ('None' for an item that was fine). */
export function cancellationCodes(error: unknown): string[] | undefined {
  if (errorName(error) !== 'TransactionCanceledException') return undefined;
  const reasons = (error as { CancellationReasons?: Array<{ Code?: string }> }).CancellationReasons;
  return (reasons ?? []).map((reason) => reason.Code ?? 'None');
}

/** A single-item write's condition failed, or a transaction was cancelled because one did. */
export function isConditionFailure(error: unknown): boolean {
  return errorName(error) === 'ConditionalCheckFailedException' || (cancellationCodes(error)?.includes('ConditionalCheckFailed') ?? false);
}

/**
 * A transaction that nothing in it refused: it met another transaction on one of its items,
 * was throttled, or an earlier request with its token is still running. Sending it again
 * may succeed.
 */
export function isRetryableTransactionFailure(error: unknown): boolean {
  const name = errorName(error);
  if (name === 'TransactionConflictException' || name === 'TransactionInProgressException') return true;
  const codes = cancellationCodes(error);
  if (!codes || codes.includes('ConditionalCheckFailed')) return false;
  return codes.some((code) => code === 'TransactionConflict' || code === 'ThrottlingError' || code === 'ProvisionedThroughputExceeded' || code === 'RequestLimitExceeded');
}

/**
 * DynamoDB refused the request as invalid (ValidationException, or a transaction cancelled
 * with a ValidationError for one of its items): sending it again cannot succeed.
 */
export function isValidationError(error: unknown): boolean {
  return errorName(error) === 'ValidationException' || (cancellationCodes(error)?.includes('ValidationError') ?? false);
}

/** A validation error about the item's size ("Item size has exceeded the maximum allowed size" and the like). */
export function isItemTooLarge(error: unknown): boolean {
  if (!isValidationError(error)) return false;
  const reasons = (error as { CancellationReasons?: Array<{ Message?: string }> }).CancellationReasons ?? [];
  const messages = [(error as Error).message ?? '', ...reasons.map((reason) => reason.Message ?? '')];
  return messages.some((message) => /size/i.test(message));
}
