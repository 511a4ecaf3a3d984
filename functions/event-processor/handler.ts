/**
 * The event processor is one Lambda with two faces, told apart by the event's shape:
 * - an API Gateway request (`routeKey`): the import API (./api.ts);
 * - an SQS batch (`Records`) from the app-events queue: the router of application events (./app-events.ts).
 */
// First: registers the after-response extension during Init (a top-level await there).
import '../shared/after-response.ts';
import type { APIGatewayProxyStructuredResultV2, Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { ApiEvent } from '../shared/http/http-function.ts';
import { apiHandler } from './api.ts';
import { appEventsHandler } from './app-events.ts';

export function isSqsEvent(event: unknown): event is SQSEvent {
  return typeof event === 'object' && event !== null && Array.isArray((event as { Records?: unknown }).Records);
}

export function isApiEvent(event: unknown): event is ApiEvent {
  return typeof event === 'object' && event !== null && typeof (event as { routeKey?: unknown }).routeKey === 'string';
}

export async function handler(event: ApiEvent | SQSEvent, context: Context): Promise<APIGatewayProxyStructuredResultV2 | SQSBatchResponse> {
  if (isApiEvent(event)) return apiHandler(event, context);
  if (isSqsEvent(event)) return appEventsHandler(event, context);
  throw new Error('event-processor: the event is neither an API Gateway request nor an SQS batch');
}
