/**
 * Invokes handlers directly, the way API Gateway (payload 2.0) and Lambda would, for
 * integration tests that need no HTTP server. Claims are what the JWT authorizer passes on.
 */
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { drainAfterResponseTasks } from '../../functions/shared/after-response.ts';

export interface Claims {
  sub: string;
  tenant: string;
  scope?: string;
}

export function lambdaContext(functionName = 'test-function'): Context {
  const deadline = Date.now() + 10_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'test',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export function apiEvent(options: {
  routeKey: string;
  path: string;
  claims?: Claims;
  pathParameters?: Record<string, string>;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string | object;
}): APIGatewayProxyEventV2WithJWTAuthorizer {
  const [method] = options.routeKey.split(' ');
  const body = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  return {
    version: '2.0',
    routeKey: options.routeKey,
    rawPath: options.path,
    rawQueryString: new URLSearchParams(options.query ?? {}).toString(),
    headers: { 'content-type': 'application/json', ...(options.headers ?? {}) },
    ...(options.query ? { queryStringParameters: options.query } : {}),
    ...(options.pathParameters ? { pathParameters: options.pathParameters } : {}),
    requestContext: {
      accountId: '123456789012',
      apiId: 'test',
      authorizer: { principalId: '', integrationLatency: 0, jwt: { claims: options.claims ? { ...options.claims } : {}, scopes: [] } },
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: { method: method ?? 'GET', path: options.path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'vitest' },
      requestId: randomUUID(),
      routeKey: options.routeKey,
      stage: '$default',
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
    },
    ...(body !== undefined ? { body } : {}),
    isBase64Encoded: false,
  };
}

export interface InvokeResult {
  statusCode: number;
  headers: Record<string, string>;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed JSON of any shape; tests assert on it
}

type Handler = (event: APIGatewayProxyEventV2WithJWTAuthorizer, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

/** Calls the handler, then runs its after-response work, as the runtime does. */
export async function invoke(handler: Handler, event: APIGatewayProxyEventV2WithJWTAuthorizer): Promise<InvokeResult> {
  const result = await handler(event, lambdaContext());
  await drainAfterResponseTasks();
  return {
    statusCode: result.statusCode ?? 200,
    headers: (result.headers ?? {}) as Record<string, string>,
    body: result.body ? JSON.parse(result.body) : undefined,
  };
}
