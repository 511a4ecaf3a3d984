/**
 * A fault-injecting HTTP proxy for the wire between the functions and the AWS emulator.
 *
 * It listens on loopback only and forwards every request to one upstream (the emulator),
 * unless a rule matches the request's operation, in which case it answers for AWS:
 *
 * - `status500`: HTTP 500 with an AWS JSON error body (`InternalServerError`);
 * - `throttle`:  HTTP 400 `ThrottlingException` or `ProvisionedThroughputExceededException`;
 * - `latency`:   waits `ms`, then forwards;
 * - `drop`:      destroys the client's connection without an answer (ECONNRESET);
 * - `hang`:      never answers (the connection is released on close()).
 * - `lostAnswer`: forwards the request and lets the emulator apply it, then loses the
 *                answer: drops the connection once the answer is in (no `delayMs`), or
 *                holds it for `delayMs` first (past the client's request timeout, so the
 *                SDK has given up and retried). Either way the SDK resends a write that
 *                was applied, as it does on AWS when a response is lost in the network.
 *
 * The operation is the `x-amz-target` header (`DynamoDB_20120810.PutItem`,
 * `AWSEvents.PutEvents`, `AmazonSQS.SendMessageBatch`) or, for SQS's query protocol, the
 * form body's `Action` (reported as `AmazonSQS.<Action>`). Rules match by exact name, by
 * prefix (`DynamoDB_20120810.`), by RegExp or by predicate, and can be limited to the first
 * `times` matches. Everything is counted, so tests can report the faults they injected.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Fault =
  | { kind: 'status500' }
  | { kind: 'throttle'; code: 'ThrottlingException' | 'ProvisionedThroughputExceededException' }
  | { kind: 'latency'; ms: number }
  | { kind: 'drop' }
  | { kind: 'hang' }
  | { kind: 'lostAnswer'; delayMs?: number };

export interface FaultRule {
  /** An operation name or prefix (a string ending in `.` matches as a prefix), a RegExp, or a predicate. */
  target: string | RegExp | ((operation: string) => boolean);
  fault: Fault;
  /** Applies to this many matching requests, then stops matching. Default: every one. */
  times?: number;
  /** Lets this many matching requests through untouched before the rule applies. Default 0. */
  skip?: number;
}

export interface FaultProxyStats {
  requests: number;
  forwarded: number;
  faultsInjected: number;
  /** Requests per operation. */
  operations: Record<string, number>;
  /** Faults per `<operation> <kind>`. */
  faults: Record<string, number>;
}

export interface FaultProxy {
  /** `http://127.0.0.1:<port>` */
  url: string;
  setRules(rules: FaultRule[]): void;
  clearRules(): void;
  /** Points the proxy at another upstream (e.g. a restarted emulator on a new port). */
  setUpstream(upstream: string): void;
  stats(): FaultProxyStats;
  close(): Promise<void>;
}

function matches(rule: FaultRule, operation: string): boolean {
  const { target } = rule;
  if (typeof target === 'function') return target(operation);
  if (target instanceof RegExp) return target.test(operation);
  return target.endsWith('.') ? operation.startsWith(target) : operation === target;
}

/** The operation a request performs: `x-amz-target`, else the query protocol's `Action`. */
export function operationOf(headers: IncomingMessage['headers'], body: Buffer): string {
  const target = headers['x-amz-target'];
  if (typeof target === 'string' && target) return target;
  const action = new URLSearchParams(body.toString('utf8')).get('Action');
  return action ? `AmazonSQS.${action}` : 'unknown';
}

/** The AWS JSON error body the SDK parses into a named exception. */
export function awsJsonError(operation: string, name: string, message: string): { contentType: string; body: string } {
  const service = operation.split('.')[0] ?? '';
  const namespace = service.startsWith('DynamoDB') ? 'com.amazonaws.dynamodb.v20120810#' : service === 'AmazonSQS' ? 'com.amazonaws.sqs#' : '';
  const contentType = service === 'AWSEvents' ? 'application/x-amz-json-1.1' : 'application/x-amz-json-1.0';
  return { contentType, body: JSON.stringify({ __type: `${namespace}${name}`, message }) };
}

export async function startFaultProxy(options: { upstream: string }): Promise<FaultProxy> {
  let upstream = new URL(options.upstream);
  let rules: Array<FaultRule & { used: number; skipped: number }> = [];
  const stats: FaultProxyStats = { requests: 0, forwarded: 0, faultsInjected: 0, operations: {}, faults: {} };
  const sockets = new Set<Socket>();

  const count = (bag: Record<string, number>, key: string) => {
    bag[key] = (bag[key] ?? 0) + 1;
  };

  /** Forwards the request; `lose` (if given) gets the socket once the whole answer is in, instead of the client. */
  const forward = (req: IncomingMessage, body: Buffer, res: ServerResponse, lose?: () => void) => {
    stats.forwarded++;
    const headers = { ...req.headers, host: upstream.host };
    const outgoing = httpRequest(
      { hostname: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers },
      (answer) => {
        if (lose) {
          answer.resume();
          answer.once('end', lose);
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    // The upstream is down (a stopped emulator): the caller sees what it would see without us.
    outgoing.once('error', () => req.socket.destroy());
    outgoing.end(body);
  };

  const handle = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    stats.requests++;
    const operation = operationOf(req.headers, body);
    count(stats.operations, operation);
    const rule = rules.find((r) => (r.times === undefined || r.used < r.times) && matches(r, operation) && r.skipped++ >= (r.skip ?? 0));
    if (!rule) return forward(req, body, res);
    rule.used++;
    stats.faultsInjected++;
    count(stats.faults, `${operation} ${rule.fault.kind}`);
    const fault = rule.fault;
    switch (fault.kind) {
      case 'status500': {
        const error = awsJsonError(operation, 'InternalServerError', 'injected by the fault proxy');
        res.writeHead(500, { 'content-type': error.contentType, 'x-amzn-requestid': 'fault-proxy' });
        res.end(error.body);
        return;
      }
      case 'throttle': {
        const error = awsJsonError(operation, fault.code, 'Rate exceeded (injected by the fault proxy)');
        res.writeHead(400, { 'content-type': error.contentType, 'x-amzn-requestid': 'fault-proxy' });
        res.end(error.body);
        return;
      }
      case 'latency': {
        const timer = setTimeout(() => forward(req, body, res), fault.ms);
        res.once('close', () => clearTimeout(timer));
        return;
      }
      case 'drop':
        req.socket.destroy();
        return;
      case 'hang':
        // Nothing: the client waits until it gives up, or until close() releases the socket.
        return;
      case 'lostAnswer': {
        const lose = () => {
          if (fault.delayMs === undefined) return req.socket.destroy();
          const timer = setTimeout(() => req.socket.destroy(), fault.delayMs);
          res.once('close', () => clearTimeout(timer));
        };
        forward(req, body, res, lose);
        return;
      }
    }
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handle(req, res, Buffer.concat(chunks)));
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${address.port}`,
    setRules: (next) => {
      rules = next.map((rule) => ({ ...rule, used: 0, skipped: 0 }));
    },
    clearRules: () => {
      rules = [];
    },
    setUpstream: (next) => {
      upstream = new URL(next);
    },
    stats: () => structuredClone(stats),
    close: () =>
      new Promise<void>((resolve) => {
        rules = [];
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
