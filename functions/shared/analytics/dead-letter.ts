/**
 * How an analytics event says it went through the analytics DLQ.
 *
 * A redrive (SQS `StartMessageMoveTask`, or scripts/redrive.ts where the endpoint lacks it)
 * puts a *new* message on the analytics queue: new message id, new enqueue time, receive
 * count from zero. What it keeps is the body and the message attributes. So whoever puts an
 * event into the DLQ also writes these attributes, and the processor recognises a redriven
 * event by them:
 *
 * - `failureReason`: why, led by a cause (`EventBridge PutEvents: …` from the publisher's
 *   fallback, `INVALID_EVENT: …` and `STORE_FAILED: …` from the processor);
 * - `failedAt`: the event's first failure (ISO 8601), kept when a redriven event fails
 *   again, so "first failure → stored" spans every round.
 *
 * SQS's own redrive-policy move adds no attributes, so the processor dead-letters an event
 * itself on its last receive (functions/analytics/handler.ts); only an invocation that dies
 * on that receive leaves SQS to move an unmarked message.
 */
export const FAILURE_REASON_ATTRIBUTE = 'failureReason';
export const FAILED_AT_ATTRIBUTE = 'failedAt';

export const DEAD_LETTER_CAUSES = ['DELIVERY_FAILED', 'STORE_FAILED', 'INVALID_EVENT', 'OTHER'] as const;
export type DeadLetterCause = (typeof DEAD_LETTER_CAUSES)[number];

/** The prefix the publisher's fallback gives its reasons (functions/shared/events/publisher.ts). */
export const DELIVERY_FAILED_PREFIX = 'EventBridge PutEvents: ';

export function causeOf(reason: string): DeadLetterCause {
  if (reason.startsWith(DELIVERY_FAILED_PREFIX)) return 'DELIVERY_FAILED';
  const code = reason.split(':', 1)[0];
  return code === 'STORE_FAILED' || code === 'INVALID_EVENT' ? code : 'OTHER';
}

/** SQS message attributes, as SendMessage takes them. */
export function deadLetterAttributes(reason: string, failedAt: string) {
  return {
    [FAILURE_REASON_ATTRIBUTE]: { DataType: 'String', StringValue: reason.slice(0, 1024) },
    [FAILED_AT_ATTRIBUTE]: { DataType: 'String', StringValue: failedAt },
  };
}

export interface DeadLetterMark {
  /** ISO 8601, UTC. */
  failedAt: string;
  cause: DeadLetterCause;
}

/**
 * The mark on a record the event source mapping delivered (`messageAttributes`, values as
 * `stringValue`), or undefined for an event that never went through the DLQ.
 */
export function deadLetterMarkOf(attributes: Record<string, { stringValue?: string | undefined } | undefined> | undefined): DeadLetterMark | undefined {
  const failedAt = attributes?.[FAILED_AT_ATTRIBUTE]?.stringValue;
  if (!failedAt || Number.isNaN(Date.parse(failedAt))) return undefined;
  return { failedAt: new Date(failedAt).toISOString(), cause: causeOf(attributes?.[FAILURE_REASON_ATTRIBUTE]?.stringValue ?? '') };
}
