/**
 * The typed client of the HTTP API: openapi-fetch over the types openapi-typescript
 * generates from docs/openapi.json (client/schema.d.ts; `npm run openapi` rewrites it), so
 * a path, parameter or body the document does not have is a type error, and every answer is
 * typed per status. On top, the habits a front end needs:
 *
 * - retries: 429, 5xx and network errors are retried with full-jitter exponential back-off,
 *   waiting at least what `Retry-After` asks (seconds or an HTTP date);
 * - optimistic concurrency: `updateItem` reads an item's ETag, writes with `If-Match`, and on
 *   412 (someone wrote in between) reads again and re-applies the change.
 *
 *   const api = createApiClient({ baseUrl, token });
 *   const { data, error } = await api.GET('/items/{collection}', { params: { path: { collection: 'books' } } });
 */
import createFetchClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './schema.d.ts';

export type { components, paths };
export type Schemas = components['schemas'];
export type ApiClient = Client<paths>;

export interface ApiClientOptions {
  /** The API's base URL: `npm start` prints it; Terraform outputs the deployed one. */
  baseUrl: string;
  /** A bearer token, or a function that returns a fresh one for each request. */
  token?: string | (() => string | Promise<string>);
  /** Tries per request, the first included. Default 8. */
  attempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Per attempt. Default 60 s. */
  timeoutMs?: number;
  /** Told about each retry (for a log or a spinner). */
  onRetry?: (what: string, attempt: number, reason: string, delayMs: number) => void;
  /** The fetch underneath (tests, instrumentation). Default the global fetch. */
  fetch?: (request: Request) => Promise<Response>;
}

/** Full-jitter exponential back-off, capped. */
export function retryDelay(attempt: number, baseDelayMs: number, maxDelayMs: number, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(maxDelayMs, baseDelayMs * 2 ** attempt));
}

export function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/** `Retry-After` in milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fetch that retries what may succeed later; the last answer (or error) is the caller's. */
export function retryingFetch(options: ApiClientOptions): (request: Request) => Promise<Response> {
  const attempts = options.attempts ?? 8;
  const base = options.baseDelayMs ?? 250;
  const max = options.maxDelayMs ?? 15_000;
  const underlying = options.fetch ?? ((request: Request) => fetch(request));
  return async (request) => {
    const what = `${request.method} ${new URL(request.url).pathname}`;
    for (let attempt = 0; ; attempt++) {
      const last = attempt + 1 >= attempts;
      // A body can be read once: each attempt sends a copy, the original stays for the next.
      const copy = new Request(request.clone(), { signal: AbortSignal.timeout(options.timeoutMs ?? 60_000) });
      let reason: string;
      let wait: number | undefined;
      try {
        const response = await underlying(copy);
        if (!isRetryableStatus(response.status) || last) return response;
        reason = `${response.status} ${(await response.text()).slice(0, 200)}`;
        wait = retryAfterMs(response.headers.get('retry-after'));
      } catch (error) {
        if (last) throw new Error(`${what} failed after ${attempts} attempts: ${(error as Error).message}`, { cause: error });
        reason = (error as Error).message;
      }
      const delay = Math.max(wait ?? 0, retryDelay(attempt, base, max));
      options.onRetry?.(what, attempt + 1, reason, delay);
      await sleep(delay);
    }
  };
}

export function createApiClient(options: ApiClientOptions): ApiClient {
  const client = createFetchClient<paths>({ baseUrl: options.baseUrl.replace(/\/+$/, ''), fetch: retryingFetch(options) });
  const token = options.token;
  if (token !== undefined) {
    client.use({
      async onRequest({ request }) {
        request.headers.set('authorization', `Bearer ${typeof token === 'function' ? await token() : token}`);
        return request;
      },
    });
  }
  return client;
}

/** An answer that was not a success: its status and body (`{"error":{...}}` or the gateway's `{"message"}`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    what: string,
  ) {
    const error = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
    const message = error?.message ?? (body as { message?: string } | undefined)?.message ?? '';
    super(`${what}: ${status}${error?.code ? ` ${error.code}` : ''} ${message}`.trim());
    this.name = 'ApiError';
  }

  /** The stable `error.code`, when a function answered. */
  get code(): string | undefined {
    return (this.body as { error?: { code?: string } } | undefined)?.error?.code;
  }
}

/** The data of a success, or an ApiError for anything else. */
export function ok<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.response.ok) return result.data as T;
  throw new ApiError(result.response.status, result.error, `${result.response.url}`);
}

type Item = Schemas['Item'];
type ItemData = Schemas['ItemData'];

/**
 * Changes an item without losing anyone's write: reads it (and its ETag), writes
 * `change(data)` with `If-Match`, and on 412 reads again and re-applies `change`, up to
 * `attempts` times. `change` must be a pure function of the data it is given.
 */
export async function updateItem(
  client: ApiClient,
  address: { collection: string; id: string },
  change: (data: ItemData) => ItemData | Promise<ItemData>,
  options: { attempts?: number } = {},
): Promise<Item> {
  const attempts = options.attempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    const read = await client.GET('/items/{collection}/{id}', { params: { path: address } });
    const current = ok(read);
    const etag = read.response.headers.get('etag') ?? `"${current.version}"`;
    const written = await client.PUT('/items/{collection}/{id}', { params: { path: address, header: { 'If-Match': etag } }, body: await change(current.data) });
    if (written.response.status !== 412 || attempt >= attempts) return ok(written);
  }
}
