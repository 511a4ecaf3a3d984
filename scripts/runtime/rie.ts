/**
 * Runs one function's deployment zip (dist/<name>.zip) the way Lambda does: the Runtime
 * Interface Emulator (Runtime + Extensions API) starts the Node.js runtime interface client
 * on the Lambda runtime's Node, which loads handler.mjs from the unpacked zip.
 *
 * Between the runtime process and the emulator's Runtime API sits a recording proxy
 * (./recording-proxy.ts), so callers see when the response was posted and when the
 * extension asked for its next event; the functions' AWS endpoint can point at another.
 *
 * The emulator answers an invoke only once the runtime and every extension wait on their
 * next event again, and a second concurrent invoke crashes it: invoke() calls are queued,
 * one at a time, and each concurrent instance needs its own emulator.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../local/moto.ts';
import { repoRoot } from '../local/python-env.ts';
import { startRecordingProxy, type RecordedCall, type RecordingProxy } from './recording-proxy.ts';
import { ensureRuntimeTools, runtimeToolPaths } from './tools.ts';

/**
 * When the client posts a response relative to the handler's promise settling:
 * - `deferred` (aws-lambda-ric 4.x): it waits one setImmediate first;
 * - `immediate` (3.x): it posts in the promise continuation itself.
 * The 3.x order runs the same 4.0.2 client with that wait removed (a patched copy in .tools/).
 */
export type ClientOrder = 'deferred' | 'immediate';

export interface RieFunctionOptions {
  /** Folder holding handler.mjs (an unpacked zip). */
  codeDir: string;
  functionName: string;
  /** The function's environment as Terraform sets it. */
  environment: Record<string, string>;
  /** Terraform's logging_config.log_format. */
  logFormat: 'JSON' | 'Text';
  timeoutSeconds?: number;
  memoryMb?: number;
  clientOrder?: ClientOrder;
  /** Receives every line the emulator and the runtime print. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Another Node.js binary than the Lambda runtime's (to compare majors). */
  node?: string;
  /** Shared list the Runtime API proxy records into (default: a new one). */
  calls?: RecordedCall[];
}

export interface RieFunction {
  /** Every output line so far (emulator and runtime, stdout and stderr, in arrival order). */
  lines: { stream: 'stdout' | 'stderr'; text: string }[];
  /** Runtime and Extensions API calls, recorded by the proxy. */
  calls: RecordedCall[];
  invoke(event: unknown): Promise<{ status: number; body: unknown }>;
  /** The init duration of the emulator's `INIT REPORT` line (ms), once the first invoke has run. */
  initDurationMs(): number | undefined;
  stop(): Promise<void>;
}

const IMMEDIATE_ORDER_CLIENT = 'index-3x-order.mjs';

