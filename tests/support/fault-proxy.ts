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
 *
 * Capacity mode (`capacity` option): DynamoDB's per-partition and per-item write limits.
 * Every DynamoDB write is charged (by the caller's `charges`, which knows item sizes) to a
 * token bucket per partition (table + partition key, or index + its partition key) and per
 * item (table + partition key + sort key: an item is never split across partitions); buckets
 * refill at their rate on the `clock` (real or simulated seconds) and hold `burstSeconds` of
 * it. A write any of whose buckets lacks the units is refused as DynamoDB refuses it, and
 * consumes nothing: HTTP 400 `ThrottlingException` for an on-demand table
 * (`ProvisionedThroughputExceededException` for provisioned capacity), and for
 * TransactWriteItems a `TransactionCanceledException` whose `CancellationReasons` say
 * `ThrottlingError` for each throttled action and `None` for the others (DynamoDB API
 * reference, TransactWriteItems). A BatchWriteItem is refused whole (DynamoDB may instead
 * return the throttled part as UnprocessedItems).
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

/** Units one write costs one key: a table item (its partition and the item itself) or an index entry (its partition). */
export interface WriteCharge {
  /** The table, or `<table>/<index>` for an index entry. */
  table: string;
  pk: string;
  /** The item's sort key; absent for an index entry (an index partition has no per-item limit here). */
  sk?: string;
  units: number;
  /** Position of the action in a TransactWriteItems (for its cancellation reasons). */
  action?: number;
}

export interface CapacityOptions {
  /** Write units per second one partition takes (DynamoDB: 1,000). */
  partitionWriteUnitsPerSecond: number;
  /** Write units per second one item takes (DynamoDB: 1,000, the partition's; an item is never split). */
  itemWriteUnitsPerSecond: number;
  /** Unused capacity a bucket keeps, in seconds of its rate (DynamoDB keeps up to 300 s of burst). */
  burstSeconds: number;
  /** The time in seconds; a simulation passes its own clock. Default: real time. */
  clock?: () => number;
  /** On-demand tables are throttled with ThrottlingException, provisioned ones with ProvisionedThroughputExceededException. */
  billing?: 'on-demand' | 'provisioned';
  /** What a DynamoDB write (operation without the `DynamoDB_20120810.` prefix, JSON body) costs each key. */
  charges: (operation: string, body: Record<string, unknown>) => Promise<WriteCharge[]>;
}

export interface CapacityStats {
  /** Writes refused, per operation. */
  throttled: Record<string, number>;
  admitted: number;
  /** Units admitted per bucket (`<table>|<pk>` or `<table>|<pk>|<sk>`). */
  unitsByKey: Record<string, number>;
}

const THROTTLE_MESSAGE = 'Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table or index so please try again shortly. If exceptions persist, check if you have a hot key: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html';

/** Token buckets keyed by partition and by item. */
class CapacityLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  readonly stats: CapacityStats = { throttled: {}, admitted: 0, unitsByKey: {} };

  constructor(private readonly options: CapacityOptions) {}

  now(): number {
    return this.options.clock ? this.options.clock() : performance.now() / 1000;
  }

  /** The demand of each bucket a write touches. */
  private demand(charges: WriteCharge[]): Map<string, { units: number; rate: number; actions: Set<number> }> {
    const demand = new Map<string, { units: number; rate: number; actions: Set<number> }>();
    const add = (key: string, rate: number, charge: WriteCharge) => {
      const d = demand.get(key) ?? { units: 0, rate, actions: new Set<number>() };
      d.units += charge.units;
      if (charge.action !== undefined) d.actions.add(charge.action);
      demand.set(key, d);
    };
    for (const charge of charges) {
      add(`${charge.table}|${charge.pk}`, this.options.partitionWriteUnitsPerSecond, charge);
      if (charge.sk !== undefined) add(`${charge.table}|${charge.pk}|${charge.sk}`, this.options.itemWriteUnitsPerSecond, charge);
    }
    return demand;
  }

  /** Takes the units from every bucket, or none: undefined when admitted, else the throttled transaction actions. */
  admit(operation: string, charges: WriteCharge[]): { throttledActions: Set<number> } | undefined {
    const now = this.now();
    const demand = this.demand(charges);
    const throttledActions = new Set<number>();
    let throttled = false;
    for (const [key, d] of demand) {
      const capacity = d.rate * this.options.burstSeconds;
      const bucket = this.buckets.get(key) ?? { tokens: capacity, at: now };
      bucket.tokens = Math.min(capacity, bucket.tokens + Math.max(0, now - bucket.at) * d.rate);
      bucket.at = Math.max(bucket.at, now);
      this.buckets.set(key, bucket);
      if (bucket.tokens < d.units) {
        throttled = true;
        for (const action of d.actions) throttledActions.add(action);
      }
    }
    if (throttled) {
      this.stats.throttled[operation] = (this.stats.throttled[operation] ?? 0) + 1;
      return { throttledActions };
    }
    for (const [key, d] of demand) {
      this.buckets.get(key)!.tokens -= d.units;
      this.stats.unitsByKey[key] = (this.stats.unitsByKey[key] ?? 0) + d.units;
    }
    this.stats.admitted++;
    return undefined;
  }
}

