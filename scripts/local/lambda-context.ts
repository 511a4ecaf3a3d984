/**
 * A Lambda-like invocation for the local runtime: the context object the handlers receive
 * and an invoke() that enforces the function's timeout the way Lambda reports it.
 *
 * Handlers run in this process, so a timed-out handler cannot be killed; its result is
 * ignored (as Lambda ignores a frozen sandbox's late work) and the caller sees a timeout.
 */
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';

/** moto's default account, so ARNs built here match the emulator's queue ARNs. */
export const localAccountId = '123456789012';
export const localRegion = 'us-east-1';

/** What the runtime needs to know about a function to invoke it. */
export interface LocalFunction {
  /** Deployed name, e.g. `event-flows-local-query`. */
  functionName: string;
  memoryMb: number;
  timeoutSeconds: number;
  // The handler's event and result types are the handler's business; the runtime passes
  // API Gateway / SQS events and inspects results itself, so `unknown` on both sides.
  handler: (event: unknown, context: Context) => unknown;
}

export function createContext(fn: Pick<LocalFunction, 'functionName' | 'memoryMb' | 'timeoutSeconds'>, startedAt = Date.now()): Context {
  const deadline = startedAt + fn.timeoutSeconds * 1000;
  const awsRequestId = randomUUID();
  const day = new Date(startedAt).toISOString().slice(0, 10).replaceAll('-', '/');
  const deprecated = (name: string) => () => {
    throw new Error(`context.${name}() is not supported by the Node.js 20+ Lambda runtime; return a value or a promise instead`);
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: fn.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${localRegion}:${localAccountId}:function:${fn.functionName}`,
    memoryLimitInMB: String(fn.memoryMb),
    awsRequestId,
    logGroupName: `/aws/lambda/${fn.functionName}`,
    logStreamName: `${day}/[$LATEST]${awsRequestId.replaceAll('-', '')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: deprecated('done'),
    fail: deprecated('fail'),
    succeed: deprecated('succeed'),
  };
}

export class InvocationTimeoutError extends Error {
  constructor(functionName: string, timeoutSeconds: number) {
    super(`Task timed out after ${timeoutSeconds.toFixed(2)} seconds (${functionName})`);
    this.name = 'InvocationTimeoutError';
  }
}

export type InvocationOutcome =
  | { ok: true; result: unknown; context: Context }
  | { ok: false; error: unknown; timedOut: boolean; context: Context };

/**
 * Invokes a handler with a fresh context and the function's timeout. Never rejects:
 * errors and timeouts come back as `{ ok: false }` and are logged like Lambda logs them.
 */
export async function invoke(fn: LocalFunction, event: unknown, log: (line: string) => void = (line) => console.error(line)): Promise<InvocationOutcome> {
  const context = createContext(fn);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new InvocationTimeoutError(fn.functionName, fn.timeoutSeconds)), fn.timeoutSeconds * 1000);
  });
  try {
    const result = await Promise.race([Promise.resolve().then(() => fn.handler(event, context)), timeout]);
    return { ok: true, result, context };
  } catch (error) {
    const timedOut = error instanceof InvocationTimeoutError;
    const err = error instanceof Error ? error : new Error(String(error));
    log(
      JSON.stringify({
        timestamp: new Date().toISOString(),
        level: 'ERROR',
        requestId: context.awsRequestId,
        function: fn.functionName,
        message: timedOut ? err.message : 'Invoke Error',
        errorType: err.name,
        errorMessage: err.message,
        stackTrace: timedOut ? undefined : err.stack?.split('\n'),
      }),
    );
    return { ok: false, error, timedOut, context };
  } finally {
    clearTimeout(timer);
  }
}
