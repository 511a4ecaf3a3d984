/**
 * The emulator as the functions see it: moto's DynamoDB transactions, patched by
 * scripts/local/moto_server.py, must neither erase concurrent writes when one fails nor
 * leave a failed transaction half applied, and must honour ClientRequestToken as DynamoDB
 * does (the functions' writes rely on it when the SDK resends a write whose answer was lost).
 */
import { BatchWriteCommand, GetCommand, PutCommand, ScanCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { dynamo } from '../../functions/shared/aws-clients.ts';
import type { ProvisionedStack } from '../../scripts/local/provision.ts';
import { provisionTestStack } from '../support/stack.ts';

let stack: ProvisionedStack;
let table: string;
beforeAll(async () => {
  stack = await provisionTestStack();
  table = stack.tableName('analytics');
});

describe('DynamoDB transactions on the emulator', () => {
  it('a failed transaction rolls back its own items only, and concurrent writes survive', async () => {
    // A table of some size: unpatched moto copies it whole per transaction, which widens the
    // window in which its rollback overwrites writes made by concurrent requests.
    for (let i = 0; i < 2000; i += 25) {
      const items = Array.from({ length: 25 }, (_, j) => ({ PutRequest: { Item: { pk: 'bulk', sk: `b${i + j}`, text: 'x'.repeat(200) } } }));
      await dynamo().send(new BatchWriteCommand({ RequestItems: { [table]: items } }));
    }
    await dynamo().send(new PutCommand({ TableName: table, Item: { pk: 'guard', sk: 'g', n: 1 } }));
    const writes = Array.from({ length: 60 }, (_, i) => dynamo().send(new PutCommand({ TableName: table, Item: { pk: 'plain', sk: `p${i}` } })));
    // Each of these fails on its condition after writing its first item: moto must undo that item.
    const failing = Array.from({ length: 20 }, (_, i) =>
      dynamo()
        .send(
          new TransactWriteCommand({
            TransactItems: [
              { Put: { TableName: table, Item: { pk: 'tx', sk: `t${i}` } } },
              { Update: { TableName: table, Key: { pk: 'guard', sk: 'g' }, UpdateExpression: 'SET n = n + :one', ConditionExpression: 'n = :never', ExpressionAttributeValues: { ':one': 1, ':never': -1 } } },
            ],
          }),
        )
        .then(
          () => 'committed',
          (error: Error) => error.name,
        ),
    );
    const outcomes = await Promise.all([...writes, ...failing]);
    expect(outcomes.slice(60)).toEqual(Array(20).fill('TransactionCanceledException'));

    const { Items = [] } = await dynamo().send(new ScanCommand({ TableName: table }));
    expect(Items.filter((item) => item.pk === 'plain')).toHaveLength(60);
    expect(Items.filter((item) => item.pk === 'tx')).toHaveLength(0);
    expect((await dynamo().send(new GetCommand({ TableName: table, Key: { pk: 'guard', sk: 'g' } }))).Item?.n).toBe(1);
  });

  it('a committed transaction applies every item', async () => {
    await dynamo().send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: table, Item: { pk: 'ok', sk: 'a' }, ConditionExpression: 'attribute_not_exists(pk)' } },
          { Update: { TableName: table, Key: { pk: 'ok', sk: 'counter' }, UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': 1 } } },
        ],
      }),
    );
    expect((await dynamo().send(new GetCommand({ TableName: table, Key: { pk: 'ok', sk: 'counter' } }))).Item?.n).toBe(1);
    expect((await dynamo().send(new GetCommand({ TableName: table, Key: { pk: 'ok', sk: 'a' } }))).Item).toBeDefined();
  });

  it('ClientRequestToken: the same request again succeeds without writing; another request with the token is refused; a cancelled one is not remembered', async () => {
    const request = (n: number, token: string, condition?: string) =>
      new TransactWriteCommand({
        ClientRequestToken: token,
        TransactItems: [
          { Update: { TableName: table, Key: { pk: 'token', sk: 'counter' }, UpdateExpression: 'ADD n :n', ExpressionAttributeValues: { ':n': n, ...(condition ? { ':never': -1 } : {}) }, ...(condition ? { ConditionExpression: condition } : {}) } },
        ],
      });
    const counter = async () => (await dynamo().send(new GetCommand({ TableName: table, Key: { pk: 'token', sk: 'counter' }, ConsistentRead: true }))).Item?.n;
    await dynamo().send(request(1, 'token-a'));
    await dynamo().send(request(1, 'token-a'));
    expect(await counter()).toBe(1);
    await expect(dynamo().send(request(2, 'token-a'))).rejects.toMatchObject({ name: 'IdempotentParameterMismatchException' });
    await dynamo().send(request(1, 'token-b'));
    expect(await counter()).toBe(2);
    await expect(dynamo().send(request(5, 'token-c', 'n = :never'))).rejects.toMatchObject({ name: 'TransactionCanceledException' });
    await expect(dynamo().send(request(5, 'token-c', 'n = :never'))).rejects.toMatchObject({ name: 'TransactionCanceledException' });
    expect(await counter()).toBe(2);
  });
});
