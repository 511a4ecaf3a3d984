/**
 * State snapshots against the emulator: tables (all attribute types, binary included) and
 * DLQ messages survive a save into one stack and a restore into a fresh one; unchanged
 * state is not rewritten; the periodic snapshot leaves source queues alone.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DynamoDBClient, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { stateStore } from '../../scripts/local/persistence.ts';
import { clientConfig, provision } from '../../scripts/local/provision.ts';
import { awsEndpoint, region } from '../support/stack.ts';

const config = clientConfig({ endpoint: awsEndpoint(), region });
const clients = { dynamodb: new DynamoDBClient(config), sqs: new SQSClient(config) };
const dir = mkdtempSync(join(tmpdir(), 'event-flows-persistence-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const freshStack = () => provision({ endpoint: awsEndpoint(), region }, `p${randomBytes(4).toString('hex')}`, { visibilityTimeoutSeconds: 2 });

describe('state snapshots', () => {
  it('round-trips tables and DLQ messages into a fresh stack', async () => {
    const before = await freshStack();
    const item = {
      pk: { S: 'tenant#acme' },
      sk: { S: 'item#1' },
      count: { N: '42' },
      raw: { B: new Uint8Array([0, 1, 254, 255]) },
      tags: { SS: ['a', 'b'] },
      nested: { M: { list: { L: [{ S: 'x' }, { BOOL: true }, { NULL: true }] } } },
    };
    await clients.dynamodb.send(new PutItemCommand({ TableName: before.tableName('data'), Item: item }));
    await clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: before.queueUrl('import-dlq'),
        MessageBody: '{"failed":true}',
        MessageAttributes: { reason: { DataType: 'String', StringValue: 'validation' }, blob: { DataType: 'Binary', BinaryValue: new Uint8Array([9, 8]) } },
      }),
    );
    await clients.sqs.send(new SendMessageCommand({ QueueUrl: before.queueUrl('import'), MessageBody: 'queued work' }));

    const store = stateStore(dir, before, clients);
    const periodic = await store.save();
    expect(periodic.written).toContain('tables/data');
    expect(periodic.written).toContain('queues/import-dlq');
    // A periodic snapshot never receives from a source queue (that would count towards its redrive).
    expect(periodic.written).not.toContain('queues/import');
    const { Attributes } = await clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: before.queueUrl('import-dlq'), AttributeNames: ['ApproximateNumberOfMessages'] }),
    );
    expect(Attributes?.ApproximateNumberOfMessages).toBe('1'); // still there and visible after the snapshot

    expect((await store.save()).written).toEqual([]); // nothing changed, nothing rewritten
    const atShutdown = await store.save({ sourceQueues: true });
    expect(atShutdown.written).toContain('queues/import');
    expect(atShutdown.written.filter((f) => f.includes('dlq') || f.startsWith('tables/'))).toEqual([]); // unchanged since the last save
    expect(JSON.parse(readFileSync(join(dir, 'queues', 'import.json'), 'utf8'))).toEqual([{ body: 'queued work' }]);

    const after = await freshStack();
    const restored = await stateStore(dir, after, clients).restore();
    expect(restored).toEqual({ items: 1, messages: 2 });
    const { Items } = await clients.dynamodb.send(new ScanCommand({ TableName: after.tableName('data') }));
    expect(Items).toEqual([item]);
    const { Messages } = await clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: after.queueUrl('import-dlq'), MessageAttributeNames: ['All'], MaxNumberOfMessages: 10 }),
    );
    expect(Messages?.map((m) => m.Body)).toEqual(['{"failed":true}']);
    expect(Messages?.[0]?.MessageAttributes?.reason?.StringValue).toBe('validation');
    expect(Buffer.from(Messages?.[0]?.MessageAttributes?.blob?.BinaryValue ?? [])).toEqual(Buffer.from([9, 8]));
    const source = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: after.queueUrl('import'), MaxNumberOfMessages: 10 }));
    expect(source.Messages?.map((m) => m.Body)).toEqual(['queued work']);
  });

  it('clear() forgets everything', async () => {
    const stack = await freshStack();
    const store = stateStore(join(dir, 'cleared'), stack, clients);
    await clients.dynamodb.send(new PutItemCommand({ TableName: stack.tableName('data'), Item: { pk: { S: 'a' }, sk: { S: 'b' } } }));
    await store.save();
    store.clear();
    expect(await stateStore(join(dir, 'cleared'), await freshStack(), clients).restore()).toEqual({ items: 0, messages: 0 });
  });
});
