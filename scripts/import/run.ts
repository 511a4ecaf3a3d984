/**
 * The import CLI's work: create (or resume) a job, stream the file into chunks, send them
 * with bounded concurrency, commit, follow the job to its end, and summarize.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { DEFAULT_LIMITS, toChunks, type Chunk, type ChunkLimits } from './chunks.ts';
import { createClient, HttpError, type ImportApi, type JobView } from './http.ts';
import { formatOf, readRecords } from './parsers.ts';
import { Progress } from './progress.ts';
import { addAcked, hashFile, isAcked, loadState, removeState, saveState, stateKey, statePaths, type ImportState } from './state.ts';

type Output = NodeJS.WritableStream & { isTTY?: boolean };

export interface RunOptions {
  file: string;
  collection: string;
  api: string;
  token: string;
  format?: string;
  idField?: string;
  /** Chunk requests in flight at once (default 4). */
  concurrency?: number;
  /**
   * Most items accepted but not yet processed before the upload waits for the workers
   * (default 10,000; 0: never wait). Keeps the import queue short.
   */
  maxBacklog?: number;
  /** `auto` (default): continue an interrupted upload of this file if there is one; `required`: fail if there is none; `never`: start a new job. */
  resume?: 'auto' | 'required' | 'never';
  stateDir?: string;
  limits?: ChunkLimits;
  /** Stops the upload after the chunks in flight; the state is kept for --resume. */
  signal?: AbortSignal;
  pollIntervalMs?: number;
  /** Give up following the job after this long (default: never). */
  followTimeoutMs?: number;
  out?: Output;
  err?: Output;
  maxRejectionsShown?: number;
  /** Told after each chunk the API acknowledged (tests interrupt uploads with it). */
  onChunkAcked?: (seq: number) => void;
  /** Retry tuning (tests). */
  retry?: { attempts?: number; baseDelayMs?: number; maxDelayMs?: number };
}

export type { JobView };

export interface RunResult {
  importId: string;
  status: string;
  job?: JobView;
  /** Records the CLI could not read (invalid JSON/CSV, no id). */
  clientRejected: number;
  /** Items the API refused, over every run of this upload. */
  serverRejected: number;
  /** Items sent and accepted by this run (chunks acknowledged earlier are skipped). */
  sentThisRun: number;
  uploadSeconds: number;
  totalSeconds: number;
  rejectedFile: string;
  exitCode: number;
}

