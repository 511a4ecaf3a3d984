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
 *   3. waits until the runtime has posted the response. The Node.js runtime interface client
 *      posts it synchronously (a blocking native call) either in the promise continuation
 *      of the handler (client 3.x) or one setImmediate later (4.x). So the loop yields one
 *      macrotask at a time until no other setImmediate is pending: under either client
 *      the response is out before the first task starts;
 *   4. runs the queued tasks within the invocation's remaining time, then calls
 *      `event/next`, which lets the sandbox freeze.
 *
 * Each task gets a deadline (epoch ms): the invocation's remaining time when the handler
 * returned (`context.getRemainingTimeInMillis()`), less a reserve for the last log lines.
 * A task that would run past it must hand its work to a durable fallback or the log; the
 * drain stops waiting for it at the deadline.
 *
 * Limits (see docs/ANALYTICS.md): the post-response time is billed and counts toward the
 * function timeout; a timeout or crash of the environment loses what was still queued.
 * Registration must happen during Init (before the runtime's first `invocation/next`), so
 * this module registers at load, with a top-level await: importing it is enough. When the
 * extension cannot register, the wrapper drains before returning instead: slower, nothing
 * lost.
 *
 * Locally (and in tests) there is no Extensions API; the runtime that invoked the handler
 * calls `drainAfterResponseTasks()` itself once it has written the response.
 */
import { log } from './log.ts';

/** `deadline`: epoch ms by which the task must have finished (Infinity when unbounded). */
export type AfterResponseTask = (deadline: number) => Promise<void>;

/** Kept from the remaining time for what follows the tasks (log lines, `event/next`). */
export const DEADLINE_RESERVE_MS = 250;
/** Turns the extension waits at most for other pending setImmediates (the runtime's post among them). */
const MAX_POST_RESPONSE_TURNS = 10;

export const EXTENSION_NAME = 'event-flows-after-response';

const pending: AfterResponseTask[] = [];
/** Called by the wrapper when the handler has returned, with the deadline of the after-response work. */
let invocationDone: ((deadline: number) => void) | undefined;
/** Set when the extension loop has died (Runtime API gone): the wrapper then drains inline. */
let extensionBroken = false;

/** Queue work to run once the current response has been sent. */
export function afterResponse(task: AfterResponseTask): void {
  pending.push(task);
}

/**
 * Runs every queued task (and any they queue in turn); never rejects. Stops waiting at the
 * deadline: tasks still running then are reported (they were told the deadline).
 */
export async function drainAfterResponseTasks(deadline = Infinity): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'deadline'>((resolve) => {
    if (Number.isFinite(deadline)) timer = setTimeout(() => resolve('deadline'), Math.max(0, deadline - Date.now()));
  });
  try {
    while (pending.length > 0) {
      const batch = pending.splice(0, pending.length);
      const settled = Promise.allSettled(batch.map((task) => task(deadline)));
      const results = await Promise.race([settled, timedOut]);
      if (results === 'deadline') {
        log.error('after-response tasks still running at the invocation deadline', { tasks: batch.length + pending.length });
        return;
      }
      for (const result of results) {
        if (result.status === 'rejected') log.error('after-response task failed', { error: String(result.reason) });
      }
    }
  } finally {
    clearTimeout(timer);
  }
}

/** The deadline for after-response work, from a Lambda context (Infinity without one). */
export function afterResponseDeadline(context: unknown): number {
  const remaining = (context as { getRemainingTimeInMillis?: () => number } | undefined)?.getRemainingTimeInMillis?.();
  return typeof remaining === 'number' && Number.isFinite(remaining) ? Date.now() + remaining - DEADLINE_RESERVE_MS : Infinity;
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
 * could not be (or we are not inside Lambda); never rejects. This module awaits it at its
 * top level, so registration completes during Init in every function that imports it.
 */
export function afterResponseReady(): Promise<boolean> {
  if (!insideLambda()) return Promise.resolve(false);
  return startInProcessExtension();
}

/**
 * Wraps a handler so that, inside AWS Lambda, its after-response tasks run after the
 * response is posted and before the sandbox freezes. Outside Lambda it is a pass-through.
 */
export function withAfterResponse<H extends (event: never, context: never) => Promise<unknown>>(handler: H): H {
  if (!insideLambda()) return handler;
  const registered = startInProcessExtension();
  // The wrapper has the handler's exact signature (a context it may leave optional included).
  const call = handler as unknown as (event: unknown, context: unknown) => Promise<unknown>;
  const wrapped = async (event: unknown, context: unknown) => {
    const extensionRunning = await registered;
    try {
      return await call(event, context);
    } finally {
      const deadline = afterResponseDeadline(context);
      if (extensionRunning && !extensionBroken) {
        // Tells the extension loop that the handler is finished; it drains after the runtime responds.
        invocationDone?.(deadline);
      } else {
        // No extension: the sandbox would freeze with the tasks pending. Deliver now, before the response.
        await drainAfterResponseTasks(deadline);
      }
    }
  };
  return wrapped as unknown as H;
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
      log.error('after-response extension unavailable; delivering before the response', { error: String(error) });
      return false;
    }
  })();
  return extensionStarted;
}

async function extensionLoop(base: string, extensionId: string): Promise<void> {
  try {
    for (;;) {
      const handlerFinished = new Promise<number>((resolve) => {
        invocationDone = resolve;
      });
      // Blocks until the next INVOKE; calling it is also how we tell Lambda we are done.
      const next = await fetch(`${base}/event/next`, { headers: { 'Lambda-Extension-Identifier': extensionId } });
      await next.arrayBuffer();
      if (!next.ok) throw new Error(`event/next answered ${next.status}`);
      const deadline = await handlerFinished;
      await untilResponsePosted();
      await drainAfterResponseTasks(deadline);
    }
  } catch (error) {
    extensionBroken = true;
    invocationDone?.(Infinity);
    log.error('after-response extension stopped; delivering before the response', { error: String(error) });
  }
}

/**
 * Resolves once the runtime has posted the response it was handed when the handler
 * returned: one macrotask at a time, until no other setImmediate is pending (the 4.x
 * client's deferred post is one). Bounded, so a handler's own stream of immediates cannot
 * hold the tasks back for long.
 */
async function untilResponsePosted(): Promise<void> {
  for (let turn = 0; turn < MAX_POST_RESPONSE_TURNS; turn++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (!process.getActiveResourcesInfo().includes('Immediate')) return;
  }
}

// Register during Init: a module that imports this one is evaluated only after this resolves.
await afterResponseReady();
