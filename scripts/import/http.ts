/**
 * The CLI's calls to the import API, through the typed client (client/): paths, bodies and
 * answers are checked against docs/openapi.json at compile time; 429, 5xx and network errors
 * are retried with back-off and `Retry-After`.
 */
import { createApiClient, ok, type ApiClientOptions, type Schemas } from '../../client/index.ts';

export { ApiError as HttpError, retryDelay, isRetryableStatus } from '../../client/index.ts';

export interface ClientOptions extends Pick<ApiClientOptions, 'attempts' | 'baseDelayMs' | 'maxDelayMs' | 'timeoutMs' | 'onRetry'> {
  api: string;
  token: string;
}

export type JobView = Schemas['ImportJob'];
export type ChunkReceipt = Schemas['ChunkReceipt'];

export function createClient(options: ClientOptions) {
  const { api, ...rest } = options;
  const client = createApiClient({ baseUrl: api, ...rest });
  const importId = (id: string) => ({ params: { path: { importId: id } } });
  return {
    createImport: async (collection: string) => ok(await client.POST('/imports', { body: { collection } })),
    addItems: async (id: string, chunkId: string, items: unknown[]) => ok(await client.POST('/imports/{importId}/items', { ...importId(id), body: { chunkId, items } })),
    commit: async (id: string) => ok(await client.POST('/imports/{importId}/commit', importId(id))),
    cancel: async (id: string) => ok(await client.POST('/imports/{importId}/cancel', importId(id))),
    status: async (id: string) => ok(await client.GET('/imports/{importId}', importId(id))),
    failures: async (id: string, cursor: string | null) =>
      ok(await client.GET('/imports/{importId}/failures', { params: { path: { importId: id }, query: { limit: 1000, ...(cursor ? { cursor } : {}) } } })),
  };
}
export type ImportApi = ReturnType<typeof createClient>;
