/**
 * The emulator's reads as the functions see them, after scripts/local/moto_server.py made
 * them cheaper (a Query reads its partition only; sorts compare plain values; attribute
 * values are serialized directly): the same items, in the same order, page by page, with
 * every attribute type intact, as DynamoDB answers.
 */
import { BatchWriteCommand, QueryCommand, ScanCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { dynamo } from '../../functions/shared/aws-clients.ts';
import { provisionTestStack } from '../support/stack.ts';

let table: string;
interface Row {
  pk: string;
  sk: string;
  userPk: string;
  userSk: string;
  n: number;
}
const rows: Row[] = [];

beforeAll(async () => {
  table = (await provisionTestStack()).tableName('analytics');
  // 600 items over 12 partitions and 5 index partitions, written in a shuffled order.
  for (let i = 0; i < 600; i++) {
    const j = (i * 7919) % 600;
    rows.push({ pk: `P#${j % 12}`, sk: `2026-01-01T00:${String(j % 60).padStart(2, '0')}#${String(j).padStart(4, '0')}`, userPk: `U#${j % 5}`, userSk: `t${String(1000 - j).padStart(4, '0')}`, n: j });
  }
  for (let i = 0; i < rows.length; i += 25) {
    await dynamo().send(new BatchWriteCommand({ RequestItems: { [table]: rows.slice(i, i + 25).map((Item) => ({ PutRequest: { Item: { ...Item, nested: { '': [Item.n, { b: true, z: null }], s: new Set(['a', 'b']) } } } })) } }));
  }
});

async function pages(input: QueryCommandInput, limit: number): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await dynamo().send(new QueryCommand({ ...input, Limit: limit, ...(start ? { ExclusiveStartKey: start } : {}) }));
    out.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}

const bySk = (a: Row, b: Row) => (a.sk < b.sk ? -1 : a.sk > b.sk ? 1 : 0);

describe('reads on the emulator', () => {
  it.each([true, false])('a table Query returns its partition only, in key order (forward: %s), across pages', async (forward) => {
    const expected = rows.filter((r) => r.pk === 'P#3' && r.sk >= '2026-01-01T00:10' && r.sk <= '2026-01-01T00:40').sort(bySk);
    if (!forward) expected.reverse();
    const got = await pages(
      { TableName: table, KeyConditionExpression: 'pk = :p AND sk BETWEEN :a AND :b', ExpressionAttributeValues: { ':p': 'P#3', ':a': '2026-01-01T00:10', ':b': '2026-01-01T00:40' }, ScanIndexForward: forward },
      7,
    );
    expect(got.map((item) => item.sk)).toEqual(expected.map((r) => r.sk));
    expect(got[0]!.nested).toEqual({ '': [expected[0]!.n, { b: true, z: null }], s: new Set(['a', 'b']) });
  });

  it('an index Query returns its partition only, in index key order, across pages', async () => {
    const expected = rows.filter((r) => r.userPk === 'U#2').sort((a, b) => (a.userSk < b.userSk ? -1 : 1));
    const got = await pages({ TableName: table, IndexName: 'byUser', KeyConditionExpression: 'userPk = :u', ExpressionAttributeValues: { ':u': 'U#2' } }, 9);
    expect(got.map((item) => item.userSk)).toEqual(expected.map((r) => r.userSk));
  });

  it('a Query of a partition that does not exist is empty (and creates nothing)', async () => {
    const got = await pages({ TableName: table, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': 'P#none' } }, 10);
    expect(got).toEqual([]);
  });

  it('Scan pages return every item once', async () => {
    const seen: string[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await dynamo().send(new ScanCommand({ TableName: table, Limit: 50, ...(start ? { ExclusiveStartKey: start } : {}) }));
      seen.push(...(page.Items ?? []).map((item) => `${item.pk}|${item.sk}`));
      start = page.LastEvaluatedKey;
    } while (start);
    expect(seen.sort()).toEqual(rows.map((r) => `${r.pk}|${r.sk}`).sort());
  });
});
