/** Sends import messages to the import queue: SendMessageBatch-sized groups, failed entries retried. */
import { sqs } from '../aws-clients.ts';
import { config } from '../config.ts';
import { backoffDelay } from '../events/publisher.ts';
import { groupForSend, type ImportMessage } from './messages.ts';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Sends every message or throws; a partial send is safe to repeat (the worker skips batches it has done). */
export async function sendImportMessages(messages: readonly ImportMessage[], options: { attempts?: number; concurrency?: number } = {}): Promise<void> {
  const attempts = options.attempts ?? 5;
  const groups = groupForSend(messages.map((message) => JSON.stringify(message)));
  // Loaded here, not at init: the event processor's queue-consumer path never sends.
  const { SendMessageBatchCommand } = await import('@aws-sdk/client-sqs');
  let next = 0;
  const worker = async () => {
    while (next < groups.length) {
      let pending = groups[next++]!;
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) await sleep(backoffDelay(attempt, 50) + 10);
        try {
          const result = await (await sqs()).send(
            new SendMessageBatchCommand({ QueueUrl: config.importQueueUrl(), Entries: pending.map((MessageBody, i) => ({ Id: String(i), MessageBody })) }),
          );
          const failed = new Set((result.Failed ?? []).map((failure) => Number(failure.Id)));
          pending = pending.filter((_, i) => failed.has(i));
        } catch (error) {
          if (attempt + 1 >= attempts) throw error;
        }
        if (pending.length > 0 && attempt + 1 >= attempts) throw new Error(`${pending.length} import messages could not be queued`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 4, groups.length) }, worker));
}
