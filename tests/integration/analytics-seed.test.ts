/**
 * The read benchmark's fast seeding (scripts/bench/analytics-seed.ts) writes exactly what the
 * processor writes: the same generated traffic (failures, imports, events redriven from the
 * DLQ; few users, so items accumulate over many batches) is stored through the processor's store, one transaction per
 * batch, in one table, and seeded with BatchWriteItem in another; the two tables must hold
 * the same items, attribute for attribute.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { storeEvents } from '../../functions/shared/analytics/store.ts';
import { setAwsClients } from '../../functions/shared/aws-clients.ts';
import { seedAnalytics } from '../../scripts/bench/analytics-seed.ts';
import { benchTraffic } from '../../scripts/bench/analytics-traffic.ts';
import { clientConfig } from '../../scripts/local/provision.ts';
import { awsEndpoint, provisionTestStack, region } from '../support/stack.ts';

let db: DynamoDBDocumentClient;
let processorTable: string;
let seededTable: string;

beforeAll(async () => {
  processorTable = (await provisionTestStack()).tableName('analytics');
  seededTable = (await provisionTestStack()).tableName('analytics');
  setAwsClients({});
  db = DynamoDBDocumentClient.from(new DynamoDBClient(clientConfig({ endpoint: awsEndpoint(), region })));
}, 60_000);

async function everyItem(table: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    // A whole-table read is what this check is for: two small test tables.
    const page = await db.send(new ScanCommand({ TableName: table, ...(ExclusiveStartKey ? { ExclusiveStartKey } : {}) }));
    items.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items.sort((a, b) => (`${a.pk}|${a.sk}` < `${b.pk}|${b.sk}` ? -1 : 1));
}

describe('seeding the analytics table for the read benchmark', () => {
  it('writes the same items as the processor storing the same batches', { timeout: 180_000 }, async () => {
    // Dense (8 users, 2 days), so items are added to by many batches: sets merge, sums accumulate.
    const batches = benchTraffic(400, Math.floor(Date.now() / 60_000) * 60_000, `seed-${randomUUID().slice(0, 8)}`, { users: 8, days: 2 });
    process.env.ANALYTICS_TABLE_NAME = processorTable;
    for (const batch of batches) expect(await storeEvents(batch)).toEqual(batch.map(() => 'stored'));
    process.env.ANALYTICS_TABLE_NAME = seededTable;
    const written = await seedAnalytics(batches);

    const byProcessor = await everyItem(processorTable);
    const seeded = await everyItem(seededTable);
    expect(written).toBe(byProcessor.length);
    // Every kind of item the store writes is in the sample.
    const kinds = new Set(byProcessor.map((item) => `${String(item.pk).split('#')[0]}:${/^[A-Z]+#/.test(String(item.sk)) ? String(item.sk).split('#')[0] : '-'}`));
    expect([...kinds].sort()).toEqual(['AGG:FUNCTION', 'AGG:HOUR', 'AGG:IMPORT', 'AGG:MINUTE', 'AGG:REDRIVE', 'EVENT:-', 'SHARDS:-', 'UDAY:-']);
    expect(seeded).toEqual(byProcessor);
  });
});
