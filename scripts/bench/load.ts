/**
 * The local API under load: a mixed read/write workload (4 reads : 1 write) from N
 * concurrent clients with autocannon, on loopback, for a bounded time. Afterwards the
 * analytics queue is drained and the stored analytics events are counted against the
 * requests made: exactly one per request is the target.
 */
import { BatchWriteCommand, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import autocannon from 'autocannon';
import { dynamo } from '../../functions/shared/aws-clients.ts';
import { DEFAULT_ITEM_SHARDS } from '../../functions/shared/config.ts';
import { toItemRecord } from '../../functions/shared/items/item.ts';
import { collectionPartition, STATS_SORT_KEY } from '../../functions/shared/items/keys.ts';
import { generateSigningKeys, mintToken } from '../local/jwt.ts';
import { startRuntime } from '../local/runtime.ts';
import { freshStack, queueDepth, waitFor } from './fixtures.ts';

export interface LoadResult {
  rps: number;
  p99_ms: number;
  errors: number;
  requests: number;
  analytics_events: number;
  connections: number;
  seconds: number;
}

const TENANT = 'load';
const IDS = 200;

export async function measureLoad(endpoint: string, options: { connections: number; seconds: number }): Promise<LoadResult> {
  const stack = await freshStack(endpoint, 'load');
  // Seed directly, so that only the measured requests produce analytics events.
  const now = new Date().toISOString();
  // The collection's STATS record says where its items are (functions/shared/items/shards.ts).
  await dynamo().send(new PutCommand({ TableName: stack.tableName('data'), Item: { pk: collectionPartition(TENANT, 'load'), sk: STATS_SORT_KEY, itemShards: DEFAULT_ITEM_SHARDS, itemCount: IDS } }));
  for (let i = 0; i < IDS; i += 25) {
    const items = Array.from({ length: 25 }, (_, j) => ({ PutRequest: { Item: toItemRecord(TENANT, { collection: 'load', id: `i${i + j}`, data: { n: i + j }, version: 1, createdAt: now, updatedAt: now }, DEFAULT_ITEM_SHARDS) } }));
    await dynamo().send(new BatchWriteCommand({ RequestItems: { [stack.tableName('data')]: items } }));
  }
  const keys = await generateSigningKeys();
  const runtime = await startRuntime({ endpoint, stack, port: 0, publicKey: keys.publicKey, log: () => undefined });
  try {
    const token = await mintToken(keys, { sub: 'loader', tenant: TENANT });
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    let n = 0;
    // Requests handed to the sockets: autocannon's own total leaves out those still in flight
    // when its time is up, which the server may still have answered (and recorded).
    let sent = 0;
    const count = () => {
      sent++;
      return {};
    };
    const result = await autocannon({
      url: runtime.url,
      connections: options.connections,
      duration: options.seconds,
      headers,
      requests: [
        { method: 'PUT', setupRequest: (request) => ({ ...request, ...count(), path: `/items/load/i${n++ % IDS}`, body: JSON.stringify({ n, at: Date.now() }) }) },
        { method: 'GET', setupRequest: (request) => ({ ...request, ...count(), path: `/items/load/i${n++ % IDS}` }) },
        { method: 'GET', setupRequest: (request) => ({ ...request, ...count(), path: `/items/load?limit=10` }) },
        { method: 'GET', setupRequest: (request) => ({ ...request, ...count(), path: `/items/load/i${n++ % IDS}` }) },
        { method: 'GET', setupRequest: (request) => ({ ...request, ...count(), path: `/collections/load/stats` }) },
      ],
    });
    const requests = Math.max(sent, result.requests.total);
    // Every request's analytics event must reach the table once the pipeline settles.
    await waitFor(async () => (await queueDepth(endpoint, stack.queueUrl('analytics'))) === 0, 10 * 60_000, 500);
    let stored = 0;
    let start: Record<string, unknown> | undefined;
    do {
      const page = await dynamo().send(
        new ScanCommand({ TableName: stack.tableName('analytics'), FilterExpression: 'begins_with(pk, :p)', ExpressionAttributeValues: { ':p': `EVENT#${TENANT}#` }, Select: 'COUNT', ...(start ? { ExclusiveStartKey: start } : {}) }),
      );
      stored += page.Count ?? 0;
      start = page.LastEvaluatedKey;
    } while (start);
    return {
      rps: Math.round(result.requests.average),
      p99_ms: result.latency.p99,
      errors: result.errors + result.timeouts + result.non2xx,
      requests,
      analytics_events: stored,
      connections: options.connections,
      seconds: options.seconds,
    };
  } finally {
    await runtime.stop();
  }
}
