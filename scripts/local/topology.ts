/**
 * The system's topology, declared once: tables, queues (with their DLQs and redrive),
 * event buses, rules, routes and functions. The local stack provisions exactly this, and
 * tests/infra/drift.test.ts fails when terraform/ says anything different.
 *
 * Names here are logical; each environment prefixes them (`event-flows-local-data`,
 * `event-flows-dev-data`, ...).
 */

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

export const functions = {
  query: { description: 'Reads items and collection stats', memoryMb: 512, timeoutSeconds: 10 },
  write: { description: 'Creates, replaces, patches and deletes items', memoryMb: 512, timeoutSeconds: 10 },
  'event-processor': {
    description: 'Import API and central router of application events',
    memoryMb: 1024,
    timeoutSeconds: 30,
  },
  import: { description: 'Batch-writes queued import chunks', memoryMb: 1024, timeoutSeconds: 60 },
  analytics: { description: 'Validates, enriches and stores analytics events', memoryMb: 512, timeoutSeconds: 30 },
  'analytics-api': {
    description: 'Reads analytics and accepts front-end events',
    memoryMb: 512,
    timeoutSeconds: 10,
  },
} as const satisfies Record<string, FunctionDeclaration>;
export type FunctionName = keyof typeof functions;

export const tables = {
  data: {
    hashKey: 'pk',
    rangeKey: 'sk',
    ttlAttribute: 'expiresAt',
    indexes: [
      { name: 'byCreatedAt', hashKey: 'pk', rangeKey: 'createdSort' },
      { name: 'byUpdatedAt', hashKey: 'pk', rangeKey: 'updatedSort' },
    ],
  },
  analytics: {
    hashKey: 'pk',
    rangeKey: 'sk',
    ttlAttribute: 'expiresAt',
    indexes: [{ name: 'byUser', hashKey: 'userPk', rangeKey: 'userSk' }],
  },
} as const satisfies Record<string, TableDeclaration>;
export type TableName = keyof typeof tables;

/**
 * What each table's indexes copy. The data table's list indexes hold keys only: the list
 * reads a page's items from the table (BatchGetItem), so a write of an item up to 400 KB is
 * not paid again in each index. The analytics byUser index serves whole events. Kept apart
 * from `tables` (which tests/infra/drift.test.ts compares with terraform's locals); terraform
 * sets the same in modules/event-flows/main.tf.
 */
export const indexProjections = { data: 'KEYS_ONLY', analytics: 'ALL' } as const satisfies Record<TableName, 'KEYS_ONLY' | 'ALL'>;

export const queues = {
  import: {
    maxReceiveCount: 5,
    consumer: 'import',
    batchSize: 10,
    batchingWindowSeconds: 0,
    maximumConcurrency: 10,
  },
  'app-events': {
    maxReceiveCount: 5,
    consumer: 'event-processor',
    batchSize: 10,
    batchingWindowSeconds: 1,
    maximumConcurrency: 5,
  },
  analytics: {
    maxReceiveCount: 5,
    consumer: 'analytics',
    batchSize: 10,
    batchingWindowSeconds: 1,
    maximumConcurrency: 5,
  },
} as const satisfies Record<string, QueueDeclaration>;
export type QueueName = keyof typeof queues;

export const buses = ['app', 'analytics'] as const;
export type BusName = (typeof buses)[number];

export const rules = {
  'app-to-event-processor': {
    bus: 'app',
    eventPattern: { source: ['event-flows.items', 'event-flows.imports'] },
    targetQueue: 'app-events',
  },
  'analytics-to-processor': {
    bus: 'analytics',
    eventPattern: { 'detail-type': [{ suffix: '_ANALYTICS' }] },
    targetQueue: 'analytics',
  },
} as const satisfies Record<string, RuleDeclaration>;

/** Queues that a rule targets: each gets a `<queue>-delivery-dlq` for EventBridge delivery failures. */
export function ruleTargetQueues(): QueueName[] {
  return [...new Set(Object.values(rules).map((rule) => rule.targetQueue))];
}

export const routes = {
  'GET /health': { function: 'query', auth: 'none' },
  'GET /items/{collection}': { function: 'query', auth: 'jwt' },
  'GET /items/{collection}/{id}': { function: 'query', auth: 'jwt' },
  'GET /collections/{collection}/stats': { function: 'query', auth: 'jwt' },
  'PUT /items/{collection}/{id}': { function: 'write', auth: 'jwt' },
  'PATCH /items/{collection}/{id}': { function: 'write', auth: 'jwt' },
  'DELETE /items/{collection}/{id}': { function: 'write', auth: 'jwt' },
  'POST /imports': { function: 'event-processor', auth: 'jwt' },
  'POST /imports/{importId}/items': { function: 'event-processor', auth: 'jwt' },
  'POST /imports/{importId}/commit': { function: 'event-processor', auth: 'jwt' },
  'POST /imports/{importId}/cancel': { function: 'event-processor', auth: 'jwt' },
  'GET /imports/{importId}': { function: 'event-processor', auth: 'jwt' },
  'GET /imports/{importId}/failures': { function: 'event-processor', auth: 'jwt' },
  'GET /analytics/summary': { function: 'analytics-api', auth: 'jwt' },
  'GET /analytics/timeseries': { function: 'analytics-api', auth: 'jwt' },
  'GET /analytics/users/{userId}/events': { function: 'analytics-api', auth: 'jwt' },
  'POST /events': { function: 'analytics-api', auth: 'jwt' },
} as const satisfies Record<string, RouteDeclaration>;
export type RouteKey = keyof typeof routes;

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
    IMPORT_MAX_RECEIVE_COUNT: String(queues.import.maxReceiveCount),
  };
}
