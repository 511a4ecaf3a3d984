/** What the benchmarks share: fresh stacks on one emulator, tokens, queue depth, a bounded pool. */
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { randomBytes } from 'node:crypto';
import { setAwsClients } from '../../functions/shared/aws-clients.ts';
import { clientConfig, provision, type ProvisionedStack } from '../local/provision.ts';

export const region = 'us-east-1';

/** A private copy of the topology, with this process's SDK clients pointed at it. */
export async function freshStack(endpoint: string, label: string): Promise<ProvisionedStack> {
  const stack = await provision({ endpoint, region }, `bench-${label}-${randomBytes(3).toString('hex')}`, { visibilityTimeoutSeconds: 30 });
  Object.assign(process.env, stack.environment, { AWS_ENDPOINT_URL: endpoint, AWS_REGION: region, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' });
  setAwsClients({});
  return stack;
}

export async function queueDepth(endpoint: string, queueUrl: string): Promise<number> {
  const sqs = new SQSClient(clientConfig({ endpoint, region }));
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
  return Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
}

/** Runs `work(i)` for i in [0, count) with at most `concurrency` at once. */
export async function pool(count: number, concurrency: number, work: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

export async function waitFor(condition: () => Promise<boolean>, timeoutMs: number, pollMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`benchmark condition not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
