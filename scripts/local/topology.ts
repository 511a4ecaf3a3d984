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
import { DEFAULT_ITEM_SHARDS } from '../../functions/shared/config.ts';
export interface IndexDeclaration {
  name: string;
  hashKey: string;
  rangeKey: string;
  /**
   * What the index copies. The data table's list indexes hold keys only: a list reads a
   * page's items from the table (BatchGetItem), so a write of an item up to 400 KB is not
   * paid again in each index. The analytics byUser index serves whole events.
   */
  projection: 'ALL' | 'KEYS_ONLY';
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
  /** As declared; `${own_account}` stands for the deploying account (eventPatternFor). */
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
  /** The route's own API Gateway throttle (all callers together); the stage's applies otherwise. The local stack does not throttle. */
  throttle?: { burstLimit: number; rateLimit: number };
  /** OAuth scopes the JWT authorizer requires (the token's scope must hold one): `admin` on admin routes. */
  scopes?: string[];
}

/** The API's CORS rules; API Gateway and the local stack both answer from them. */
export interface CorsDeclaration {
  allowMethods: string[];
  allowHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds: number;
  /** Origins the local stack allows (each deployed environment sets cors_allowed_origins). */
  localAllowOrigins: string[];
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
    indexes: t.indexes.map((i) => ({ name: i.name, hashKey: i.hash_key, rangeKey: i.range_key, projection: known(i.projection, ['ALL', 'KEYS_ONLY'] as const, 'projection', `index ${i.name}`) })),
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
    ...('throttle' in r ? { throttle: { burstLimit: r.throttle.burst_limit, rateLimit: r.throttle.rate_limit } } : {}),
    ...('scopes' in r ? { scopes: r.scopes } : {}),
  }));
  const cors: CorsDeclaration = {
    allowMethods: json.cors.allow_methods,
    allowHeaders: json.cors.allow_headers,
    exposeHeaders: json.cors.expose_headers,
    maxAgeSeconds: json.cors.max_age_seconds,
    localAllowOrigins: json.cors.local_allow_origins,
  };
  // Archives exist on AWS only (the local stack replays nothing); read here for the plan check.
  const archives: Record<string, { description: string; eventPattern: Record<string, unknown>; bus: BusName }> = mapEntries(json.archives, (a, key) => ({
    description: a.description,
    eventPattern: a.event_pattern,
    bus: known(key, json.buses, 'bus', `archive ${key}`),
  }));
  return { functions, tables, queues, buses, rules, routes, cors, archives };
}

export const { functions, tables, queues, buses, rules, routes, cors, archives } = readTopology(declared);

/** The placeholder a rule's pattern uses for the account it is deployed in (terraform/modules/event-bus replaces it too). */
export const OWN_ACCOUNT = '${own_account}';

/** A rule's event pattern in the account `accountId`. */
export function eventPatternFor(rule: RuleDeclaration, accountId: string): Record<string, unknown> {
  return JSON.parse(JSON.stringify(rule.eventPattern).replaceAll(OWN_ACCOUNT, accountId)) as Record<string, unknown>;
}

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
  /** Partition keys a new collection's items are spread over (Terraform's item_shards). */
  itemShards?: number;
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
    ITEM_SHARDS: String(names.itemShards ?? DEFAULT_ITEM_SHARDS),
  };
}
