/**
 * Adaptive shard counts (functions/shared/analytics/shard-counts.ts) against the emulator: a
 * quiet tenant's day stays one partition and reads with few requests; throttling (the fault
 * proxy's capacity mode) grows a tenant-day's count, recorded before any write to a new
 * shard, and the reads still see every event; growth never shrinks a count; data written
 * with the fixed layout before adaptive counts is still read whole.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { HandlerExecutionContext } from '@smithy/types';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAYOUT_KEY, SHARDS, shardCountKey } from '../../functions/shared/analytics/keys.ts';
import { forgetShardCounts, growShardCounts, writerShardCounts } from '../../functions/shared/analytics/shard-counts.ts';
import { readAggregates, readDayEvents, readUserDays, storeEvents, type EventToStore } from '../../functions/shared/analytics/store.ts';
import { dynamo, setAwsClients } from '../../functions/shared/aws-clients.ts';
import { seededItems, writeItems } from '../../scripts/bench/analytics-seed.ts';
import { benchTraffic } from '../../scripts/bench/analytics-traffic.ts';
import { tableShapesOf, writeCharges } from '../../scripts/bench/aws-usage.ts';
import { clientConfig, type ProvisionedStack } from '../../scripts/local/provision.ts';
import { startFaultProxy, type WriteCharge } from '../support/fault-proxy.ts';
import { apiEvent, lambdaContext } from '../support/invoke.ts';
import { awsEndpoint, provisionTestStack, region } from '../support/stack.ts';

const DAY = 86_400_000;
let stack: ProvisionedStack;
let table: string;
let direct: DynamoDBDocumentClient;
const end = Math.floor(Date.now() / 60_000) * 60_000;
const iso = (t: number) => new Date(t).toISOString();
const dayOf = (t: number) => iso(t).slice(0, 10);
const weekDays = Array.from({ length: 8 }, (_, i) => dayOf(end - (7 - i) * DAY));

/** Counts this process's DynamoDB calls by command while `work` runs (a middleware on the functions' own client). */
async function countCalls<T>(work: () => Promise<T>): Promise<{ result: T; calls: Record<string, number> }> {
  const calls: Record<string, number> = {};
  const name = 'countShardTestCalls';
  dynamo().middlewareStack.add(
    (next, context: HandlerExecutionContext) => (args) => {
      const command = String(context.commandName).replace(/Command$/, '');
      calls[command] = (calls[command] ?? 0) + 1;
      return next(args);
    },
    { step: 'initialize', name },
  );
  try {
    return { result: await work(), calls };
  } finally {
    dynamo().middlewareStack.remove(name);
  }
}

const storedCount = async (tenant: string) => (await readAggregates(tenant, 'MINUTE', iso(end - 8 * DAY), iso(end + 60_000))).reduce((sum, row) => sum + row.count, 0);
const userDayEvents = (byDay: Map<string, Record<string, unknown>[]>) => [...byDay.values()].flat().reduce((sum, item) => sum + Number(item.events ?? 0), 0);
const countItem = async (tenant: string, day: string) => (await direct.send(new GetCommand({ TableName: table, Key: shardCountKey(tenant, day), ConsistentRead: true }))).Item;
const eventsOfUser = (batches: EventToStore[][], user: string) => batches.flat().filter((item) => item.event.detail.userId === user).length;
const withUser = (batches: EventToStore[][]) => batches.flat().filter((item) => item.event.detail.userId).length;

beforeAll(async () => {
  stack = await provisionTestStack();
  table = stack.tableName('analytics');
  direct = DynamoDBDocumentClient.from(new DynamoDBClient(clientConfig({ endpoint: awsEndpoint(), region })));
  forgetShardCounts();
});
afterAll(() => {
  process.env.AWS_ENDPOINT_URL = awsEndpoint();
  setAwsClients({});
});

