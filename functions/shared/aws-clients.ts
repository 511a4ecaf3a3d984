/**
 * SDK clients, created on first use from the environment (AWS_ENDPOINT_URL points them at
 * the emulator locally). Tests and the local runtime can swap them with `setAwsClients`.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';

export interface AwsClients {
  dynamo: DynamoDBDocumentClient;
  eventBridge: EventBridgeClient;
  sqs: SQSClient;
}

let clients: Partial<AwsClients> = {};

export function dynamo(): DynamoDBDocumentClient {
  return (clients.dynamo ??= DynamoDBDocumentClient.from(new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    unmarshallOptions: { wrapNumbers: false },
  }));
}

export function eventBridge(): EventBridgeClient {
  return (clients.eventBridge ??= new EventBridgeClient({}));
}

export function sqs(): SQSClient {
  return (clients.sqs ??= new SQSClient({}));
}

/** Replaces some or all clients (for a fault-injecting test, say); `{}` resets to defaults. */
export function setAwsClients(replacement: Partial<AwsClients>): void {
  clients = { ...replacement };
}
