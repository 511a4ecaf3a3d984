/**
 * The valibot schema of the spec's AnalyticsEvent, and of the EventBridge envelope the
 * analytics queue receives. The processor rejects what does not match, with the reason.
 */
import * as v from 'valibot';
import { ANALYTICS_SUFFIX, EVENT_CATEGORIES } from './event.ts';

/** Names that end up in keys: no `#`, no spaces. */
export const TYPE_NAME = /^[A-Za-z0-9_.:-]{1,128}$/;
export const TENANT_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

const finiteNonNegative = v.pipe(v.number(), v.finite(), v.minValue(0));

export const analyticsEventSchema = v.pipe(
  v.object({
    eventType: v.pipe(v.string(), v.regex(TYPE_NAME, 'must match [A-Za-z0-9_.:-]{1,128}'), v.endsWith(ANALYTICS_SUFFIX, `must end with ${ANALYTICS_SUFFIX}`)),
    source: v.pipe(v.string(), v.minLength(1), v.maxLength(256)),
    requestId: v.pipe(v.string(), v.minLength(1), v.maxLength(256)),
    detail: v.object({
      action: v.pipe(v.string(), v.regex(TYPE_NAME, 'must match [A-Za-z0-9_.:-]{1,128}')),
      type: v.pipe(v.string(), v.regex(TYPE_NAME, 'must match [A-Za-z0-9_.:-]{1,128}')),
      timestamp: v.pipe(v.string(), v.isoTimestamp('must be an ISO 8601 timestamp')),
      userId: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(256))),
      metadata: v.object({
        source: v.pipe(v.string(), v.minLength(1), v.maxLength(256)),
        traceId: v.optional(v.pipe(v.string(), v.maxLength(256))),
        duration: v.optional(finiteNonNegative),
        status: v.picklist(['SUCCESS', 'FAILURE'], 'must be SUCCESS or FAILURE'),
        errorType: v.optional(v.pipe(v.string(), v.regex(TYPE_NAME, 'must match [A-Za-z0-9_.:-]{1,128}'))),
        eventCategory: v.picklist(EVENT_CATEGORIES, `must be one of ${EVENT_CATEGORIES.join(', ')}`),
        properties: v.looseObject({
          functionName: v.string(),
          functionVersion: v.string(),
          memoryLimitInMB: finiteNonNegative,
          remainingTime: v.pipe(v.number(), v.finite()),
          tenant: v.optional(v.pipe(v.string(), v.regex(TENANT_NAME, 'must match [A-Za-z0-9_.-]{1,128}'))),
          // The invocation's measurement (event.ts); optional so events from older emitters still validate.
          heapUsedMB: v.optional(finiteNonNegative),
          rssMB: v.optional(finiteNonNegative),
          coldStart: v.optional(v.boolean()),
          initDurationMs: v.optional(finiteNonNegative),
        }),
      }),
    }),
  }),
  v.check((event) => event.eventType === `${event.detail.type}${ANALYTICS_SUFFIX}`, `eventType must be detail.type + ${ANALYTICS_SUFFIX}`),
  v.check((event) => event.detail.metadata.status === 'SUCCESS' || event.detail.metadata.errorType !== undefined, 'a FAILURE needs an errorType'),
);

export type ValidAnalyticsEvent = v.InferOutput<typeof analyticsEventSchema>;

/** What EventBridge writes to the SQS target (and the publisher's fallback mimics). */
export const envelopeSchema = v.pipe(
  v.looseObject({
    id: v.pipe(v.string(), v.minLength(1)),
    'detail-type': v.string(),
    source: v.string(),
    time: v.optional(v.string()),
    detail: analyticsEventSchema,
  }),
  v.check((envelope) => envelope['detail-type'] === envelope.detail.eventType, 'detail-type must equal detail.eventType'),
);

export type AnalyticsEnvelope = v.InferOutput<typeof envelopeSchema>;

/** A one-line reason naming each field at fault. */
export function describeIssues(issues: readonly v.BaseIssue<unknown>[]): string {
  return issues
    .slice(0, 5)
    .map((issue) => {
      const path = issue.path?.map((segment) => String(segment.key)).join('.');
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
}
