/** Import progress on the application bus (source event-flows.imports). */
import { appEventPublisher, IMPORT_EVENTS_SOURCE } from '../events/domain-events.ts';

export const IMPORT_PROGRESS = 'ImportProgress';
export const IMPORT_COMPLETED = 'ImportCompleted';

/** What one worker invocation settled for one job (counts are of this invocation, not totals). */
export interface ImportProgressDetail {
  tenant: string;
  collection: string;
  importId: string;
  batches: number;
  succeeded: number;
  failed: number;
  created: number;
  /** Chunks whose last batch this invocation settled: when > 0 the job may be finished. */
  chunksCompleted: number;
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

export function publishImportProgress(detail: ImportProgressDetail): void {
  appEventPublisher().publish({ source: IMPORT_EVENTS_SOURCE, detailType: IMPORT_PROGRESS, detail });
}

export function publishImportCompleted(detail: ImportCompletedDetail): void {
  appEventPublisher().publish({ source: IMPORT_EVENTS_SOURCE, detailType: IMPORT_COMPLETED, detail });
}
