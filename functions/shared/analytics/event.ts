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
  /** V8 heap in use and the process's resident set when the event was built (the end of the invocation for a request's own event), MB. */
  heapUsedMB: number;
  rssMB: number;
  /** True on the first event this process builds: the invocation that followed Init. */
  coldStart: boolean;
  /** On the cold start's event: ms from the process's start to the handler's start (Init plus runtime bootstrap). */
  initDurationMs?: number;
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

const MB = 1024 * 1024;
const round3 = (n: number) => Math.round(n * 1000) / 1000;
let coldStartTaken = false;

/** This process's memory now and, once per process, its cold start (see AnalyticsProperties). */
function invocationMeasurement(durationMs: number | undefined): Pick<AnalyticsProperties, 'heapUsedMB' | 'rssMB' | 'coldStart' | 'initDurationMs'> {
  const { heapUsed, rss } = process.memoryUsage();
  const coldStart = !coldStartTaken;
  coldStartTaken = true;
  // performance.now() counts from the process's start; the handler started durationMs ago.
  const initDurationMs = coldStart ? Math.max(0, round3(performance.now() - (durationMs ?? 0))) : undefined;
  return { heapUsedMB: round3(heapUsed / MB), rssMB: round3(rss / MB), coldStart, ...(initDurationMs !== undefined ? { initDurationMs } : {}) };
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
          ...invocationMeasurement(input.durationMs),
        },
      },
    },
  };
}
