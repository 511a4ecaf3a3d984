/**
 * Work that runs after a function has returned its response: analytics and domain-event
 * delivery. Nothing here may delay or fail the response.
 *
 * In AWS the Lambda sandbox freezes as soon as the runtime has posted the response, so
 * pending promises would stall until the next invocation (or never run). We register an
 * *internal extension* with the Extensions API from inside the runtime process: Lambda
 * keeps the sandbox running until every extension has called `/extension/event/next`
 * again, so the extension loop drains the queued tasks after the response has gone out
 * and only then asks for the next event. See docs/ARCHITECTURE.md for its limits.
 *
 * Locally (and in tests) there is no Extensions API; the runtime that invoked the handler
 * calls `drainAfterResponseTasks()` itself once it has written the response.
 */

export type AfterResponseTask = () => Promise<void>;

const pending: AfterResponseTask[] = [];
let invocationDone: (() => void) | undefined;

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

/**
 * Wraps a handler so that, inside AWS Lambda, its after-response tasks run after the
 * response is posted and before the sandbox freezes. Outside Lambda it is a pass-through.
 */
export function withAfterResponse<E, C, R>(handler: (event: E, context: C) => Promise<R>): (event: E, context: C) => Promise<R> {
  if (!process.env.AWS_LAMBDA_RUNTIME_API || process.env.EVENT_FLOWS_LOCAL_RUNTIME) return handler;
  const extension = startInProcessExtension();
  return async (event, context) => {
    await extension.ready;
    try {
      return await handler(event, context);
    } finally {
      // Tells the extension loop that the handler is finished; it drains after the runtime responds.
      invocationDone?.();
    }
  };
}

let extensionStarted: { ready: Promise<void> } | undefined;

function startInProcessExtension(): { ready: Promise<void> } {
  if (extensionStarted) return extensionStarted;
  const base = `http://${process.env.AWS_LAMBDA_RUNTIME_API}/2020-01-01/extension`;
  const ready = (async () => {
    const registration = await fetch(`${base}/register`, {
      method: 'POST',
      headers: { 'Lambda-Extension-Name': 'event-flows-after-response' },
      body: JSON.stringify({ events: ['INVOKE'] }),
    });
    const extensionId = registration.headers.get('lambda-extension-identifier');
    if (!registration.ok || !extensionId) throw new Error(`extension registration failed: ${registration.status}`);
    void extensionLoop(base, extensionId);
  })();
  // A failed registration must not fail invocations: tasks then run on the next invoke.
  extensionStarted = { ready: ready.catch((error: unknown) => console.error(JSON.stringify({ level: 'ERROR', message: 'after-response extension unavailable', error: String(error) }))) };
  return extensionStarted;
}

async function extensionLoop(base: string, extensionId: string): Promise<void> {
  for (;;) {
    const handlerFinished = new Promise<void>((resolve) => {
      invocationDone = resolve;
    });
    // Blocks until the next INVOKE; calling it is also how we tell Lambda we are done.
    const next = await fetch(`${base}/event/next`, { headers: { 'Lambda-Extension-Identifier': extensionId } });
    await next.arrayBuffer();
    await handlerFinished;
    await drainAfterResponseTasks();
  }
}
