/** The CLI's HTTP calls: JSON in and out, retried on 429, 5xx and network errors with back-off. */

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export interface ClientOptions {
  api: string;
  token: string;
  attempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  timeoutMs?: number;
  /** Told about each retry (for the log). */
  onRetry?: (what: string, attempt: number, reason: string, delayMs: number) => void;
}

/** Full-jitter exponential back-off, capped. */
export function retryDelay(attempt: number, baseDelayMs: number, maxDelayMs: number, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(maxDelayMs, baseDelayMs * 2 ** attempt));
}

export function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function createClient(options: ClientOptions) {
  const attempts = options.attempts ?? 8;
  const base = options.baseDelayMs ?? 250;
  const max = options.maxDelayMs ?? 15_000;
  const api = options.api.replace(/\/+$/, '');
  return async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      let reason: string;
      let retryAfterMs: number | undefined;
      try {
        const response = await fetch(`${api}${path}`, {
          method,
          headers: { authorization: `Bearer ${options.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(options.timeoutMs ?? 60_000),
        });
        const text = await response.text();
        let parsed: unknown = undefined;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          parsed = text;
        }
        if (response.ok) return parsed as T;
        const message = (parsed as { error?: { message?: string } } | undefined)?.error?.message ?? text.slice(0, 200);
        if (!isRetryableStatus(response.status)) throw new HttpError(response.status, parsed, `${method} ${path}: ${response.status} ${message}`);
        reason = `${response.status} ${message}`;
        const retryAfter = Number(response.headers.get('retry-after'));
        if (Number.isFinite(retryAfter) && retryAfter > 0) retryAfterMs = retryAfter * 1000;
      } catch (error) {
        if (error instanceof HttpError) throw error;
        reason = (error as Error).message;
      }
      if (attempt + 1 >= attempts) throw new Error(`${method} ${path} failed after ${attempts} attempts: ${reason}`);
      const delay = Math.max(retryAfterMs ?? 0, retryDelay(attempt, base, max));
      options.onRetry?.(`${method} ${path}`, attempt + 1, reason, delay);
      await sleep(delay);
    }
  };
}
export type Request = ReturnType<typeof createClient>;
