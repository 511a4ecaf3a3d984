/**
 * The import API (admin tokens only, routes `/imports...` in topology.json): create a job,
 * add chunks (./chunks.ts queues them for the import worker), commit, cancel, read status and
 * failures. The job finishes when the app-events function sees its last batch done
 * (../app-events/handler.ts); a commit or status read that sees it done finishes it too.
 */
// First: registers the after-response extension during Init (a top-level await there).
import '../shared/after-response.ts';
import * as v from 'valibot';
import { requireAdmin } from '../shared/http/caller.ts';
import { ApiError, conflict, notFound, toApiError, validationFailed } from '../shared/http/errors.ts';
import { log } from '../shared/log.ts';
import { httpFunction, type ApiRequest, type Route } from '../shared/http/http-function.ts';
import { jsonObjectBody, NAME_PATTERN, parseWith, pathParameter, queryParameters } from '../shared/http/request.ts';
import { completeIfDone } from '../shared/imports/complete.ts';
import { cancelJob, commitJob, createJob, discardUnusedJob, getJob, isSettled, listFailures, viewOf, type ImportJob } from '../shared/imports/jobs.ts';
import { FAILURES_PAGE_DEFAULT, FAILURES_PAGE_MAX, MAX_REQUEST_BYTES, MAX_REQUEST_ITEMS } from '../shared/imports/limits.ts';
import { submitChunk } from './chunks.ts';

const IMPORT_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const Items = v.pipe(v.array(v.unknown()), v.maxLength(MAX_REQUEST_ITEMS, `at most ${MAX_REQUEST_ITEMS} items a request`));
const ChunkId = v.pipe(v.string(), v.regex(NAME_PATTERN, `must match ${NAME_PATTERN.source}`));
/** Exported for the OpenAPI document, which is generated from these two (scripts/openapi/document.ts). */
export const CreateBody = v.strictObject({
  collection: v.pipe(v.string(), v.regex(NAME_PATTERN, `must match ${NAME_PATTERN.source}`)),
  items: v.optional(Items),
});
export const ChunkBody = v.strictObject({ items: Items, chunkId: v.optional(ChunkId) });

function tenantOf(request: ApiRequest): { tenant: string; userId: string } {
  const caller = request.caller();
  requireAdmin(caller);
  return caller;
}

/** The caller's job, 404 when it is not theirs; `withProgress: false` reads the job record only. */
async function jobOf(request: ApiRequest, options: { withProgress?: boolean } = {}): Promise<ImportJob> {
  const { tenant } = tenantOf(request);
  const importId = pathParameter(request.event, 'importId', IMPORT_ID_PATTERN);
  request.analytics.importId = importId;
  const job = await getJob(tenant, importId, options);
  if (!job) throw notFound(`no import ${importId}`);
  request.analytics.collection = job.collection;
  return job;
}

async function create(request: ApiRequest) {
  const { tenant, userId } = tenantOf(request);
  const body = parseWith(CreateBody, jsonObjectBody(request.event, MAX_REQUEST_BYTES), 'body');
  const job = await createJob(tenant, body.collection, userId);
  request.analytics.importId = job.importId;
  request.analytics.collection = job.collection;
  if (body.items === undefined) return { statusCode: 201, body: { importId: job.importId, status: job.status } };
  // Items with the request: one chunk, committed at once.
  const receipt = await submitChunk(job, body.items, INITIAL_CHUNK_ID).catch((error: unknown) => abandonCreate(job, error));
  await commitJob(tenant, job.importId);
  const finished = await completeIfDone(tenant, job.importId, request.context);
  request.analytics.accepted = receipt.accepted;
  request.analytics.rejected = receipt.rejected.length;
  return {
    statusCode: 201,
    body: { importId: job.importId, status: finished?.status ?? 'PROCESSING', accepted: receipt.accepted, rejected: receipt.rejected },
  };
}

const INITIAL_CHUNK_ID = 'initial';

/**
 * The items of a create could not be recorded: the caller gets an error, and must not be
 * left with a job it never heard of. A job with no chunk is deleted; one whose chunk was
 * recorded is named in the error, with how to finish it (send the chunk again).
 */
