/** Import progress on the application bus (source event-flows.imports). */
import { appEventPublisher, IMPORT_EVENTS_SOURCE } from '../events/domain-events.ts';

export const IMPORT_BATCH_PROCESSED = 'ImportBatchProcessed';
export const IMPORT_COMPLETED = 'ImportCompleted';

export interface ImportBatchProcessedDetail {
  tenant: string;
  collection: string;
  importId: string;
  batchId: string;
  succeeded: number;
  failed: number;
  created: number;
  /** Every batch of this batch's chunk is settled: the job may be finished. */
  chunkComplete: boolean;
  at: string;
}

export interface ImportCompletedDetail {
  tenant: string;
  collection: string;
  importId: string;
  status: string;
  total: number;
  succeeded: number;
  failed: number;
  rejected: number;
  created: number;
  createdAt: string;
  completedAt: string;
}

export function publishBatchProcessed(detail: ImportBatchProcessedDetail): void {
  appEventPublisher().publish({ source: IMPORT_EVENTS_SOURCE, detailType: IMPORT_BATCH_PROCESSED, detail });
}

export function publishImportCompleted(detail: ImportCompletedDetail): void {
  appEventPublisher().publish({ source: IMPORT_EVENTS_SOURCE, detailType: IMPORT_COMPLETED, detail });
}
