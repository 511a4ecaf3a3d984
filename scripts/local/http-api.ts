/**
 * The local API Gateway HTTP API: routes from topology.ts, Lambda proxy integration with
 * payload format 2.0, the JWT authorizer, CORS (preflight answered by the API itself, as
 * API Gateway does), and API Gateway's own error responses.
 *
 * Kept independent of AWS and of the topology's handlers so unit tests can drive it with
 * any route table and any handler function.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { invoke, localAccountId, type LocalFunction } from './lambda-context.ts';
import { authorize, type AuthorizerResult, type JwtAuthorizerConfig } from './jwt.ts';

/** API Gateway's HTTP API payload limit. */
export const maxRequestBodyBytes = 10 * 1024 * 1024;

export interface RouteTarget {
  function: string;
  auth: 'jwt' | 'none';
  /** The route's authorization scopes: the token's scope must hold one, else 403 before any function runs. */
  scopes?: readonly string[];
}

export interface HttpApiOptions {
  /** Route keys (`GET /items/{collection}/{id}`, `ANY /{proxy+}`, `$default`) to functions. */
  routes: Record<string, RouteTarget>;
  /** The function behind a logical name, or undefined when its handler does not exist yet (501). */
  functionFor(name: string): LocalFunction | undefined;
  authorizer: JwtAuthorizerConfig;
  apiId?: string;
  log?: (line: string) => void;
  /** Runs after each response has been written (the runtime drains after-response tasks there). */
  afterResponse?: () => void;
  maxBodyBytes?: number;
  /**
   * Served at `GET /openapi.json` without a token, ahead of the routes: the API's contract for
   * local clients and tools (the deployed API publishes it in docs/, not as a Lambda route).
   */
  openApiDocument?: string;
  /**
   * Local-only endpoints (`'POST /local/token'`), served ahead of the routes without the
   * authorizer; the deployed API has none of them. The handler gets the request body.
   */
  localEndpoints?: Record<string, (body: Buffer) => Promise<HttpResult>>;
  /** The API's CORS configuration (topology.json's `cors` and the allowed origins); none: no CORS. */
  cors?: CorsConfig;
}

export interface CorsConfig {
  allowOrigins: readonly string[];
  allowMethods: readonly string[];
  allowHeaders: readonly string[];
  exposeHeaders: readonly string[];
  maxAgeSeconds: number;
}

export interface HttpApi {
  server: Server;
  /** Starts listening; resolves with the base URL. Rejects with a clear message when the port is taken. */
  listen(port: number, host?: string): Promise<string>;
  /** Stops accepting connections and resolves once every in-flight request has been answered. */
  close(): Promise<void>;
  inFlight(): number;
}

// ---------------------------------------------------------------------------------------
// Route matching

type Segment = { kind: 'literal'; value: string } | { kind: 'param'; name: string } | { kind: 'greedy'; name: string };

interface CompiledRoute {
  routeKey: string;
  method: string;
  segments: Segment[];
  target: RouteTarget;
}

export interface RouteMatch {
  routeKey: string;
  target: RouteTarget;
  pathParameters: Record<string, string>;
}

export function compileRoutes(routes: Record<string, RouteTarget>): CompiledRoute[] {
  return Object.entries(routes).map(([routeKey, target]) => {
    if (routeKey === '$default') return { routeKey, method: '$default', segments: [], target };
    const [method, path] = routeKey.split(' ');
    if (!method || !path?.startsWith('/')) throw new Error(`invalid route key "${routeKey}"`);
    const segments = path
      .split('/')
      .slice(1)
      .filter((s, i, all) => s !== '' || i < all.length - 1)
      .map((s): Segment => {
        const param = /^\{([^{}+]+)(\+?)\}$/.exec(s);
        if (!param?.[1]) return { kind: 'literal', value: s };
        return param[2] ? { kind: 'greedy', name: param[1] } : { kind: 'param', name: param[1] };
      });
    return { routeKey, method: method.toUpperCase(), segments, target };
  });
}

function decodeSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** API Gateway's selection: literal segments beat `{param}`, which beats `{proxy+}`; a method beats ANY. */
export function matchRoute(compiled: CompiledRoute[], method: string, rawPath: string): RouteMatch | undefined {
  const parts = rawPath.split('/').slice(1);
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  let best: { route: CompiledRoute; score: number[]; params: Record<string, string> } | undefined;
  for (const route of compiled) {
    if (route.method === '$default') continue;
    if (route.method !== 'ANY' && route.method !== method) continue;
    const params: Record<string, string> = {};
    const score: number[] = [];
    let matched = true;
    for (let i = 0; i < route.segments.length; i++) {
      const segment = route.segments[i]!;
      const part = parts[i];
      if (segment.kind === 'greedy') {
        const rest = parts.slice(i);
        if (rest.length === 0 || rest.join('') === '') matched = false;
        else params[segment.name] = decodeSegment(rest.join('/'));
        score.push(0);
        break;
      }
      if (part === undefined || (i === route.segments.length - 1 && parts.length > route.segments.length)) {
        matched = false;
        break;
      }
      if (segment.kind === 'literal') {
        if (segment.value !== part) {
          matched = false;
          break;
        }
        score.push(2);
      } else {
        if (part === '') {
          matched = false;
          break;
        }
        params[segment.name] = decodeSegment(part);
        score.push(1);
      }
    }
    if (!matched) continue;
    if (route.segments.length === 0 && !(parts.length === 1 && parts[0] === '')) continue;
    score.push(route.method === 'ANY' ? 0 : 1);
    if (!best || compareScores(score, best.score) > 0) best = { route, score, params };
  }
  if (best) return { routeKey: best.route.routeKey, target: best.route.target, pathParameters: best.params };
  const fallback = compiled.find((r) => r.method === '$default');
  return fallback ? { routeKey: '$default', target: fallback.target, pathParameters: {} } : undefined;
}

function compareScores(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? -1) - (b[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------
// Request → payload format 2.0 event

/** Content types API Gateway passes as text; everything else arrives base64-encoded. */
export function isTextContentType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  return (
    type.startsWith('text/') ||
    /^application\/([\w.+-]+\+)?(json|xml|javascript|ecmascript|graphql|x-www-form-urlencoded)$/.test(type) ||
    type.endsWith('+json') ||
    type.endsWith('+xml')
  );
}

const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** `12/Mar/2020:19:03:58 +0000`, API Gateway's requestContext.time. */
export function apiGatewayTime(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`;
}

export interface RequestFacts {
  method: string;
  /** Path and query as received, e.g. `/items/a%20b?x=1&x=2`. */
  url: string;
  /** Header name (any case) → values in arrival order. */
  headers: Record<string, string[]>;
  body: Buffer;
  sourceIp: string;
  protocol: string;
  localPort: number;
}

export function buildEvent(
  request: RequestFacts,
  match: RouteMatch,
  options: { apiId: string; requestId: string; authorizer: AuthorizerResult | undefined; now?: Date },
): Record<string, unknown> {
  const now = options.now ?? new Date();
  const queryIndex = request.url.indexOf('?');
  const rawPath = queryIndex === -1 ? request.url : request.url.slice(0, queryIndex);
  const rawQueryString = queryIndex === -1 ? '' : request.url.slice(queryIndex + 1);

  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (const [name, values] of Object.entries(request.headers)) {
    const lower = name.toLowerCase();
    if (lower === 'cookie') {
      for (const value of values) cookies.push(...value.split(';').map((c) => c.trim()).filter(Boolean));
      continue;
    }
    headers[lower] = headers[lower] === undefined ? values.join(',') : `${headers[lower]},${values.join(',')}`;
  }
  headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${request.sourceIp}` : request.sourceIp;
  headers['x-forwarded-port'] = String(request.localPort);
  headers['x-forwarded-proto'] = 'http';

  const queryStringParameters: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(rawQueryString)) {
    queryStringParameters[key] = queryStringParameters[key] === undefined ? value : `${queryStringParameters[key]},${value}`;
  }

  const domainName = headers.host ?? `127.0.0.1:${request.localPort}`;
  const requestContext: Record<string, unknown> = {
    accountId: localAccountId,
    apiId: options.apiId,
    domainName,
    domainPrefix: domainName.split('.')[0] ?? domainName,
    http: {
      method: request.method,
      path: rawPath,
      protocol: request.protocol,
      sourceIp: request.sourceIp,
      userAgent: headers['user-agent'] ?? '',
    },
    requestId: options.requestId,
    routeKey: match.routeKey,
    stage: '$default',
    time: apiGatewayTime(now),
    timeEpoch: now.getTime(),
  };
  if (options.authorizer) requestContext.authorizer = { jwt: { claims: options.authorizer.claims, scopes: options.authorizer.scopes } };

  const event: Record<string, unknown> = { version: '2.0', routeKey: match.routeKey, rawPath, rawQueryString };
  if (cookies.length > 0) event.cookies = cookies;
  event.headers = headers;
  if (Object.keys(queryStringParameters).length > 0) event.queryStringParameters = queryStringParameters;
  event.requestContext = requestContext;
  const hasBody = request.body.length > 0;
  const text = isTextContentType(headers['content-type']);
  if (hasBody) event.body = text ? request.body.toString('utf8') : request.body.toString('base64');
  if (Object.keys(match.pathParameters).length > 0) event.pathParameters = match.pathParameters;
  event.isBase64Encoded = hasBody && !text;
  return event;
}

