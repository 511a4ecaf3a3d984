/**
 * Work that runs after a function has returned its response: analytics and domain-event
 * delivery. Nothing here may delay or fail the response.
 *
 * In AWS the Lambda sandbox freezes as soon as the runtime and every extension have asked
 * for the next event, so promises still pending after the response would stall until the
 * next invocation (or never run). We register an *internal extension* with the Extensions
 * API from inside the runtime process (`POST /2020-01-01/extension/register`, header
 * `Lambda-Extension-Name`, events `["INVOKE"]`: internal extensions cannot receive
 * SHUTDOWN). Lambda then keeps the sandbox running until the extension calls
 * `GET /2020-01-01/extension/event/next` (header `Lambda-Extension-Identifier`) again, so
 * the extension loop:
 *
 *   1. waits for INVOKE (its `event/next` returns when an invocation starts);
 *   2. waits until the handler has returned;
 *   3. yields one macrotask: the Node.js runtime posts the response to the Runtime API in
 *      the microtasks that follow the handler's promise (synchronously, through its native
 *      client), so after this turn the response is out;
 *   4. runs the queued tasks, then calls `event/next`, which lets the sandbox freeze.
 *
 * Limits (see docs/ANALYTICS.md): the post-response time is billed and counts toward the
 * function timeout; a timeout or crash of the environment loses what was still queued.
 * Registration must happen during Init (before the runtime's first `invocation/next`):
 * handler modules should `await afterResponseReady()` at top level. When the extension
 * cannot register, the wrapper drains before returning instead: slower, nothing lost.
 *
 * Locally (and in tests) there is no Extensions API; the runtime that invoked the handler
 * calls `drainAfterResponseTasks()` itself once it has written the response.
 */

export type AfterResponseTask = () => Promise<void>;

export const EXTENSION_NAME = 'event-flows-after-response';

const pending: AfterResponseTask[] = [];
let invocationDone: (() => void) | undefined;
/** Set when the extension loop has died (Runtime API gone): the wrapper then drains inline. */
let extensionBroken = false;

/** Queue work to run once the current response has been sent. */
export function afterResponse(task: AfterResponseTask): void {
  pending.push(task);
}

/** Runs every queued task (and any they queue in turn); never rejects. */
export async function drainAfterResponseTasks(): Promise<void> {
  while (pending.length > 0) {
    const batch = pending.splice(0, pending.length);
    const results = await Promise.allSettled(batch.map((task) => task()));
    for (const result of results) {
      if (result.status === 'rejected') {
        console.error(JSON.stringify({ level: 'ERROR', message: 'after-response task failed', error: String(result.reason) }));
      }
    }
  }
}

/** How many tasks wait to run; used by the local runtime's shutdown and by tests. */
export function pendingAfterResponseTasks(): number {
  return pending.length;
}

function insideLambda(): boolean {
  return Boolean(process.env.AWS_LAMBDA_RUNTIME_API) && !process.env.EVENT_FLOWS_LOCAL_RUNTIME;
}

/**
 * Registers the extension (once). Resolves to true when it is registered, false when it
 * could not be (or we are not inside Lambda); never rejects. Await it at a handler
 * module's top level so registration completes during Init.
 */
export function afterResponseReady(): Promise<boolean> {
  if (!insideLambda()) return Promise.resolve(false);
  return startInProcessExtension();
}

/**
 * Wraps a handler so that, inside AWS Lambda, its after-response tasks run after the
 * response is posted and before the sandbox freezes. Outside Lambda it is a pass-through.
 */
export function withAfterResponse<E, C, R>(handler: (event: E, context: C) => Promise<R>): (event: E, context: C) => Promise<R> {
  if (!insideLambda()) return handler;
  const registered = startInProcessExtension();
  return async (event, context) => {
    const extensionRunning = await registered;
    try {
      return await handler(event, context);
    } finally {
      if (extensionRunning && !extensionBroken) {
        // Tells the extension loop that the handler is finished; it drains after the runtime responds.
        invocationDone?.();
      } else {
        // No extension: the sandbox would freeze with the tasks pending. Deliver now, before the response.
        await drainAfterResponseTasks();
      }
    }
  };
}

let extensionStarted: Promise<boolean> | undefined;

function startInProcessExtension(): Promise<boolean> {
  if (extensionStarted) return extensionStarted;
  const base = `http://${process.env.AWS_LAMBDA_RUNTIME_API}/2020-01-01/extension`;
  extensionStarted = (async () => {
    try {
      const registration = await fetch(`${base}/register`, {
        method: 'POST',
        headers: { 'Lambda-Extension-Name': EXTENSION_NAME, 'content-type': 'application/json' },
        body: JSON.stringify({ events: ['INVOKE'] }),
      });
      await registration.arrayBuffer();
      const extensionId = registration.headers.get('lambda-extension-identifier');
      if (!registration.ok || !extensionId) throw new Error(`extension registration failed: ${registration.status}`);
      void extensionLoop(base, extensionId);
      return true;
    } catch (error) {
      // A failed registration must not fail invocations: the wrapper then drains before responding.
      console.error(JSON.stringify({ level: 'ERROR', message: 'after-response extension unavailable; delivering before the response', error: String(error) }));
      return false;
    }
  })();
  return extensionStarted;
}

async function extensionLoop(base: string, extensionId: string): Promise<void> {
  try {
    for (;;) {
      const handlerFinished = new Promise<void>((resolve) => {
        invocationDone = resolve;
      });
      // Blocks until the next INVOKE; calling it is also how we tell Lambda we are done.
      const next = await fetch(`${base}/event/next`, { headers: { 'Lambda-Extension-Identifier': extensionId } });
      await next.arrayBuffer();
      if (!next.ok) throw new Error(`event/next answered ${next.status}`);
      await handlerFinished;
      // The runtime posts the response in the microtasks after the handler settles: let it.
      await new Promise<void>((resolve) => setImmediate(resolve));
      await drainAfterResponseTasks();
    }
  } catch (error) {
    extensionBroken = true;
    invocationDone?.();
    console.error(JSON.stringify({ level: 'ERROR', message: 'after-response extension stopped; delivering before the response', error: String(error) }));
  }
}
