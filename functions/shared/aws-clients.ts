/**
 * SDK clients, created on first use from the environment (AWS_ENDPOINT_URL points them at
 * a local endpoint when set). Tests and the local runtime can swap them with `setAwsClients`.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { SQSClient } from '@aws-sdk/client-sqs';

export interface AwsClients {
  dynamo: DynamoDBDocumentClient;
  eventBridge: EventBridgeClient;
  sqs: SQSClient;
}

let clients: Partial<AwsClients> = {};

/**
 * Every call gets a deadline well inside the function's timeout: a data store that hangs
 * becomes a TimeoutError the SDK retries (3 attempts) and then our 503, instead of an
 * invocation killed by Lambda with no answer of ours and no analytics event. These are the
 * first of the retry layers described in ./retry.ts; the SDK resends a request whose answer
 * was lost, which is why every conditional write is idempotent (./imports/transact.ts).
 */
function clientOptions() {
  return {
    maxAttempts: Number(process.env.AWS_MAX_ATTEMPTS ?? 3),
    requestHandler: {
      connectionTimeout: Number(process.env.AWS_CONNECT_TIMEOUT_MS ?? 1000),
      requestTimeout: Number(process.env.AWS_REQUEST_TIMEOUT_MS ?? 2000),
      throwOnRequestTimeout: true,
    },
  };
}

export function dynamo(): DynamoDBDocumentClient {
  return (clients.dynamo ??= DynamoDBDocumentClient.from(new DynamoDBClient(clientOptions()), {
    // Data comes from JSON, so every object is a plain map; without this, lib-dynamodb takes an
    // object with a `constructor` field for a class instance and refuses it.
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: true },
    unmarshallOptions: { wrapNumbers: false },
  }));
}

export function eventBridge(): EventBridgeClient {
  return (clients.eventBridge ??= new EventBridgeClient(clientOptions()));
}

/**
 * Loaded on first use: most functions touch SQS only when EventBridge refuses an event, so
 * its client stays out of their cold start (the bundler puts it in a lazily loaded chunk).
 */
export async function sqs(): Promise<SQSClient> {
  if (clients.sqs) return clients.sqs;
  const { SQSClient } = await import('@aws-sdk/client-sqs');
  return (clients.sqs ??= new SQSClient(clientOptions()));
}

/** Replaces some or all clients (for a fault-injecting test, say); `{}` resets to defaults. */
export function setAwsClients(replacement: Partial<AwsClients>): void {
  clients = { ...replacement };
}
