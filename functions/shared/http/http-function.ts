/**
 * Turns a table of routes into an API Gateway (payload 2.0) Lambda handler: dispatch on the
 * route key, map errors to the error body, and record one analytics event per request
 * after the response (a route marked `countOnly`, the health check, counts a metric instead).
 */
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { withAfterResponse } from '../after-response.ts';
import { recordAnalytics } from '../analytics/emitter.ts';
import type { EventCategory } from '../analytics/event.ts';
import { requestCategory } from '../analytics/classify.ts';
import { countMetric, log } from '../log.ts';
import { callerOf, tenantClaimOf, type Caller } from './caller.ts';
import { ApiError, errorTypeOf, toApiError } from './errors.ts';

export type ApiEvent = APIGatewayProxyEventV2WithJWTAuthorizer;

export interface ApiRequest {
  event: ApiEvent;
  context: Context;
  /** The verified caller; throws 401/403 when the token lacks what we need. */
  caller(): Caller;
  /** Event-specific data for this request's analytics event (collection, counts, ...). */
  analytics: Record<string, unknown>;
}

export interface ApiResponse {
  statusCode: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Route {
  /** Analytics: the original event type (ITEM_GET), its action and category. */
  type: string;
  action: string;
  category: EventCategory;
  /**
   * Count successful calls in this EMF metric instead of recording an analytics event each:
   * for the public health check, whose every call would otherwise cost a PutEvents entry, a
   * queue message and a 3-write transaction. A failed call still records its event.
   */
  countOnly?: string;
  handle(request: ApiRequest): Promise<ApiResponse>;
}

const JSON_HEADERS = { 'content-type': 'application/json' };

export function jsonResponse(statusCode: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: { ...JSON_HEADERS, ...headers }, body: body === undefined ? '' : JSON.stringify(body) };
}

export function errorBody(error: ApiError): { error: { code: string; message: string; details?: unknown } } {
  return { error: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) } };
}

export function httpFunction(options: { source: string; routes: Record<string, Route> }) {
  const handler = async (event: ApiEvent, context: Context): Promise<APIGatewayProxyStructuredResultV2> => {
    const started = performance.now();
    const route = options.routes[event.routeKey];
    const request: ApiRequest = { event, context, caller: () => callerOf(event), analytics: {} };
    let response: APIGatewayProxyStructuredResultV2;
    let failure: ApiError | undefined;
    try {
      if (!route) throw new ApiError(404, 'NOT_FOUND', `no route ${event.routeKey}`);
      const result = await route.handle(request);
      response = result.statusCode === 204 ? { statusCode: 204, headers: result.headers ?? {} } : jsonResponse(result.statusCode, result.body, result.headers);
    } catch (error) {
      failure = toApiError(error);
      if (failure.statusCode >= 500) log.error('request failed', { routeKey: event.routeKey, error: String(error), stack: (error as Error)?.stack });
      // DynamoDB refused the request as invalid (a 4xx): the request's fault, unless it is a bug of ours; the log tells.
      else if (!(error instanceof ApiError)) log.warn('request refused by a dependency', { routeKey: event.routeKey, status: failure.statusCode, error: String(error) });
      response = jsonResponse(failure.statusCode, errorBody(failure), failure.statusCode === 503 ? { 'retry-after': '1' } : {});
    }
    if (route?.countOnly && !failure) countMetric(route.countOnly, 1, { Function: context.functionName });
    else recordRequestAnalytics(options.source, route, request, response, failure, performance.now() - started);
    return response;
  };
  return withAfterResponse(handler);
}

function recordRequestAnalytics(
  source: string,
  route: Route | undefined,
  request: ApiRequest,
  response: APIGatewayProxyStructuredResultV2,
  failure: ApiError | undefined,
  durationMs: number,
): void {
  const { event, context } = request;
  const claims = event.requestContext.authorizer?.jwt?.claims;
  const tenant = tenantClaimOf(event);
  const routeType = route?.type ?? 'UNKNOWN_ROUTE';
  recordAnalytics({
    type: routeType,
    action: route?.action ?? 'EXECUTE',
    category: requestCategory(route?.category, failure?.statusCode),
    source,
    status: failure ? 'FAILURE' : 'SUCCESS',
    ...(failure ? { errorType: errorTypeOf(failure) } : {}),
    durationMs,
    ...(claims?.sub ? { userId: String(claims.sub) } : {}),
    requestId: context.awsRequestId,
    traceId: event.headers?.['x-amzn-trace-id']?.match(/Root=([^;]+)/)?.[1],
    context,
    properties: {
      routeKey: event.routeKey,
      method: event.requestContext.http.method,
      path: event.rawPath,
      statusCode: response.statusCode,
      apiRequestId: event.requestContext.requestId,
      ...request.analytics,
      // After the route's own properties: a route cannot file its event under another tenant.
      ...(tenant ? { tenant } : {}),
    },
  });
}
