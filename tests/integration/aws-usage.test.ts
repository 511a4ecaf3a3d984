/**
 * The cost benchmark's SDK middleware (scripts/bench/aws-usage.ts) against the emulator:
 * calls, bytes, DynamoDB units by DynamoDB's rules (table, transaction, index entries,
 * reads) and EventBridge's 64 KB chunks, for writes whose cost is known by hand.
 */
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { dynamo, eventBridge } from '../../functions/shared/aws-clients.ts';
import { toItemRecord } from '../../functions/shared/items/item.ts';
import type { ProvisionedStack } from '../../scripts/local/provision.ts';
import { tableShapesOf, UsageRecorder } from '../../scripts/bench/aws-usage.ts';
import { awsEndpoint, provisionTestStack, region } from '../support/stack.ts';

let stack: ProvisionedStack;
let recorder: UsageRecorder;
beforeAll(async () => {
  stack = await provisionTestStack();
  recorder = new UsageRecorder(tableShapesOf(stack), { endpoint: awsEndpoint(), region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  recorder.attach(dynamo());
  recorder.attach(eventBridge());
});

const at = '2026-11-29T12:00:00.000Z';
/** An item of the data table whose DynamoDB size is between 2 and 3 KB. */
const record = (updatedAt: string) => toItemRecord('acme', { collection: 'books', id: 'b1', data: { text: 'x'.repeat(2500) }, version: 1, createdAt: at, updatedAt }, 1);

describe('the cost middleware', () => {
  it('charges a transactional create 2 units per KB plus one unit per keys-only index entry', async () => {
    const { usage } = await recorder.measure(() => dynamo().send(new TransactWriteCommand({ TransactItems: [{ Put: { TableName: stack.tableName('data'), Item: record(at) } }] })));
    expect(usage.calls).toEqual({ 'DynamoDB.TransactWriteItems': { calls: 1, requestBytes: expect.any(Number), responseBytes: expect.any(Number) } });
    expect(usage.calls['DynamoDB.TransactWriteItems']!.requestBytes).toBeGreaterThan(2500);
    // 3 KB → 2 × 3 in a transaction; byCreatedAt and byUpdatedAt entries (keys only) → 1 each.
    expect(usage.writeUnits).toBe(8);
    expect(usage.readUnits).toBe(0);
  });

  it('charges an update that moves the updatedSort key a delete and a put in that index, and reads by 4 KB', async () => {
    const later = '2026-11-29T12:00:05.000Z';
    const { usage } = await recorder.measure(async () => {
      await dynamo().send(
        new UpdateCommand({ TableName: stack.tableName('data'), Key: { pk: record(at).pk, sk: record(at).sk }, UpdateExpression: 'SET updatedSort = :u', ExpressionAttributeValues: { ':u': record(later).updatedSort } }),
      );
      await dynamo().send(new GetCommand({ TableName: stack.tableName('data'), Key: { pk: record(at).pk, sk: record(at).sk } }));
      await dynamo().send(new GetCommand({ TableName: stack.tableName('data'), Key: { pk: record(at).pk, sk: record(at).sk }, ConsistentRead: true }));
      await dynamo().send(new QueryCommand({ TableName: stack.tableName('data'), KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': record(at).pk } }));
    });
    // 3 units (not transactional) + byUpdatedAt: old entry deleted (1) and new one written (1); byCreatedAt untouched.
    expect(usage.writeUnits).toBe(5);
    // Eventually consistent 0.5, strongly consistent 1, a query page of one 3 KB item 0.5.
    expect(usage.readUnits).toBe(2);
    expect(Object.keys(usage.calls).sort()).toEqual(['DynamoDB.GetItem', 'DynamoDB.Query', 'DynamoDB.UpdateItem']);
  });

  it('charges each PutEvents entry per started 64 KB', async () => {
    const detail = (bytes: number) => JSON.stringify({ text: 'y'.repeat(bytes) });
    const { usage } = await recorder.measure(() =>
      eventBridge().send(
        new PutEventsCommand({
          Entries: [
            { EventBusName: stack.busName('analytics'), Source: 'bench', DetailType: 'SMALL', Detail: detail(100) },
            { EventBusName: stack.busName('analytics'), Source: 'bench', DetailType: 'LARGE', Detail: detail(70 * 1024) },
          ],
        }),
      ),
    );
    expect(usage.eventBridgeChunks).toBe(1 + 2);
    expect(usage.calls['EventBridge.PutEvents']!.calls).toBe(1);
  });

  it('counts nothing outside measure()', async () => {
    const { usage } = await recorder.measure(async () => undefined);
    await dynamo().send(new GetCommand({ TableName: stack.tableName('data'), Key: { pk: 'x', sk: 'y' } }));
    expect(usage.calls).toEqual({});
  });
});