async function abandonCreate(job: ImportJob, error: unknown): Promise<never> {
  const failure = toApiError(error);
  const discarded = await discardUnusedJob(job.tenant, job.importId).catch((cleanup: unknown) => {
    log.warn('could not delete the job of a failed create', { importId: job.importId, error: String(cleanup) });
    return false;
  });
  if (discarded) throw failure;
  throw new ApiError(failure.statusCode, failure.code, `${failure.message}; import ${job.importId} was created and holds part of the items`, [
    { field: 'importId', issue: `${job.importId}: send the same items to POST /imports/${job.importId}/items with chunkId "${INITIAL_CHUNK_ID}", then commit` },
  ]);
}

async function addItems(request: ApiRequest) {
  const job = await jobOf(request, { withProgress: false });
  const body = parseWith(ChunkBody, jsonObjectBody(request.event, MAX_REQUEST_BYTES), 'body');
  const receipt = await submitChunk(job, body.items, body.chunkId);
  request.analytics.accepted = receipt.accepted;
  request.analytics.rejected = receipt.rejected.length;
  request.analytics.replayed = receipt.replayed;
  return { statusCode: 202, body: receipt };
}

/**
 * No more chunks. A chunk whose request failed half-way (recorded, not fully queued) keeps
 * the job PROCESSING until it is sent again with its chunkId, which works after commit too.
 */
async function commit(request: ApiRequest) {
  const job = await jobOf(request, { withProgress: false });
  if (job.status === 'OPEN') await commitJob(job.tenant, job.importId);
  // Finishing here is a shortcut (an empty job, or every batch already done); the app-events
  // function and status reads finish it otherwise, so a failure here is not the caller's.
  const finished = await completeIfDone(job.tenant, job.importId, request.context).catch((error: unknown) => {
    log.warn('could not check the job for completion at commit', { importId: job.importId, error: String(error) });
    return undefined;
  });
  return { statusCode: 202, body: { importId: job.importId, status: finished?.status ?? (job.status === 'OPEN' ? 'PROCESSING' : job.status) } };
}

/** Stops a job that has not finished (status CANCELLED); repeating it is harmless, a finished job is a 409. */
async function cancel(request: ApiRequest) {
  const job = await jobOf(request, { withProgress: false });
  const outcome = await cancelJob(job.tenant, job.importId);
  if (outcome === 'finished') throw conflict(`import ${job.importId} has finished; there is nothing to cancel`);
  const view = viewOf((await getJob(job.tenant, job.importId)) ?? job);
  return { statusCode: 202, body: view };
}

async function status(request: ApiRequest) {
  let job = await jobOf(request);
  // Normally the app-events function finishes the job; a read that sees it done does too.
  if (isSettled(job)) job = (await completeIfDone(job.tenant, job.importId, request.context, job)) ?? (await getJob(job.tenant, job.importId)) ?? job;
  return { statusCode: 200, body: viewOf(job) };
}

async function failures(request: ApiRequest) {
  const job = await jobOf(request);
  const query = queryParameters(request.event, ['limit', 'cursor']);
  const limit = query.limit === undefined ? FAILURES_PAGE_DEFAULT : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > FAILURES_PAGE_MAX) throw validationFailed([{ field: 'query.limit', issue: `must be an integer from 1 to ${FAILURES_PAGE_MAX}` }]);
  const page = await listFailures(job.tenant, job.importId, limit, query.cursor);
  return { statusCode: 200, body: page };
}

const route = (type: string, handle: Route['handle'], category: Route['category'] = 'USER_ACTION'): Route => ({ type, action: 'IMPORT', category, handle });

export const handler = httpFunction({
  source: 'event-flows.imports',
  routes: {
    'POST /imports': route('IMPORT_CREATE', create),
    'POST /imports/{importId}/items': route('IMPORT_ITEMS', addItems),
    'POST /imports/{importId}/commit': route('IMPORT_COMMIT', commit),
    'POST /imports/{importId}/cancel': route('IMPORT_CANCEL', cancel),
    'GET /imports/{importId}': route('IMPORT_STATUS', status, 'QUERY'),
    'GET /imports/{importId}/failures': route('IMPORT_FAILURES', failures, 'QUERY'),
  },
});