/** The 4.0.2 client with the 3.x order: the response is posted without waiting a setImmediate. */
function immediateOrderClient(): string {
  const target = join(runtimeToolPaths.ric, '..', IMMEDIATE_ORDER_CLIENT);
  const source = readFileSync(runtimeToolPaths.ric, 'utf8');
  const deferredPost = /(async succeed\(requestId, result\) \{\s*)await new Promise\(\(resolve\) => setImmediate\(resolve\)\);/;
  if (!deferredPost.test(source)) throw new Error(`aws-lambda-ric changed: LifecycleManager.succeed no longer waits one setImmediate (${runtimeToolPaths.ric})`);
  const patched = source.replace(deferredPost, '$1');
  if (!existsSync(target) || readFileSync(target, 'utf8') !== patched) writeFileSync(target, patched);
  return target;
}

/** Unpacks <distDir>/<name>.zip (default dist/) into a scratch folder, as Lambda does into /var/task. */
export function unpackFunction(name: string, into: string, distDir = join(repoRoot, 'dist')): string {
  const zip = join(distDir, `${name}.zip`);
  if (!existsSync(zip)) throw new Error(`${zip} is missing: run npm run build first`);
  const dir = join(into, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // Python is there already (the AWS emulator runs on it); its zipfile module unpacks portably.
  execFileSync(process.env.PYTHON ?? 'python3', ['-m', 'zipfile', '-e', zip, dir]);
  return dir;
}

async function waitForPort(address: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the emulator exited with code ${child.exitCode} before it listened on ${address}`);
    try {
      const res = await fetch(`http://${address}/`, { signal: AbortSignal.timeout(500) });
      await res.arrayBuffer();
      return;
    } catch (error) {
      if ((error as { cause?: { code?: string } }).cause?.code !== 'ECONNREFUSED' && (error as Error).name !== 'TimeoutError') return;
      if (Date.now() > deadline) throw new Error(`the emulator did not listen on ${address} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export async function startRieFunction(options: RieFunctionOptions): Promise<RieFunction> {
  const tools = ensureRuntimeTools();
  const client = options.clientOrder === 'immediate' ? immediateOrderClient() : tools.ric;
  const [invokePort, runtimeApiPort] = [await freePort(), await freePort()];
  const calls = options.calls ?? [];
  const proxy: RecordingProxy = await startRecordingProxy('runtime', `127.0.0.1:${runtimeApiPort}`, calls);
  const lines: RieFunction['lines'] = [];
  const timeoutSeconds = options.timeoutSeconds ?? 10;

  const child = spawn(
    tools.rie,
    [
      '--runtime-interface-emulator-address',
      `127.0.0.1:${invokePort}`,
      '--runtime-api-address',
      `127.0.0.1:${runtimeApiPort}`,
      // The emulator hands the runtime its own Runtime API address; route it through the proxy.
      '/usr/bin/env',
      `AWS_LAMBDA_RUNTIME_API=${proxy.address}`,
      options.node ?? tools.node,
      client,
      'handler.handler',
    ],
    {
      cwd: options.codeDir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: `${tools.nodeBinDir}:/usr/local/bin:/usr/bin:/bin`,
        LAMBDA_TASK_ROOT: options.codeDir,
        _HANDLER: 'handler.handler',
        AWS_LAMBDA_FUNCTION_NAME: options.functionName,
        AWS_LAMBDA_FUNCTION_TIMEOUT: String(timeoutSeconds),
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(options.memoryMb ?? 512),
        AWS_LAMBDA_LOG_FORMAT: options.logFormat,
        AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${options.functionName}`,
        AWS_LAMBDA_LOG_STREAM_NAME: 'rie',
        TZ: ':UTC',
        LANG: 'en_US.UTF-8',
        ...options.environment,
      },
    },
  );
  for (const stream of ['stdout', 'stderr'] as const) {
    let rest = '';
    child[stream]!.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      for (const text of parts) {
        lines.push({ stream, text });
        options.onLine?.(text, stream);
      }
    });
  }
  try {
    await waitForPort(`127.0.0.1:${invokePort}`, child, 10_000);
  } catch (error) {
    child.kill('SIGKILL');
    await proxy.close();
    throw new Error(`${String(error)}\n${lines.map((l) => l.text).join('\n')}`);
  }

  let queue: Promise<unknown> = Promise.resolve();
  const invokeOnce = async (event: unknown) => {
    const res = await fetch(`http://127.0.0.1:${invokePort}/2015-03-31/functions/function/invocations`, {
      method: 'POST',
      body: JSON.stringify(event),
      signal: AbortSignal.timeout((timeoutSeconds + 30) * 1000),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: keep the text.
    }
    return { status: res.status, body };
  };

  return {
    lines,
    calls,
    invoke(event) {
      const result = queue.then(() => invokeOnce(event));
      queue = result.catch(() => undefined);
      return result;
    },
    initDurationMs() {
      for (const { text } of lines) {
        // The emulator's `INIT REPORT(durationMs: …)`; its REPORT line's Init Duration is wrong.
        const match = /INIT REPORT\(durationMs: ([\d.]+)\)/.exec(text);
        if (match) return Number(match[1]);
      }
      return undefined;
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
        await exited;
        clearTimeout(timer);
      }
      await proxy.close();
    },
  };
}
