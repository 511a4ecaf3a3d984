/** Finishing a job: whoever notices first (commit, the app-events function, a status read) wins once. */
import type { Context } from 'aws-lambda';
import { recordAnalytics } from '../analytics/emitter.ts';
import { IMPORT_EVENTS_SOURCE } from '../events/domain-events.ts';
import { publishImportCompleted } from './events.ts';
import { tryCompleteJob, type ImportJob } from './jobs.ts';

export async function completeIfDone(tenant: string, importId: string, context: Context, known?: ImportJob): Promise<ImportJob | undefined> {
  const job = await tryCompleteJob(tenant, importId, known);
  if (!job || !job.completedAt) return undefined;
  const counts = { total: job.total, succeeded: job.succeeded, failed: job.failed, rejected: job.rejected, created: job.created };
  publishImportCompleted({ tenant, collection: job.collection, importId, status: job.status, ...counts, createdAt: job.createdAt, completedAt: job.completedAt });
  recordAnalytics({
    type: 'IMPORT_COMPLETED',
    action: 'IMPORT',
    category: 'SYSTEM_EVENT',
    source: IMPORT_EVENTS_SOURCE,
    status: job.status === 'FAILED' ? 'FAILURE' : 'SUCCESS',
    ...(job.status === 'FAILED' ? { errorType: 'IMPORT_FAILED' } : {}),
    durationMs: Date.parse(job.completedAt) - Date.parse(job.createdAt),
    ...(job.createdBy ? { userId: job.createdBy } : {}),
    requestId: context.awsRequestId,
    context,
    properties: { importId, tenant, collection: job.collection, importStatus: job.status, ...counts },
  });
  return job;
}