// ---------------------------------------------------------------------------------------
// Lambda result → HTTP response

export interface HttpResult {
  statusCode: number;
  headers: Array<[string, string]>;
  body: Buffer;
}

function jsonResult(statusCode: number, value: unknown, extraHeaders: Array<[string, string]> = []): HttpResult {
  return { statusCode, headers: [['content-type', 'application/json'], ...extraHeaders], body: Buffer.from(JSON.stringify(value)) };
}

export const apiGatewayErrors = {
  notFound: () => jsonResult(404, { message: 'Not Found' }),
  forbidden: () => jsonResult(403, { message: 'Forbidden' }),
  unauthorized: (description: string) =>
    jsonResult(401, { message: 'Unauthorized' }, [['www-authenticate', `Bearer scope="" error="invalid_token" error_description="${description.replaceAll('"', "'")}"`]]),
  tooLarge: () => jsonResult(413, { message: 'Request Entity Too Large' }),
  internal: () => jsonResult(500, { message: 'Internal Server Error' }),
  unavailable: () => jsonResult(503, { message: 'Service Unavailable' }),
  notImplemented: (fn: string) =>
    jsonResult(501, { error: { code: 'NOT_IMPLEMENTED', message: `functions/${fn}/handler.ts does not exist yet; the local runtime skipped it` } }),
};

/**
 * Maps a handler's return value as API Gateway does for payload format 2.0. Returns an
 * error string for results API Gateway would reject (it answers 500 then).
 */
export function mapResult(result: unknown): HttpResult | { malformed: string } {
  if (result !== null && typeof result === 'object' && !Array.isArray(result) && 'statusCode' in result) {
    const r = result as Record<string, unknown>;
    const statusCode = typeof r.statusCode === 'string' ? Number(r.statusCode) : r.statusCode;
    if (typeof statusCode !== 'number' || !Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) {
      return { malformed: `statusCode ${JSON.stringify(r.statusCode)} is not an HTTP status code` };
    }
    if (r.body !== undefined && r.body !== null && typeof r.body !== 'string') return { malformed: 'body must be a string' };
    const headers: Array<[string, string]> = [];
    if (r.headers !== undefined && r.headers !== null) {
      if (typeof r.headers !== 'object') return { malformed: 'headers must be an object' };
      for (const [name, value] of Object.entries(r.headers as Record<string, unknown>)) {
        if (value === undefined || value === null) continue;
        if (typeof value === 'object') return { malformed: `header ${name} must be a string, number or boolean` };
        headers.push([name.toLowerCase(), String(value)]);
      }
    }
    if (r.cookies !== undefined && r.cookies !== null) {
      if (!Array.isArray(r.cookies)) return { malformed: 'cookies must be an array of strings' };
      for (const cookie of r.cookies) headers.push(['set-cookie', String(cookie)]);
    }
    const text = typeof r.body === 'string' ? r.body : '';
    const body = r.isBase64Encoded === true ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8');
    if (!headers.some(([name]) => name === 'content-type') && body.length > 0) headers.push(['content-type', 'application/json']);
    return { statusCode, headers, body };
  }
  const body = typeof result === 'string' ? result : JSON.stringify(result ?? null);
  return { statusCode: 200, headers: [['content-type', 'application/json']], body: Buffer.from(body) };
}

