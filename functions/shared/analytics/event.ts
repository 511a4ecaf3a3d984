/**
 * The AnalyticsEvent contract (docs/ANALYTICS.md, "The event"), and the one function that
 * builds it.
 */
import type { Context } from 'aws-lambda';
import { config } from '../config.ts';
import { redact, redactString } from '../redact.ts';

export const EVENT_CATEGORIES = ['USER_ACTION', 'SYSTEM_EVENT', 'AUTHENTICATION', 'QUERY'] as const;
export type EventCategory = (typeof EVENT_CATEGORIES)[number];
export type EventStatus = 'SUCCESS' | 'FAILURE';
export const ANALYTICS_SUFFIX = '_ANALYTICS';

export interface AnalyticsProperties {
  functionName: string;
  functionVersion: string;
  memoryLimitInMB: number;
  remainingTime: number;
  [key: string]: unknown;
}

export interface AnalyticsEvent {
  eventType: string;
  source: string;
  requestId: string;
  detail: {
    action: string;
    type: string;
    timestamp: string;
    userId?: string;
    metadata: {
      source: string;
      traceId?: string;
      duration?: number;
      status: EventStatus;
      errorType?: string;
      eventCategory: EventCategory;
      properties: AnalyticsProperties;
    };
  };
}

export interface AnalyticsInput {
  /** The original event type, e.g. ITEM_GET; eventType becomes ITEM_GET_ANALYTICS. */
  type: string;
  /** What was done: EXECUTE, WRITE, DELETE, IMPORT, ... */
  action: string;
  category: EventCategory;
  /** The event's origin, e.g. `event-flows.query`. */
  source: string;
  status: EventStatus;
  errorType?: string;
  durationMs?: number;
  userId?: string;
  requestId: string;
  traceId?: string;
  timestamp?: Date;
  context: Pick<Context, 'functionName' | 'functionVersion' | 'memoryLimitInMB' | 'getRemainingTimeInMillis'>;
  properties?: Record<string, unknown>;
}

/** The X-Ray trace id of this invocation, when tracing is on. */
export function currentTraceId(): string | undefined {
  const header = process.env._X_AMZN_TRACE_ID;
  return header?.match(/Root=([^;]+)/)?.[1];
}

/**
 * A trace id we pass on: an X-Ray id (`1-<8 hex>-<24 hex>`), or a front end's plain id
 * (letters, digits, dashes) that redaction leaves unchanged. Anything else
 * (`1-client_secret=abc`, `jane@x.org`, an access key id shaped like a plain id) is
 * dropped: it comes from the client and could carry anything.
 */
export function safeTraceId(traceId: string | undefined): string | undefined {
  if (traceId === undefined) return undefined;
  if (/^1-[0-9a-f]{8}-[0-9a-f]{24}$/.test(traceId)) return traceId;
  return /^[A-Za-z0-9-]{1,128}$/.test(traceId) && redactString(traceId) === traceId ? traceId : undefined;
}

export function buildAnalyticsEvent(input: AnalyticsInput): AnalyticsEvent {
  const extraKeys = config.redactFields().split(',').filter(Boolean);
  const properties = redact(input.properties ?? {}, { extraKeys });
  const traceId = safeTraceId(input.traceId ?? currentTraceId());
  return {
    eventType: `${input.type}${ANALYTICS_SUFFIX}`,
    source: input.source,
    requestId: input.requestId,
    detail: {
      action: input.action,
      type: input.type,
      timestamp: (input.timestamp ?? new Date()).toISOString(),
      ...(input.userId ? { userId: input.userId } : {}),
      metadata: {
        source: `event-flows/${config.environment()}`,
        ...(traceId ? { traceId } : {}),
        ...(input.durationMs !== undefined ? { duration: Math.round(input.durationMs * 1000) / 1000 } : {}),
        status: input.status,
        ...(input.errorType ? { errorType: input.errorType } : {}),
        eventCategory: input.category,
        properties: {
          ...properties,
          functionName: input.context.functionName,
          functionVersion: input.context.functionVersion,
          memoryLimitInMB: Number(input.context.memoryLimitInMB),
          remainingTime: input.context.getRemainingTimeInMillis(),
        },
      },
    },
  };
}
