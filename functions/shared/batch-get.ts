/** BatchGetItem the way AWS asks for it: 100 keys a call, UnprocessedKeys sent again with back-off. */
import { BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import { dynamo } from './aws-clients.ts';

const MAX_KEYS_PER_CALL = 100;
const MAX_ATTEMPTS = 8;

export interface Projection {
  expression: string;
  names?: Record<string, string>;
}

/** Every item found for `keys` (strongly consistent), in no particular order. */
export async function batchGetAll(table: string, keys: ReadonlyArray<Record<string, string>>, projection: Projection): Promise<Array<Record<string, unknown>>> {
  const records: Array<Record<string, unknown>> = [];
  for (let i = 0; i < keys.length; i += MAX_KEYS_PER_CALL) {
    let pending = keys.slice(i, i + MAX_KEYS_PER_CALL);
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= MAX_ATTEMPTS) throw new Error('BatchGetItem kept returning unprocessed keys');
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 25 * 2 ** attempt * Math.random())));
      const result = await dynamo().send(
        new BatchGetCommand({
          RequestItems: {
            [table]: { Keys: [...pending], ConsistentRead: true, ProjectionExpression: projection.expression, ...(projection.names ? { ExpressionAttributeNames: projection.names } : {}) },
          },
        }),
      );
      records.push(...(result.Responses?.[table] ?? []));
      pending = (result.UnprocessedKeys?.[table]?.Keys ?? []) as Array<Record<string, string>>;
    }
  }
  return records;
}
