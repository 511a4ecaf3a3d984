/**
 * The in-process extension against a fake Lambda Runtime + Extensions API on loopback.
 *
 * The fake server runs in a worker thread and dispatches an invocation only when the
 * runtime *and* the extension wait on their `next` calls, as Lambda does. The mini runtime
 * below posts the response synchronously (blocking, like the Node.js runtime's native
 * client) in either order the real client has used: in the handler promise's continuation
 * (aws-lambda-ric 3.x) or one setImmediate later (4.x). The after-response task reports
 * its start and end synchronously too, so the server's log is the true order of events: no
 * timing is involved. tests/runtime/ runs the same code in the real client.
 */
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';

const SERVER = String.raw`
const http = require('node:http');
const { parentPort, workerData } = require('node:worker_threads');
const log = [];
const queue = workerData.invocations.slice();
let runtimeWaiter, extWaiter, registered = false;
function dispatch() {
  if (!runtimeWaiter || !extWaiter || queue.length === 0) return;
  const inv = queue.shift();
  log.push('dispatch:' + inv.id);
  runtimeWaiter.writeHead(200, { 'Lambda-Runtime-Aws-Request-Id': inv.id, 'Lambda-Runtime-Deadline-Ms': String(Date.now() + 60000), 'content-type': 'application/json' });
  runtimeWaiter.end(JSON.stringify(inv.event));
  extWaiter.writeHead(200, { 'content-type': 'application/json' });
  extWaiter.end(JSON.stringify({ eventType: 'INVOKE', requestId: inv.id, deadlineMs: Date.now() + 60000 }));
  runtimeWaiter = undefined; extWaiter = undefined;
}
const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    const url = req.url;
    if (req.method === 'POST' && url === '/2020-01-01/extension/register') {
      const events = JSON.parse(body || '{}').events;
      log.push('register:' + req.headers['lambda-extension-name'] + ':' + JSON.stringify(events));
      if (workerData.rejectRegistration) { res.writeHead(403); res.end('{"errorType":"Extension.RegistrationAfterInit"}'); return; }
      registered = true;
      res.writeHead(200, { 'Lambda-Extension-Identifier': 'ext-1', 'content-type': 'application/json' });
      res.end('{}');
    } else if (req.method === 'GET' && url === '/2020-01-01/extension/event/next') {
      log.push('ext-next:' + req.headers['lambda-extension-identifier']);
      extWaiter = res; dispatch();
    } else if (req.method === 'GET' && url === '/2018-06-01/runtime/invocation/next') {
      log.push('runtime-next');
      runtimeWaiter = res; if (registered || workerData.rejectRegistration) dispatch();
    } else if (req.method === 'POST' && url.startsWith('/2018-06-01/runtime/invocation/')) {
      log.push('response:' + url.split('/')[4] + ':' + body);
      res.writeHead(202); res.end();
    } else if (req.method === 'POST' && url.startsWith('/marker/')) {
      log.push(decodeURIComponent(url.slice(8))); res.writeHead(200); res.end();
    } else if (url === '/log') {
      res.writeHead(200); res.end(JSON.stringify(log));
    } else { res.writeHead(404); res.end(); }
  });
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));
`;

async function startFakeLambda(options: { rejectRegistration?: boolean } = {}): Promise<{ origin: string; api: string; worker: Worker }> {
  const worker = new Worker(SERVER, {
    eval: true,
    workerData: { invocations: [{ id: 'inv-1', event: { n: 1 } }, { id: 'inv-2', event: { n: 2 } }], rejectRegistration: Boolean(options.rejectRegistration) },
  });
  const port = await new Promise<number>((resolve) => worker.once('message', resolve));
  return { origin: `http://127.0.0.1:${port}`, api: `127.0.0.1:${port}`, worker };
}

/** A blocking HTTP POST, like the runtime's native client: nothing else in this process runs meanwhile. */
function postSync(url: string, body: string): void {
  const result = spawnSync(process.execPath, ['-e', `fetch(${JSON.stringify(url)},{method:'POST',body:process.argv[1]}).then(r=>r.text()).then(()=>process.exit(0),()=>process.exit(1))`, body]);
  if (result.status !== 0) throw new Error(`sync POST ${url} failed: ${result.stderr.toString()}`);
}

