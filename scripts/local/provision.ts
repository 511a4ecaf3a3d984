/**
 * Creates the topology's tables, queues, buses, rules and targets on an AWS endpoint (the
 * emulator, or LocalStack). Idempotent: what exists is left as it is.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  type AttributeDefinition,
} from '@aws-sdk/client-dynamodb';
import { CreateEventBusCommand, EventBridgeClient, PutRuleCommand, PutTargetsCommand, ResourceAlreadyExistsException } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { buses, eventPatternFor, functionEnvironment, functions, queues, rules, ruleTargetQueues, tables, type BusName, type QueueName, type TableName } from './topology.ts';
import { localAccountId } from './lambda-context.ts';
import { SQS_MAX_MESSAGE_BYTES } from '../../functions/shared/imports/limits.ts';

export interface AwsTarget {
  endpoint: string;
  region: string;
}

export interface LocalVisibility {
  /**
   * Seconds a received message stays invisible. By default each queue's consumer timeout,
   * so a slow invocation is not redelivered while it still runs; tests pass a short one
   * so that retries are quick to watch.
   */
  visibilityTimeoutSeconds?: number;
}

export interface ProvisionedStack {
  prefix: string;
  tableName(table: TableName): string;
  busName(bus: BusName): string;
  queueUrl(queue: QueueName | `${QueueName}-dlq` | `${QueueName}-delivery-dlq`): string;
  /** The environment variables the functions read, pointing at these resources. */
  environment: Record<string, string>;
}

export function clientConfig(target: AwsTarget) {
  return {
    endpoint: target.endpoint,
    region: target.region,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  };
}

export async function provision(target: AwsTarget, prefix: string, visibility: LocalVisibility = {}): Promise<ProvisionedStack> {
  const config = clientConfig(target);
  const dynamodb = new DynamoDBClient(config);
  const sqs = new SQSClient(config);
  const events = new EventBridgeClient(config);
  const name = (logical: string) => `${prefix}-${logical}`;

  await Promise.all(Object.entries(tables).map(([logical, table]) => createTable(dynamodb, name(logical), table)));

  const queueUrls = new Map<string, string>();
  const queueArns = new Map<string, string>();
  const createQueue = async (logical: string, attributes: Record<string, string>) => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name(logical), Attributes: attributes }));
    if (!QueueUrl) throw new Error(`no URL for queue ${logical}`);
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    queueUrls.set(logical, QueueUrl);
    queueArns.set(logical, Attributes?.QueueArn ?? '');
  };
  const targets = new Set<string>(ruleTargetQueues());
  /** SQS's 1 MiB message quota, set on every queue as Terraform does (terraform/modules/queue). */
  const MAX_MESSAGE_SIZE = String(SQS_MAX_MESSAGE_BYTES);
  for (const [logical, queue] of Object.entries(queues)) {
    await createQueue(`${logical}-dlq`, { MessageRetentionPeriod: String(14 * 24 * 3600), MaximumMessageSize: MAX_MESSAGE_SIZE });
    if (targets.has(logical)) await createQueue(`${logical}-delivery-dlq`, { MessageRetentionPeriod: String(14 * 24 * 3600), MaximumMessageSize: MAX_MESSAGE_SIZE });
    await createQueue(logical, {
      MaximumMessageSize: MAX_MESSAGE_SIZE,
      VisibilityTimeout: String(visibility.visibilityTimeoutSeconds ?? functions[queue.consumer].timeoutSeconds),
      MessageRetentionPeriod: String(4 * 24 * 3600),
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: queueArns.get(`${logical}-dlq`), maxReceiveCount: queue.maxReceiveCount }),
    });
  }

  for (const bus of buses) {
    try {
      await events.send(new CreateEventBusCommand({ Name: name(bus) }));
    } catch (error) {
      if (!(error instanceof ResourceAlreadyExistsException)) throw error;
    }
  }
  for (const [logical, rule] of Object.entries(rules)) {
    await events.send(new PutRuleCommand({ Name: name(logical), EventBusName: name(rule.bus), EventPattern: JSON.stringify(eventPatternFor(rule, localAccountId)), State: 'ENABLED' }));
    await events.send(
      new PutTargetsCommand({
        Rule: name(logical),
        EventBusName: name(rule.bus),
        Targets: [
          {
            Id: rule.targetQueue,
            Arn: queueArns.get(rule.targetQueue),
            RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86_400 },
            DeadLetterConfig: { Arn: queueArns.get(`${rule.targetQueue}-delivery-dlq`) },
          },
        ],
      }),
    );
  }

  const tableName = (t: TableName) => name(t);
  const busName = (b: BusName) => name(b);
  const queueUrl = (q: string) => {
    const url = queueUrls.get(q);
    if (!url) throw new Error(`unknown queue ${q}`);
    return url;
  };
  return {
    prefix,
    tableName,
    busName,
    queueUrl,
    environment: functionEnvironment({ table: tableName, bus: busName, queueUrl, environment: prefix }),
  };
}

async function createTable(dynamodb: DynamoDBClient, tableName: string, table: (typeof tables)[TableName]): Promise<void> {
  const attributes = new Set<string>([table.hashKey, table.rangeKey]);
  for (const index of table.indexes) {
    attributes.add(index.hashKey);
    attributes.add(index.rangeKey);
  }
  try {
    await dynamodb.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [...attributes].map((AttributeName): AttributeDefinition => ({ AttributeName, AttributeType: 'S' })),
        KeySchema: [
          { AttributeName: table.hashKey, KeyType: 'HASH' },
          { AttributeName: table.rangeKey, KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: table.indexes.map((index) => ({
          IndexName: index.name,
          KeySchema: [
            { AttributeName: index.hashKey, KeyType: 'HASH' },
            { AttributeName: index.rangeKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: index.projection },
        })),
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  const described = await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
  if (described.Table?.TableStatus !== 'ACTIVE') throw new Error(`table ${tableName} is ${described.Table?.TableStatus}`);
  await dynamodb.send(new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { AttributeName: table.ttlAttribute, Enabled: true } })).catch(() => undefined);
}