const FINISHED = new Set(['COMPLETED', 'COMPLETED_WITH_ERRORS', 'FAILED', 'CANCELLED']);
/** Not finished, but nothing will change by itself: stop following (the state is kept for --resume). */
const STOPPED = new Set(['STALLED']);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runImport(options: RunOptions): Promise<RunResult> {
  const out = options.out ?? process.stdout;
  const err = options.err ?? process.stderr;
  const started = Date.now();
  const file = resolve(options.file);
  const format = formatOf(file, options.format);
  const { size } = await stat(file);
  const api = options.api.replace(/\/+$/, '');
  const request = createClient({
    api,
    token: options.token,
    ...options.retry,
    onRetry: (what, attempt, reason, delayMs) => err.write(`retrying ${what} (attempt ${attempt + 1}) in ${delayMs} ms: ${reason}\n`),
  });
  const stateDir = resolve(options.stateDir ?? '.import-state');
  const contentHash = await hashFile(file);
  const paths = statePaths(stateDir, stateKey(contentHash, options.collection, api));

  let state = await loadState(paths.state);
  const resume = options.resume ?? 'auto';
  if (state && resume === 'never') {
    await removeState(paths.state);
    state = undefined;
  }
  if (!state && resume === 'required') throw new Error(`nothing to resume: no interrupted upload of ${options.file} into ${options.collection} at ${api}`);
  if (state) {
    try {
      const job = await request.status(state.importId);
      if (job.status !== 'OPEN' && !state.committed) state.committed = true;
      const chunksDone = state.acked.reduce((n, [from, to]) => n + to - from + 1, 0);
      err.write(`resuming import ${state.importId} (${chunksDone} chunk(s), ${state.accepted.toLocaleString('en-US')} items already acknowledged)\n`);
    } catch (error) {
      if (!(error instanceof HttpError && error.status === 404)) throw error;
      err.write(`import ${state.importId} from the state file no longer exists; starting a new one\n`);
      state = undefined;
    }
  }
  if (!state) {
    const created = await request.createImport(options.collection);
    state = {
      version: 1,
      importId: created.importId,
      file,
      contentHash,
      collection: options.collection,
      api,
      format,
      limits: options.limits ?? DEFAULT_LIMITS,
      acked: [],
      accepted: 0,
      rejected: [],
      rejectedCount: 0,
      committed: false,
      startedAt: new Date().toISOString(),
    };
    await saveState(paths.state, state);
    err.write(`import ${state.importId} created for collection ${options.collection}\n`);
  }
  const current: ImportState = state;

  const report = createWriteStream(paths.rejected);
  const maxShown = options.maxRejectionsShown ?? 20;
  let shown = 0;
  let clientRejected = 0;
  const reject = (line: number, reason: string, id?: string, fromServer = false) => {
    report.write(`${JSON.stringify({ line, ...(id ? { id } : {}), reason, source: fromServer ? 'server' : 'client' })}\n`);
    if (shown < maxShown) err.write(`rejected line ${line}${id ? ` (id ${id})` : ''}: ${reason}\n`);
    else if (shown === maxShown) err.write(`more rejected lines are listed in ${paths.rejected}\n`);
    shown++;
  };
  for (const r of current.rejected) reject(r.line, r.reason, r.id, true);

  // Upload.
  let sentThisRun = 0;
  const uploadStarted = Date.now();
  if (!current.committed) {
    let bytesRead = 0;
    const progress = new Progress(err);
    progress.start();
    const records = readRecords(file, format, { ...(options.idField ? { idField: options.idField } : {}), onBytes: (bytes) => (bytesRead = bytes) });
    const chunks = toChunks(records, current.limits, (line, reason) => {
      clientRejected++;
      reject(line, reason);
    });
    let saving = Promise.resolve();
    const send = async (chunk: Chunk) => {
      const receipt = await request.addItems(current.importId, `c${chunk.seq}`, chunk.items);
      current.acked = addAcked(current.acked, chunk.seq);
      current.accepted += receipt.accepted;
      sentThisRun += receipt.accepted;
      for (const r of receipt.rejected) {
        const rejection = { line: chunk.lines[r.index] ?? 0, ...(r.id ? { id: r.id } : {}), reason: r.reason };
        current.rejectedCount++;
        if (current.rejected.length < 10_000) current.rejected.push(rejection);
        reject(rejection.line, rejection.reason, rejection.id, true);
      }
      saving = saving.then(() => saveState(paths.state, current));
      await saving;
      options.onChunkAcked?.(chunk.seq);
      progress.update({ label: 'upload', fraction: size > 0 ? bytesRead / size : 1, items: sentThisRun, detail: `(${current.accepted.toLocaleString('en-US')} accepted)` });
    };
    // Back-pressure: while too many accepted items wait in the queue, wait for the workers.
    const maxBacklog = options.maxBacklog ?? 10_000;
    let processed = 0;
    let polling: Promise<void> | undefined;
    const pollProgress = () =>
      (polling ??= (async () => {
        await sleep(1000);
        processed = (await request.status(current.importId)).processed;
      })().finally(() => (polling = undefined)));
    const worker = async () => {
      for (;;) {
        if (options.signal?.aborted) return;
        const next = await chunks.next();
        if (next.done) return;
        if (isAcked(current.acked, next.value.seq)) continue;
        while (maxBacklog > 0 && current.accepted - processed > maxBacklog && !options.signal?.aborted) {
          progress.update({ label: 'upload', fraction: size > 0 ? bytesRead / size : 1, items: sentThisRun, detail: '(waiting for the workers)' });
          await pollProgress();
        }
        await send(next.value);
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 4) }, worker));
    } finally {
      progress.stop();
      await saving;
    }
    if (options.signal?.aborted) {
      await new Promise<void>((done) => report.end(done));
      err.write(`upload interrupted; ${current.accepted.toLocaleString('en-US')} items acknowledged so far. Run the same command again (or with --resume) to continue import ${current.importId}.\n`);
      return {
        importId: current.importId,
        status: 'INTERRUPTED',
        clientRejected,
        serverRejected: current.rejectedCount,
        sentThisRun,
        uploadSeconds: (Date.now() - uploadStarted) / 1000,
        totalSeconds: (Date.now() - started) / 1000,
        rejectedFile: paths.rejected,
        exitCode: 130,
      };
    }
    await request.commit(current.importId);
    current.committed = true;
    await saveState(paths.state, current);
  } else {
    // Already committed: still read the file for its client-side rejections (they are not stored).
    for await (const parsed of readRecords(file, format, options.idField ? { idField: options.idField } : {})) {
      if ('error' in parsed) {
        clientRejected++;
        reject(parsed.line, parsed.error);
      }
    }
  }
  const uploadSeconds = (Date.now() - uploadStarted) / 1000;
  await new Promise<void>((done) => report.end(done));

  // Follow the job to its end.
  const job = await follow(request, current.importId, err, options);
  const totalSeconds = (Date.now() - started) / 1000;
  const serverRejected = current.rejectedCount;
  if (job && FINISHED.has(job.status)) await removeState(paths.state);
  const ok = job?.status === 'COMPLETED' && clientRejected === 0 && serverRejected === 0;
  printSummary(out, { job, importId: current.importId, clientRejected, serverRejected, totalSeconds, uploadSeconds, rejectedFile: paths.rejected, api });
  return {
    importId: current.importId,
    status: job?.status ?? 'UNKNOWN',
    ...(job ? { job } : {}),
    clientRejected,
    serverRejected,
    sentThisRun,
    uploadSeconds,
    totalSeconds,
    rejectedFile: paths.rejected,
    exitCode: ok ? 0 : 1,
  };
}