describe('adaptive shard counts', () => {
  it('keeps a quiet tenant’s day on one partition, and reads a week of it with one BatchGetItem and a Query a day', { timeout: 120_000 }, async () => {
    const tenant = `quiet-${randomUUID().slice(0, 8)}`;
    const batches = benchTraffic(60, end, tenant, { users: 5, days: 1 });
    for (const batch of batches) await storeEvents(batch);
    // The table was empty when the first adaptive writer came: no old-layout data anywhere.
    expect((await direct.send(new GetCommand({ TableName: table, Key: LAYOUT_KEY }))).Item?.legacyUntil).toBe('');
    const days = [...new Set(batches.flat().map((item) => item.enrichment.day))];
    for (const day of days) expect(await countItem(tenant, day)).toMatchObject({ aggregates: 1, userDays: 1 });

    // Each read below as a fresh reader would (a reader keeps counts for 2 s).
    forgetShardCounts();
    const aggregates = await countCalls(() => storedCount(tenant));
    expect(aggregates.result).toBe(60);
    // 9 days in the range: their counts in one call, then one Query each (the unsharded layout's cost, plus the BatchGetItem).
    expect(aggregates.calls).toEqual({ BatchGetItem: 1, Query: 9 });

    forgetShardCounts();
    const userDays = await countCalls(() => readUserDays(tenant, weekDays));
    expect(userDayEvents(userDays.result)).toBe(withUser(batches));
    expect(userDays.calls).toEqual({ BatchGetItem: 1, Query: weekDays.length });

    const { handler } = await import('../../functions/analytics-api/handler.ts');
    forgetShardCounts();
    const sessions = await countCalls(
      async () =>
        (await handler(
          apiEvent({ routeKey: 'GET /analytics/sessions', path: '/analytics/sessions', claims: { sub: 'root', tenant, scope: 'admin' }, query: { from: iso(end - 7 * DAY), to: iso(end) } }),
          lambdaContext('analytics-api'),
        )) as APIGatewayProxyStructuredResultV2,
    );
    expect(sessions.result.statusCode).toBe(200);
    expect(sessions.calls.Query).toBe(weekDays.length);
    expect(sessions.calls.BatchGetItem).toBe(1);
  });

  it('grows a throttled tenant-day’s count before writing to a new shard, and reads after growth see every event', { timeout: 300_000 }, async () => {
    const tenant = `busy-${randomUUID().slice(0, 8)}`;
    let now = 1000;
    /** Every write the proxy saw, in order: count items' values and the partitions transactions wrote. */
    const writes: Array<{ operation: string; body: Record<string, unknown>; charges: WriteCharge[] }> = [];
    const charge = writeCharges(tableShapesOf(stack), new DynamoDBClient(clientConfig({ endpoint: awsEndpoint(), region })));
    const proxy = await startFaultProxy({
      upstream: awsEndpoint(),
      capacity: {
        // A partition holds 150 units of burst: a batch (its aggregates about 50 units on one shard) fits, a few dozen do not.
        partitionWriteUnitsPerSecond: 300,
        itemWriteUnitsPerSecond: 1e9,
        burstSeconds: 0.5,
        clock: () => now,
        billing: 'on-demand',
        charges: async (operation, body) => {
          const charges = await charge(operation, body);
          writes.push({ operation, body, charges });
          return charges;
        },
      },
    });
    process.env.AWS_ENDPOINT_URL = proxy.url;
    setAwsClients({});
    const batches = benchTraffic(400, end, tenant, { users: 40, days: 0.2 });
    try {
      // As SQS would: a failed batch comes back later; time moves 5 ms a batch, a second between rounds.
      let pending = batches;
      for (let round = 0; pending.length > 0 && round < 40; round++) {
        const failed: EventToStore[][] = [];
        for (const batch of pending) {
          now += 0.005;
          await storeEvents(batch).catch(() => failed.push(batch));
        }
        pending = failed;
        now += 1;
      }
      expect(pending).toEqual([]);
      expect(Object.values(proxy.capacityStats()!.throttled).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    } finally {
      process.env.AWS_ENDPOINT_URL = awsEndpoint();
      setAwsClients({});
      await proxy.close();
    }

    const days = [...new Set(batches.flat().map((item) => item.enrichment.day))];
    const grown = await Promise.all(days.map((day) => countItem(tenant, day)));
    expect(Math.max(...grown.map((item) => Number(item?.userDays)))).toBeGreaterThan(1);
    expect(Math.max(...grown.map((item) => Number(item?.aggregates)))).toBeGreaterThan(1);

    // Every attempt to write shard k of a tenant-day came after a count above k was recorded.
    const recorded = new Map<string, number>();
    let newShardWrites = 0;
    for (const { operation, body, charges } of writes) {
      const values = (body.ExpressionAttributeValues ?? {}) as Record<string, { N?: string }>;
      const names = (body.ExpressionAttributeNames ?? {}) as Record<string, string>;
      const key = (body.Key ?? {}) as { pk?: { S?: string } };
      if (operation === 'UpdateItem' && key.pk?.S?.startsWith(`SHARDS#${tenant}#`)) {
        const day = key.pk.S.split('#')[2]!;
        const set = (kind: string, value: string | undefined) => value && recorded.set(`${kind}#${day}`, Math.max(recorded.get(`${kind}#${day}`) ?? 0, Number(value)));
        set('aggregates', values[':a']?.N);
        set('userDays', values[':u']?.N);
        if (names['#k']) set(names['#k'], values[':grown']?.N);
      }
      if (operation !== 'TransactWriteItems') continue;
      for (const { pk, table: written } of charges) {
        const [prefix, owner, day, shard] = pk.split('#');
        if (written !== table || owner !== tenant || shard === undefined || (prefix !== 'AGG' && prefix !== 'UDAY')) continue;
        newShardWrites++;
        expect(recorded.get(`${prefix === 'AGG' ? 'aggregates' : 'userDays'}#${day}`) ?? 0, pk).toBeGreaterThan(Number(shard));
      }
    }
    expect(newShardWrites).toBeGreaterThan(0);

    // Reads after growth: every event once, in raw events, aggregates and user-days (also one user's, whose shard moved).
    forgetShardCounts();
    expect((await Promise.all(days.map((day) => readDayEvents(tenant, day)))).flat()).toHaveLength(400);
    expect(await storedCount(tenant)).toBe(400);
    expect(userDayEvents(await readUserDays(tenant, days))).toBe(withUser(batches));
    for (const user of ['user-1', 'user-2', 'user-3']) expect(userDayEvents(await readUserDays(tenant, days, user))).toBe(eventsOfUser(batches, user));
  });

  it('never shrinks a count: a stale writer adopts the larger stored count, and concurrent growth ends at the largest', { timeout: 60_000 }, async () => {
    const tenant = `race-${randomUUID().slice(0, 8)}`;
    const day = dayOf(end);
    await writerShardCounts([{ tenant, day }]); // this "container" caches 1
    // Another container grew the user-days to 16 meanwhile.
    await direct.send(new UpdateCommand({ TableName: table, Key: shardCountKey(tenant, day), UpdateExpression: 'SET userDays = :n', ExpressionAttributeValues: { ':n': 16 } }));
    expect(await growShardCounts(tenant, day, ['userDays'])).toMatchObject({ userDays: 16 });
    expect(await countItem(tenant, day)).toMatchObject({ userDays: 16, aggregates: 1 });

    // Many throttled writers at once, some from a fresh container (no cache).
    const results = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        if (i % 2) forgetShardCounts();
        return growShardCounts(tenant, day, ['aggregates', 'userDays']);
      }),
    );
    const stored = await countItem(tenant, day);
    expect(stored).toMatchObject({ aggregates: expect.any(Number) as number, userDays: SHARDS.userDays });
    for (const counts of results) {
      expect(counts.aggregates).toBeLessThanOrEqual(Number(stored?.aggregates));
      expect(counts.userDays).toBeGreaterThanOrEqual(16);
    }
    expect(Number(stored?.aggregates)).toBeGreaterThanOrEqual(4);
  });

  it('reads a day written with the fixed layout (before adaptive counts) whole, and keeps writing it with the fixed counts', { timeout: 120_000 }, async () => {
    const tenant = `old-${randomUUID().slice(0, 8)}`;
    const batches = benchTraffic(200, end, tenant, { users: 30, days: 0.5 });
    const days = [...new Set(batches.flat().map((item) => item.enrichment.day))];
    const fixed = new Map(days.map((day) => [`${tenant}#${day}`, { aggregates: SHARDS.aggregates, userDays: SHARDS.userDays }]));
    const layout = (await direct.send(new GetCommand({ TableName: table, Key: LAYOUT_KEY }))).Item;
    // As on a table the fixed layout wrote to: its data without count items, and a layout item that says until when.
    await writeItems(seededItems(batches, fixed));
    await direct.send(new PutCommand({ TableName: table, Item: { ...LAYOUT_KEY, legacyUntil: dayOf(end + DAY) } }));
    forgetShardCounts();
    try {
      for (const day of days) expect(await countItem(tenant, day)).toBeUndefined();
      expect(await storedCount(tenant)).toBe(200);
      expect(userDayEvents(await readUserDays(tenant, days))).toBe(withUser(batches));
      expect(userDayEvents(await readUserDays(tenant, days, 'user-4'))).toBe(eventsOfUser(batches, 'user-4'));

      // A new writer on such a day records the fixed counts, so nothing is hidden.
      const more = benchTraffic(20, end, tenant, { users: 30, days: 0.5 });
      for (const batch of more) await storeEvents(batch);
      for (const day of days) expect(await countItem(tenant, day)).toMatchObject({ aggregates: SHARDS.aggregates, userDays: SHARDS.userDays });
      expect(await storedCount(tenant)).toBe(220);
      // A day after the old layout stopped, without a count item, has nothing beyond shard 0: one Query.
      const later = await countCalls(() => readUserDays(tenant, [dayOf(end + 3 * DAY)]));
      expect(later.calls.Query).toBe(1);
    } finally {
      await direct.send(new PutCommand({ TableName: table, Item: layout ?? { ...LAYOUT_KEY, legacyUntil: '' } }));
      forgetShardCounts();
    }
  });

  it('ANALYTICS_KEY_SHARDS=1 writes and reads the unsharded layout, without count items', { timeout: 60_000 }, async () => {
    const tenant = `flat-${randomUUID().slice(0, 8)}`;
    process.env.ANALYTICS_KEY_SHARDS = '1';
    try {
      const batches = benchTraffic(30, end, tenant, { users: 3, days: 0.1 });
      const stored = await countCalls(async () => {
        for (const batch of batches) await storeEvents(batch);
      });
      expect(stored.calls).toEqual({ TransactWriteItems: batches.length });
      const read = await countCalls(() => storedCount(tenant));
      expect(read.result).toBe(30);
      expect(read.calls).toEqual({ Query: 9 });
      for (const day of new Set(batches.flat().map((item) => item.enrichment.day))) expect(await countItem(tenant, day)).toBeUndefined();
    } finally {
      delete process.env.ANALYTICS_KEY_SHARDS;
    }
  });
});