async function serverLog(origin: string): Promise<string[]> {
  return (await (await fetch(`${origin}/log`)).json()) as string[];
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const workers: Worker[] = [];
afterAll(async () => {
  await Promise.all(workers.map((w) => w.terminate()));
});
beforeEach(() => {
  vi.resetModules();
  delete process.env.EVENT_FLOWS_LOCAL_RUNTIME;
});

/** When the client posts the response after the handler's promise settles. */
const clientOrders = {
  /** aws-lambda-ric 3.x: in the promise continuation itself. */
  immediate: (post: () => void) => post(),
  /** aws-lambda-ric 4.x: after one setImmediate. */
  deferred: (post: () => void) => new Promise<void>((resolve) => setImmediate(resolve)).then(post),
};

describe('after-response internal extension', () => {
  it.each(Object.keys(clientOrders) as (keyof typeof clientOrders)[])('runs tasks after the response is posted (client order %s), and asks for the next event only when they are done', async (order) => {
    const fake = await startFakeLambda();
    workers.push(fake.worker);
    process.env.AWS_LAMBDA_RUNTIME_API = fake.api;
    // Importing the module registers the extension (its top-level await): Init.
    const { withAfterResponse, afterResponse, afterResponseReady } = await import('../../functions/shared/after-response.ts');

    const handler = withAfterResponse(async (event: { n: number }, _context: unknown) => {
      afterResponse(async () => {
        postSync(`${fake.origin}/marker/task-start:${event.n}`, '');
        await new Promise((r) => setTimeout(r, 30));
        postSync(`${fake.origin}/marker/task-end:${event.n}`, '');
      });
      // Some I/O, so the extension's INVOKE has arrived and it waits for the handler to finish.
      await new Promise((r) => setTimeout(r, 50));
      return { answer: event.n };
    });
    expect(await afterResponseReady()).toBe(true);

    // A minimal Node.js runtime: next → handler → synchronous response post, in the client's order.
    const base = `${fake.origin}/2018-06-01/runtime/invocation`;
    for (let i = 0; i < 2; i++) {
      const next = await fetch(`${base}/next`);
      const id = next.headers.get('lambda-runtime-aws-request-id')!;
      const event = (await next.json()) as { n: number };
      await handler(event, {}).then((result) => clientOrders[order](() => postSync(`${base}/${id}/response`, JSON.stringify(result))));
    }
    await until(async () => (await serverLog(fake.origin)).filter((l) => l.startsWith('ext-next')).length === 3, 'the third event/next');

    const log = await serverLog(fake.origin);
    const at = (entry: string) => {
      const index = log.indexOf(entry);
      expect(index, `${entry} in ${JSON.stringify(log)}`).toBeGreaterThanOrEqual(0);
      return index;
    };
    const extNexts = log.flatMap((l, i) => (l.startsWith('ext-next') ? [i] : []));
    expect(log[0]).toBe('register:event-flows-after-response:["INVOKE"]');
    expect(log.filter((l) => l.startsWith('ext-next')).every((l) => l === 'ext-next:ext-1')).toBe(true);
    for (const n of [1, 2]) {
      expect(at(`response:inv-${n}:{"answer":${n}}`)).toBeLessThan(at(`task-start:${n}`));
      expect(at(`task-start:${n}`)).toBeLessThan(at(`task-end:${n}`));
      // The extension's next event/next (which lets the sandbox freeze) only after the tasks.
      expect(at(`task-end:${n}`)).toBeLessThan(extNexts[n]!);
      expect(extNexts[n - 1]!).toBeLessThan(at(`dispatch:inv-${n}`));
    }
    // Lambda dispatches the second invocation only once the extension is ready again.
    expect(at('task-end:1')).toBeLessThan(at('dispatch:inv-2'));
  });

  it('delivers before responding when the extension cannot register (nothing waits for a freeze)', async () => {
    const fake = await startFakeLambda({ rejectRegistration: true });
    workers.push(fake.worker);
    process.env.AWS_LAMBDA_RUNTIME_API = fake.api;
    const lines: string[] = [];
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((line) => lines.push(String(line)) > 0);
    const { withAfterResponse, afterResponse, afterResponseReady, pendingAfterResponseTasks } = await import('../../functions/shared/after-response.ts');
    const ran: string[] = [];
    const handler = withAfterResponse(async (_event: unknown, _context: unknown) => {
      afterResponse(async () => {
        ran.push('task');
      });
      return 'ok';
    });
    expect(await afterResponseReady()).toBe(false);
    expect(await handler({}, {})).toBe('ok');
    expect(ran).toEqual(['task']);
    expect(pendingAfterResponseTasks()).toBe(0);
    stdout.mockRestore();
    const error = lines.map((l) => JSON.parse(l) as { level: string; message: string }).find((l) => l.message.includes('extension unavailable'));
    expect(error?.level).toBe('ERROR');
  });

  it('is a pass-through outside Lambda', async () => {
    delete process.env.AWS_LAMBDA_RUNTIME_API;
    const { withAfterResponse, afterResponse, pendingAfterResponseTasks, drainAfterResponseTasks } = await import('../../functions/shared/after-response.ts');
    const inner = async () => {
      afterResponse(async () => undefined);
      return 1;
    };
    expect(withAfterResponse(inner)).toBe(inner);
    await inner();
    expect(pendingAfterResponseTasks()).toBe(1);
    await drainAfterResponseTasks();
    expect(pendingAfterResponseTasks()).toBe(0);
  });
});

describe('the after-response deadline', () => {
  it('is the invocation remaining time less the reserve, passed to every task', async () => {
    delete process.env.AWS_LAMBDA_RUNTIME_API;
    const { afterResponse, afterResponseDeadline, drainAfterResponseTasks, DEADLINE_RESERVE_MS } = await import('../../functions/shared/after-response.ts');
    const before = Date.now();
    const deadline = afterResponseDeadline({ getRemainingTimeInMillis: () => 2_000 });
    expect(deadline).toBeGreaterThanOrEqual(before + 2_000 - DEADLINE_RESERVE_MS);
    expect(deadline).toBeLessThanOrEqual(Date.now() + 2_000 - DEADLINE_RESERVE_MS);
    expect(afterResponseDeadline({})).toBe(Infinity);
    const seen: number[] = [];
    afterResponse(async (d) => void seen.push(d));
    await drainAfterResponseTasks(deadline);
    expect(seen).toEqual([deadline]);
  });

  it('stops waiting for a task at the deadline and reports it', async () => {
    delete process.env.AWS_LAMBDA_RUNTIME_API;
    const { afterResponse, drainAfterResponseTasks } = await import('../../functions/shared/after-response.ts');
    const lines: string[] = [];
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((line) => lines.push(String(line)) > 0);
    afterResponse(() => new Promise<void>(() => undefined));
    const started = Date.now();
    await drainAfterResponseTasks(started + 100);
    stdout.mockRestore();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(lines.map((l) => JSON.parse(l) as { level: string; message: string })).toContainEqual(
      expect.objectContaining({ level: 'ERROR', message: 'after-response tasks still running at the invocation deadline' }),
    );
  });
});
