/**
 * The fault proxy's capacity mode (tests/support/fault-proxy.ts) against the emulator: token
 * buckets per partition and per item on a clock the test moves, and throttles answered the
 * way DynamoDB answers them, so the SDK and our retry classification see what they would see
 * on AWS. A refused write must not reach the table.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancellationCodes, errorName, isRetryableTransactionFailure, isThrottling } from '../../functions/shared/aws-errors.ts';
import { clientConfig, type ProvisionedStack } from '../../scripts/local/provision.ts';
import { tableShapesOf, writeCharges } from '../../scripts/bench/aws-usage.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { awsEndpoint, provisionTestStack, region } from '../support/stack.ts';

let stack: ProvisionedStack;
let table: string;
let now = 0;
const proxies: FaultProxy[] = [];
const direct = () => DynamoDBDocumentClient.from(new DynamoDBClient(clientConfig({ endpoint: awsEndpoint(), region })));

async function throttledClient(billing: 'on-demand' | 'provisioned') {
  const proxy = await startFaultProxy({
    upstream: awsEndpoint(),
    capacity: {
      partitionWriteUnitsPerSecond: 10,
      itemWriteUnitsPerSecond: 4,
      burstSeconds: 1,
      clock: () => now,
      billing,
      charges: writeCharges(tableShapesOf(stack), new DynamoDBClient(clientConfig({ endpoint: awsEndpoint(), region }))),
    },
  });
  proxies.push(proxy);
  // One attempt: the test sees each answer, not the SDK's retries.
  return { proxy, db: DynamoDBDocumentClient.from(new DynamoDBClient({ ...clientConfig({ endpoint: proxy.url, region }), maxAttempts: 1 })) };
}

const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error);

beforeAll(async () => {
  stack = await provisionTestStack();
  table = stack.tableName('analytics');
});
afterAll(async () => {
  for (const proxy of proxies) await proxy.close();
});

describe('the capacity proxy', () => {
  it('takes a partition’s rate per second, refuses the rest with ThrottlingException, and takes more as time passes', async () => {
    const { proxy, db } = await throttledClient('on-demand');
    now = 100;
    // 10 one-unit items on one partition fill its second; the 11th is refused and not stored.
    for (let i = 0; i < 10; i++) await db.send(new PutCommand({ TableName: table, Item: { pk: 'hot', sk: `i${i}` } }));
    const refused = await failure(db.send(new PutCommand({ TableName: table, Item: { pk: 'hot', sk: 'i10' } })));
    expect(errorName(refused)).toBe('ThrottlingException');
    expect(isThrottling(refused)).toBe(true);
    expect((await direct().send(new GetCommand({ TableName: table, Key: { pk: 'hot', sk: 'i10' } }))).Item).toBeUndefined();
    // Another partition is not affected.
    await db.send(new PutCommand({ TableName: table, Item: { pk: 'cold', sk: 'i0' } }));
    now += 0.5; // half a second: 5 units back
    for (let i = 10; i < 15; i++) await db.send(new PutCommand({ TableName: table, Item: { pk: 'hot', sk: `i${i}` } }));
    expect(errorName(await failure(db.send(new PutCommand({ TableName: table, Item: { pk: 'hot', sk: 'i15' } }))))).toBe('ThrottlingException');
    const stats = proxy.capacityStats()!;
    expect(stats.throttled).toEqual({ 'DynamoDB_20120810.PutItem': 2 });
    expect(stats.unitsByKey[`${table}|hot`]).toBe(15);
  });

  it('limits one item below its partition: an item is never split', async () => {
    const { db } = await throttledClient('provisioned');
    now = 200;
    const add = () => db.send(new UpdateCommand({ TableName: table, Key: { pk: 'agg', sk: 'one' }, UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': 1 } }));
    for (let i = 0; i < 4; i++) await add();
    expect(errorName(await failure(add()))).toBe('ProvisionedThroughputExceededException');
    // The same partition still takes other items.
    await db.send(new PutCommand({ TableName: table, Item: { pk: 'agg', sk: 'two' } }));
    expect((await direct().send(new GetCommand({ TableName: table, Key: { pk: 'agg', sk: 'one' } }))).Item?.n).toBe(4);
  });

  it('cancels a transaction with ThrottlingError for the throttled action and None for the others, applying nothing', async () => {
    const { db } = await throttledClient('on-demand');
    now = 300;
    const put = (sk: string) => ({ Put: { TableName: table, Item: { pk: 'tx', sk } } });
    // Transactional writes cost 2 per KB: two of these fill the hot item's 4 units.
    await db.send(new TransactWriteCommand({ TransactItems: [put('hot')] }));
    await db.send(new TransactWriteCommand({ TransactItems: [put('hot')] }));
    const refused = await failure(db.send(new TransactWriteCommand({ TransactItems: [{ Put: { TableName: table, Item: { pk: 'elsewhere', sk: 'a' } } }, put('hot')] })));
    expect(errorName(refused)).toBe('TransactionCanceledException');
    expect(cancellationCodes(refused)).toEqual(['None', 'ThrottlingError']);
    expect(isRetryableTransactionFailure(refused)).toBe(true);
    expect((await direct().send(new GetCommand({ TableName: table, Key: { pk: 'elsewhere', sk: 'a' } }))).Item).toBeUndefined();
  });

  it('charges index entries to the index’s partition', async () => {
    const { proxy, db } = await throttledClient('on-demand');
    now = 400;
    // Each event with a user writes a byUser entry (ALL projection) under USER#...: 10 of them fill that index partition.
    for (let i = 0; i < 10; i++) await db.send(new PutCommand({ TableName: table, Item: { pk: `p${i}`, sk: 's', userPk: 'USER#t#u', userSk: `x${i}` } }));
    expect(errorName(await failure(db.send(new PutCommand({ TableName: table, Item: { pk: 'p10', sk: 's', userPk: 'USER#t#u', userSk: 'x10' } }))))).toBe('ThrottlingException');
    expect(proxy.capacityStats()!.unitsByKey[`${table}/byUser|USER#t#u`]).toBe(10);
  });
});
