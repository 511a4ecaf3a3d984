/**
 * Queue depths for GET /analytics/health: one GetQueueAttributes per queue (the analytics
 * and import queues and their DLQs), in parallel. SQS's GetQueueAttributes gives depths
 * only; the age of the oldest message is a CloudWatch metric (ApproximateAgeOfOldestMessage,
 * alarmed on in terraform), not read here.
 */
import { sqs } from '../shared/aws-clients.ts';
import { config } from '../shared/config.ts';

export interface QueueDepth {
  queue: string;
  visible: number | null;
  inFlight: number | null;
  delayed: number | null;
  /** Why the depth is missing (the queue is not configured, or SQS did not answer). */
  error?: string;
}

export async function queueDepths(): Promise<QueueDepth[]> {
  const queues: Array<[string, string | undefined]> = [
    ['analytics', config.analyticsQueueUrl()],
    ['analytics-dlq', config.analyticsFallbackQueueUrl()],
    ['import', process.env.IMPORT_QUEUE_URL === undefined ? undefined : config.importQueueUrl()],
    ['import-dlq', config.importDlqUrl()],
  ];
  // Loaded on the first health request, not at init: the other routes never need SQS.
  const [{ GetQueueAttributesCommand }, client] = await Promise.all([import('@aws-sdk/client-sqs'), sqs()]);
  return Promise.all(
    queues.map(async ([queue, url]): Promise<QueueDepth> => {
      if (!url) return { queue, visible: null, inFlight: null, delayed: null, error: 'not configured' };
      try {
        const { Attributes = {} } = await client.send(
          new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] }),
        );
        const n = (name: string) => (Attributes[name as keyof typeof Attributes] === undefined ? null : Number(Attributes[name as keyof typeof Attributes]));
        return { queue, visible: n('ApproximateNumberOfMessages'), inFlight: n('ApproximateNumberOfMessagesNotVisible'), delayed: n('ApproximateNumberOfMessagesDelayed') };
      } catch (error) {
        // A health answer without one depth beats no health answer.
        return { queue, visible: null, inFlight: null, delayed: null, error: (error as Error).name || 'unavailable' };
      }
    }),
  );
}
