/**
 * The system's topology: tables, queues (with their DLQs and redrive), event buses, rules,
 * routes and functions. It is declared once, in terraform/modules/event-flows/topology.json,
 * which Terraform reads (topology.tf) and this module imports, so the local stack provisions
 * exactly what AWS gets. This module only gives the JSON its camelCase shape and types, and
 * checks that every name it refers to (a consumer, a bus, a queue, a route's function) exists.
 *
 * Names here are logical; each environment prefixes them (`event-flows-local-data`,
 * `event-flows-dev-data`, ...).
 */
import declared from '../../terraform/modules/event-flows/topology.json' with { type: 'json' };
export interface IndexDeclaration {
  name: string;
  hashKey: string;
  rangeKey: string;
}

export interface TableDeclaration {
  hashKey: string;
  rangeKey: string;
  /** Attribute that holds an epoch-seconds expiry; DynamoDB TTL deletes the item after it. */
  ttlAttribute: string;
  indexes: IndexDeclaration[];
}

export interface QueueDeclaration {
  /** Receives before a message moves to `<name>-dlq`. */
  maxReceiveCount: number;
  /** The function that consumes the queue through an event source mapping. */
  consumer: FunctionName;
  batchSize: number;
  batchingWindowSeconds: number;
  maximumConcurrency: number;
}

export interface RuleDeclaration {
  bus: BusName;
  eventPattern: Record<string, unknown>;
  /** The queue the rule targets; delivery failures go to `<queue>-delivery-dlq`. */
  targetQueue: QueueName;
}

export interface FunctionDeclaration {
  description: string;
  memoryMb: number;
  timeoutSeconds: number;
}

export interface RouteDeclaration {
  function: FunctionName;
  /** `none` only for the health check; everything else passes the JWT authorizer. */
  auth: 'jwt' | 'none';
}

export type FunctionName = keyof typeof declared.functions;
export type TableName = keyof typeof declared.tables;
export type QueueName = keyof typeof declared.queues;
export type BusName = (typeof declared.buses)[number];
export type RouteKey = keyof typeof declared.routes;

/** The JSON's entries under their keys, converted one by one (key order kept). */
function mapEntries<K extends string, V, T>(entries: Record<K, V>, convert: (value: V, key: K) => T): Record<K, T> {
  return Object.fromEntries(Object.entries(entries).map(([key, value]) => [key, convert(value as V, key as K)])) as Record<K, T>;
}

/** `name` if it is one of `known`; otherwise topology.json refers to something it does not declare. */
function known<N extends string>(name: string, known: Record<N, unknown> | readonly N[], what: string, where: string): N {
  const names: readonly string[] = Array.isArray(known) ? known : Object.keys(known);
  if (!names.includes(name)) throw new Error(`topology.json: ${where} names the ${what} "${name}", which it does not declare`);
  return name as N;
}

/** The topology in camelCase with its types; throws when an entry names something topology.json does not declare. */
export function readTopology(json: typeof declared) {
  const functions: Record<FunctionName, FunctionDeclaration> = mapEntries(json.functions, (f) => ({
    description: f.description,
    memoryMb: f.memory_mb,
    timeoutSeconds: f.timeout_seconds,
  }));
  const tables: Record<TableName, TableDeclaration> = mapEntries(json.tables, (t) => ({
    hashKey: t.hash_key,
    rangeKey: t.range_key,
    ttlAttribute: t.ttl_attribute,
    indexes: t.indexes.map((i) => ({ name: i.name, hashKey: i.hash_key, rangeKey: i.range_key })),
  }));
  const queues: Record<QueueName, QueueDeclaration> = mapEntries(json.queues, (q, key) => ({
    maxReceiveCount: q.max_receive_count,
    consumer: known(q.consumer, json.functions, 'function', `queue ${key}`),
    batchSize: q.batch_size,
    batchingWindowSeconds: q.batching_window_seconds,
    maximumConcurrency: q.maximum_concurrency,
  }));
  const buses: readonly BusName[] = json.buses;
  // Event patterns differ in shape from rule to rule, so the JSON's inferred type is a union.
  const declaredRules = json.rules as Record<string, { bus: string; event_pattern: Record<string, unknown>; target_queue: string }>;
  const rules: Record<string, RuleDeclaration> = mapEntries(declaredRules, (r, key) => ({
    bus: known(r.bus, json.buses, 'bus', `rule ${key}`),
    eventPattern: r.event_pattern,
    targetQueue: known(r.target_queue, json.queues, 'queue', `rule ${key}`),
  }));
  const routes: Record<RouteKey, RouteDeclaration> = mapEntries(json.routes, (r, key) => ({
    function: known(r.function, json.functions, 'function', `route ${key}`),
    auth: known(r.auth, ['jwt', 'none'] as const, 'auth mode', `route ${key}`),
  }));
  return { functions, tables, queues, buses, rules, routes };
}

export const { functions, tables, queues, buses, rules, routes } = readTopology(declared);

/** Queues that a rule targets: each gets a `<queue>-delivery-dlq` for EventBridge delivery failures. */
export function ruleTargetQueues(): QueueName[] {
  return [...new Set(Object.values(rules).map((rule) => rule.targetQueue))];
}

/** Environment variables every function receives, named after the resources they point to. */
export function functionEnvironment(names: {
  table: (t: TableName) => string;
  bus: (b: BusName) => string;
  queueUrl: (q: QueueName | `${QueueName}-dlq`) => string;
  environment: string;
}): Record<string, string> {
  return {
    ENVIRONMENT: names.environment,
    DATA_TABLE_NAME: names.table('data'),
    ANALYTICS_TABLE_NAME: names.table('analytics'),
    APP_BUS_NAME: names.bus('app'),
    ANALYTICS_BUS_NAME: names.bus('analytics'),
    IMPORT_QUEUE_URL: names.queueUrl('import'),
    ANALYTICS_DLQ_URL: names.queueUrl('analytics-dlq'),
    APP_EVENTS_DLQ_URL: names.queueUrl('app-events-dlq'),
    ANALYTICS_QUEUE_URL: names.queueUrl('analytics'),
    IMPORT_DLQ_URL: names.queueUrl('import-dlq'),
    IMPORT_MAX_RECEIVE_COUNT: String(queues.import.maxReceiveCount),
  };
}