// ---------------------------------------------------------------------------------------
// CORS, as API Gateway applies an HTTP API's cors_configuration

/** `https://app.example.com`, `*`, or a scheme wildcard (`https://*`), as API Gateway accepts them. */
function originAllowed(cors: CorsConfig, origin: string): boolean {
  return cors.allowOrigins.some((allowed) => allowed === '*' || allowed.toLowerCase() === origin.toLowerCase() || (allowed.endsWith('://*') && origin.startsWith(allowed.slice(0, -1))));
}

/**
 * A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`): API Gateway
 * answers it without a route, an authorizer or a function, 204 with the allowed methods and
 * headers when origin, method and every requested header are allowed, and 204 without CORS
 * headers otherwise (the browser then refuses the request). Returns undefined for any other request.
 */
export function preflightResponse(cors: CorsConfig | undefined, method: string, headers: Record<string, string[] | undefined>): HttpResult | undefined {
  const origin = headers.origin?.[0];
  const requestedMethod = headers['access-control-request-method']?.[0];
  if (!cors || method !== 'OPTIONS' || !origin || !requestedMethod) return undefined;
  const requestedHeaders = (headers['access-control-request-headers'] ?? []).flatMap((h) => h.split(',')).map((h) => h.trim().toLowerCase()).filter(Boolean);
  const allowed =
    originAllowed(cors, origin) &&
    cors.allowMethods.some((m) => m === '*' || m === requestedMethod.toUpperCase()) &&
    requestedHeaders.every((h) => cors.allowHeaders.includes('*') || cors.allowHeaders.includes(h));
  const corsHeaders: Array<[string, string]> = allowed
    ? [
        ['access-control-allow-origin', origin],
        ['access-control-allow-methods', cors.allowMethods.join(',')],
        ['access-control-allow-headers', cors.allowHeaders.join(',')],
        ['access-control-max-age', String(cors.maxAgeSeconds)],
      ]
    : [];
  return { statusCode: 204, headers: corsHeaders, body: Buffer.alloc(0) };
}

/** A CORS request's response: the backend's CORS headers are ignored, the configured ones added for an allowed origin. */
export function withCorsHeaders(cors: CorsConfig | undefined, origin: string | undefined, result: HttpResult): HttpResult {
  if (!cors) return result;
  const headers = result.headers.filter(([name]) => !name.startsWith('access-control-'));
  if (origin && originAllowed(cors, origin)) {
    headers.push(['access-control-allow-origin', origin]);
    if (cors.exposeHeaders.length > 0) headers.push(['access-control-expose-headers', cors.exposeHeaders.join(',')]);
  }
  return { ...result, headers };
}

// ---------------------------------------------------------------------------------------
// The server

