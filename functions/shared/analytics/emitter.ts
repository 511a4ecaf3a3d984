/**
 * Every function's way to record an analytics event. Recording is synchronous and cheap;
 * delivery to the analytics bus happens after the response (see ../after-response.ts),
 * batched, retried, and never surfaced to the caller.
 */
import { config } from '../config.ts';
import { countMetric, log } from '../log.ts';
import { EventPublisher } from '../events/publisher.ts';
import { buildAnalyticsEvent, type AnalyticsEvent, type AnalyticsInput } from './event.ts';

let publisher: EventPublisher | undefined;

function analyticsPublisher(): EventPublisher {
  return (publisher ??= new EventPublisher({ busName: config.analyticsBus, fallbackQueueUrl: config.analyticsFallbackQueueUrl }));
}

/** Analytics can be switched off per function (ANALYTICS_ENABLED=false), e.g. for a benchmark baseline. */
function enabled(): boolean {
  return process.env.ANALYTICS_ENABLED !== 'false';
}

/** Never throws: a broken analytics configuration is logged and counted, the response goes out. */
export function recordAnalytics(input: AnalyticsInput): AnalyticsEvent | undefined {
  if (!enabled()) return undefined;
  try {
    const event = buildAnalyticsEvent(input);
    analyticsPublisher().publish({ source: event.source, detailType: event.eventType, detail: event });
    return event;
  } catch (error) {
    log.error('analytics event not recorded', { error: String(error), type: input.type });
    countMetric('UndeliveredEvents', 1, { EventBus: 'analytics' });
    return undefined;
  }
}