const DYNAMO_WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);

export interface FaultProxy {
  /** `http://127.0.0.1:<port>` */
  url: string;
  setRules(rules: FaultRule[]): void;
  clearRules(): void;
  /** Points the proxy at another upstream (e.g. a restarted emulator on a new port). */
  setUpstream(upstream: string): void;
  stats(): FaultProxyStats;
  /** Capacity mode's counts (undefined without it). */
  capacityStats(): CapacityStats | undefined;
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

export async function startFaultProxy(options: { upstream: string; capacity?: CapacityOptions }): Promise<FaultProxy> {
  let upstream = new URL(options.upstream);
  const limiter = options.capacity ? new CapacityLimiter(options.capacity) : undefined;
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

  /** Capacity mode: charge the write to its buckets, then forward it or answer as DynamoDB does when throttled. */
  const admitThenForward = async (req: IncomingMessage, body: Buffer, res: ServerResponse, operation: string, write: string) => {
    let charges: WriteCharge[];
    try {
      charges = await options.capacity!.charges(write, JSON.parse(body.toString('utf8')) as Record<string, unknown>);
    } catch {
      return forward(req, body, res); // not a write we can read: DynamoDB will say what is wrong with it
    }
    const refused = limiter!.admit(operation, charges);
    if (!refused) return forward(req, body, res);
    count(stats.faults, `${operation} capacity`);
    let error: { contentType: string; body: string };
    if (write === 'TransactWriteItems') {
      const actions = ((JSON.parse(body.toString('utf8')) as { TransactItems?: unknown[] }).TransactItems ?? []).length;
      const reasons = Array.from({ length: actions }, (_, i) => (refused.throttledActions.has(i) ? { Code: 'ThrottlingError', Message: THROTTLE_MESSAGE } : { Code: 'None' }));
      const message = `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(', ')}]`;
      error = { contentType: 'application/x-amz-json-1.0', body: JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException', Message: message, CancellationReasons: reasons }) };
    } else {
      const name = options.capacity!.billing === 'provisioned' ? 'ProvisionedThroughputExceededException' : 'ThrottlingException';
      error = awsJsonError(operation, name, THROTTLE_MESSAGE);
    }
    res.writeHead(400, { 'content-type': error.contentType, 'x-amzn-requestid': 'fault-proxy' });
    res.end(error.body);
  };

  const handle = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    stats.requests++;
    const operation = operationOf(req.headers, body);
    count(stats.operations, operation);
    const rule = rules.find((r) => (r.times === undefined || r.used < r.times) && matches(r, operation) && r.skipped++ >= (r.skip ?? 0));
    if (!rule) {
      const write = operation.startsWith('DynamoDB_20120810.') ? operation.slice('DynamoDB_20120810.'.length) : '';
      if (limiter && DYNAMO_WRITES.has(write)) return void admitThenForward(req, body, res, operation, write);
      return forward(req, body, res);
    }
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
    capacityStats: () => (limiter ? structuredClone(limiter.stats) : undefined),
    close: () =>
      new Promise<void>((resolve) => {
        rules = [];
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
