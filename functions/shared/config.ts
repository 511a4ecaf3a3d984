/** Reads the function's configuration from its environment, lazily, with a clear error. */
export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set`);
  return value;
}

export function optionalEnv(name: string, fallback: string): string {
  return process.env[name] || fallback;
}

/** The item shards a new collection gets when ITEM_SHARDS is not set (docs/SCALE.md); at most MAX_ITEM_SHARDS. */
export const DEFAULT_ITEM_SHARDS = 32;
export const MAX_ITEM_SHARDS = 64;

/** ITEM_SHARDS: an integer from 1 to MAX_ITEM_SHARDS, else the function refuses to start its work. */
function itemShards(): number {
  const raw = process.env.ITEM_SHARDS;
  if (raw === undefined || raw === '') return DEFAULT_ITEM_SHARDS;
  const shards = Number(raw);
  if (!Number.isInteger(shards) || shards < 1 || shards > MAX_ITEM_SHARDS) throw new Error(`ITEM_SHARDS must be an integer from 1 to ${MAX_ITEM_SHARDS}, got ${JSON.stringify(raw)}`);
  return shards;
}

export const config = {
  dataTable: () => requireEnv('DATA_TABLE_NAME'),
  analyticsTable: () => requireEnv('ANALYTICS_TABLE_NAME'),
  appBus: () => requireEnv('APP_BUS_NAME'),
  analyticsBus: () => requireEnv('ANALYTICS_BUS_NAME'),
  importQueueUrl: () => requireEnv('IMPORT_QUEUE_URL'),
  /** Where analytics events go when EventBridge will not take them (the analytics queue's DLQ). */
  analyticsFallbackQueueUrl: () => process.env.ANALYTICS_DLQ_URL,
  /** The analytics queue and the import queue's DLQ: only their depths are read (GET /analytics/health). */
  analyticsQueueUrl: () => process.env.ANALYTICS_QUEUE_URL,
  importDlqUrl: () => process.env.IMPORT_DLQ_URL,
  /** Where domain events go when EventBridge will not take them (the app-events queue's DLQ). */
  appFallbackQueueUrl: () => process.env.APP_EVENTS_DLQ_URL,
  environment: () => optionalEnv('ENVIRONMENT', 'local'),
  /** Partition keys a new collection's items are spread over; fixed per collection at its first write (items/shards.ts). */
  itemShards,
  /** Extra field names to redact, comma-separated, on top of the built-in list. */
  redactFields: () => optionalEnv('REDACT_FIELDS', ''),
};