export function createHttpApi(options: HttpApiOptions): HttpApi {
  const compiled = compileRoutes(options.routes);
  const apiId = options.apiId ?? 'local';
  const log = options.log ?? ((line: string) => console.error(line));
  const limit = options.maxBodyBytes ?? maxRequestBodyBytes;
  let active = 0;
  let idleWaiters: Array<() => void> = [];

  /** Writes a response; a preflight answer carries its own CORS headers, every other one gets them here. */
  const send = (res: ServerResponse, requestId: string, answer: HttpResult, preflight = false) => {
    const result = preflight ? answer : withCorsHeaders(options.cors, res.req.headers.origin, answer);
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of result.headers) {
      const existing = headers[name];
      if (name === 'set-cookie') headers[name] = [...(Array.isArray(existing) ? existing : existing ? [existing] : []), value];
      else headers[name] = existing === undefined ? value : `${existing},${value}`;
    }
    headers['apigw-requestid'] = requestId;
    headers['content-length'] = String(result.body.length);
    res.writeHead(result.statusCode, headers);
    res.end(result.body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = randomBytes(10).toString('base64');
    const method = (req.method ?? 'GET').toUpperCase();
    const url = req.url ?? '/';
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      res.setHeader('connection', 'close');
      send(res, requestId, apiGatewayErrors.tooLarge());
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) {
        tooLarge = true;
        break;
      }
      chunks.push(chunk);
    }
    if (tooLarge) {
      res.setHeader('connection', 'close');
      send(res, requestId, apiGatewayErrors.tooLarge());
      return;
    }
    const preflight = preflightResponse(options.cors, method, req.headersDistinct);
    if (preflight) return send(res, requestId, preflight, true);
    const rawPath = url.split('?')[0] ?? '/';
    if (options.openApiDocument !== undefined && method === 'GET' && rawPath === '/openapi.json') {
      return send(res, requestId, { statusCode: 200, headers: [['content-type', 'application/json']], body: Buffer.from(options.openApiDocument) });
    }
    const local = options.localEndpoints?.[`${method} ${rawPath}`];
    if (local) return send(res, requestId, await local(Buffer.concat(chunks)));
    const match = matchRoute(compiled, method, rawPath);
    if (!match) return send(res, requestId, apiGatewayErrors.notFound());

    let authorizer: AuthorizerResult | undefined;
    if (match.target.auth === 'jwt') {
      const header = req.headersDistinct.authorization?.[0];
      const outcome = await authorize(options.authorizer, header);
      if (!outcome.ok) return send(res, requestId, apiGatewayErrors.unauthorized(outcome.reason));
      authorizer = outcome.authorizer;
      const required = match.target.scopes ?? [];
      if (required.length > 0 && !required.some((scope) => outcome.authorizer.scopes?.includes(scope))) return send(res, requestId, apiGatewayErrors.forbidden());
    }

    const fn = options.functionFor(match.target.function);
    if (!fn) return send(res, requestId, apiGatewayErrors.notImplemented(match.target.function));

    const headers: Record<string, string[]> = {};
    for (const [name, values] of Object.entries(req.headersDistinct)) if (values) headers[name] = values;
    const event = buildEvent(
      {
        method,
        url,
        headers,
        body: Buffer.concat(chunks),
        sourceIp: (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
        protocol: `HTTP/${req.httpVersion}`,
        localPort: req.socket.localPort ?? 0,
      },
      match,
      { apiId, requestId, authorizer },
    );
    const outcome = await invoke(fn, event, log);
    if (!outcome.ok) return send(res, requestId, outcome.timedOut ? apiGatewayErrors.unavailable() : apiGatewayErrors.internal());
    const mapped = mapResult(outcome.result);
    if ('malformed' in mapped) {
      log(JSON.stringify({ level: 'ERROR', function: fn.functionName, message: `malformed Lambda proxy response: ${mapped.malformed}` }));
      return send(res, requestId, apiGatewayErrors.internal());
    }
    send(res, requestId, mapped);
  };

  const server = createServer((req, res) => {
    // Counted until the handler has finished, even if the client went away meanwhile, so
    // close() never returns while an invocation still runs.
    active++;
    handle(req, res)
      .catch((error: unknown) => {
        log(JSON.stringify({ level: 'ERROR', message: 'local HTTP API failed', error: String(error) }));
        if (!res.headersSent) send(res, 'local', apiGatewayErrors.internal());
        else res.destroy();
      })
      .finally(() => {
        active--;
        // The response has been handed to the socket; what runs now cannot delay it.
        options.afterResponse?.();
        if (active === 0) {
          const waiters = idleWaiters;
          idleWaiters = [];
          for (const resolve of waiters) resolve();
        }
      });
  });

  return {
    server,
    inFlight: () => active,
    listen: (port, host = '127.0.0.1') =>
      new Promise<string>((resolve, reject) => {
        const onError = (error: NodeJS.ErrnoException) => {
          reject(
            error.code === 'EADDRINUSE'
              ? new Error(`port ${port} on ${host} is already in use; stop what listens there or choose another port (--port)`)
              : error,
          );
        };
        server.once('error', onError);
        server.listen(port, host, () => {
          server.off('error', onError);
          const address = server.address() as AddressInfo;
          resolve(`http://${host}:${address.port}`);
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close();
        server.closeIdleConnections();
        const done = () => {
          server.closeAllConnections();
          resolve();
        };
        if (active === 0) done();
        else idleWaiters.push(done);
      }),
  };
}
