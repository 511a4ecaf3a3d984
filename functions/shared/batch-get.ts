/** BatchGetItem the way AWS asks for it: 100 keys a call, UnprocessedKeys sent again with back-off. */
import { BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import { dynamo } from './aws-clients.ts';
import { RETRY_POLICIES, sendUntilProcessed } from './retry.ts';

const MAX_KEYS_PER_CALL = 100;

export interface Projection {
  expression: string;
  names?: Record<string, string>;
}

/** Every item found for `keys` (strongly consistent), in no particular order. */
export async function batchGetAll(table: string, keys: ReadonlyArray<Record<string, string>>, projection: Projection): Promise<Array<Record<string, unknown>>> {
  const records: Array<Record<string, unknown>> = [];
  for (let i = 0; i < keys.length; i += MAX_KEYS_PER_CALL) {
    const left = await sendUntilProcessed(RETRY_POLICIES.batchRemainder, keys.slice(i, i + MAX_KEYS_PER_CALL), async (pending) => {
      const result = await dynamo().send(
        new BatchGetCommand({
          RequestItems: {
            [table]: { Keys: [...pending], ConsistentRead: true, ProjectionExpression: projection.expression, ...(projection.names ? { ExpressionAttributeNames: projection.names } : {}) },
          },
        }),
      );
      records.push(...(result.Responses?.[table] ?? []));
      return (result.UnprocessedKeys?.[table]?.Keys ?? []) as Array<Record<string, string>>;
    });
    if (left.length > 0) throw new Error('BatchGetItem kept returning unprocessed keys');
  }
  return records;
}