async function follow(request: ImportApi, importId: string, err: Output, options: RunOptions): Promise<JobView | undefined> {
  const progress = new Progress(err);
  progress.start();
  const deadline = options.followTimeoutMs ? Date.now() + options.followTimeoutMs : Number.POSITIVE_INFINITY;
  let job: JobView | undefined;
  try {
    for (;;) {
      job = await request.status(importId);
      progress.update({ label: 'process', fraction: job.total > 0 ? job.processed / job.total : 1, items: job.processed, detail: `(${job.status.toLowerCase()}, ${job.failed} failed)` });
      if (FINISHED.has(job.status) || STOPPED.has(job.status) || Date.now() > deadline) return job;
      await sleep(options.pollIntervalMs ?? 2000);
    }
  } finally {
    progress.stop();
  }
}

function printSummary(
  out: Output,
  s: { job: JobView | undefined; importId: string; clientRejected: number; serverRejected: number; totalSeconds: number; uploadSeconds: number; rejectedFile: string; api: string },
): void {
  const n = (value: number) => value.toLocaleString('en-US');
  const job = s.job;
  const lines = [`import ${s.importId}: ${job?.status ?? 'UNKNOWN'} in ${s.totalSeconds.toFixed(1)}s (upload ${s.uploadSeconds.toFixed(1)}s)`];
  if (job?.statusReason) lines.push(`  ${job.statusReason}`);
  if (job) {
    lines.push(`  accepted ${n(job.total)}, written ${n(job.succeeded)} (new ${n(job.created)}, replaced ${n(job.replaced)}), failed ${n(job.failed)}`);
    if (s.totalSeconds > 0) lines.push(`  throughput ${n(Math.round(job.succeeded / s.totalSeconds))} items/s end to end`);
  }
  const rejected = s.clientRejected + s.serverRejected;
  if (rejected > 0) lines.push(`  rejected ${n(rejected)} (unreadable ${n(s.clientRejected)}, refused by the API ${n(s.serverRejected)}): see ${s.rejectedFile}`);
  if (job && job.failed > 0) lines.push(`  failed items: GET ${s.api}/imports/${s.importId}/failures  (or: npm run import -- --failures ${s.importId})`);
  out.write(`${lines.join('\n')}\n`);
}

/** Prints every failure of a job as NDJSON. */
export async function printFailures(options: { api: string; token: string; importId: string; out?: Output }): Promise<number> {
  const request = createClient({ api: options.api, token: options.token });
  const out = options.out ?? process.stdout;
  let cursor: string | null = null;
  let count = 0;
  do {
    const page = await request.failures(options.importId, cursor);
    for (const failure of page.failures) out.write(`${JSON.stringify(failure)}\n`);
    count += page.failures.length;
    cursor = page.nextCursor;
  } while (cursor);
  return count;
}

/** Cancels an import (POST /imports/{id}/cancel) and returns the job as it is then. */
export async function cancelImport(options: { api: string; token: string; importId: string }): Promise<JobView> {
  const request = createClient({ api: options.api, token: options.token });
  return request.cancel(options.importId);
}

export type { WriteStream };
