/**
 * Sends import messages to the import queue: SendMessageBatch-sized groups, failed entries
 * retried (../retry.ts); a call that fails as a whole was retried by the SDK already.
 */
import { sqs } from '../aws-clients.ts';
import { config } from '../config.ts';
import { RETRY_POLICIES, sendUntilProcessed } from '../retry.ts';
import { groupForSend, type ImportMessage } from './messages.ts';

/** Sends every message or throws; a partial send is safe to repeat (the worker skips batches it has done). */
export async function sendImportMessages(messages: readonly ImportMessage[], options: { concurrency?: number } = {}): Promise<void> {
  const groups = groupForSend(messages.map((message) => JSON.stringify(message)));
  // Loaded on the first send, not at init: only the routes that take items send.
  const { SendMessageBatchCommand } = await import('@aws-sdk/client-sqs');
  let next = 0;
  const worker = async () => {
    while (next < groups.length) {
      const left = await sendUntilProcessed(RETRY_POLICIES.batchRemainder, groups[next++]!, async (pending) => {
        const result = await (await sqs()).send(
          new SendMessageBatchCommand({ QueueUrl: config.importQueueUrl(), Entries: pending.map((MessageBody, i) => ({ Id: String(i), MessageBody })) }),
        );
        const failed = new Set((result.Failed ?? []).map((failure) => Number(failure.Id)));
        return pending.filter((_, i) => failed.has(i));
      });
      if (left.length > 0) throw new Error(`${left.length} import messages could not be queued`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 4, groups.length) }, worker));
}
