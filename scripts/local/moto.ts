/** Starts moto server on loopback and waits until it answers. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ensurePythonEnv, repoRoot, venvBinary } from './python-env.ts';

/** moto's server with our patches for its DynamoDB transaction defects (see the file). */
export const MOTO_LAUNCHER = join(repoRoot, 'scripts/local/moto_server.py');

export interface RunningEmulator {
  endpoint: string;
  stop(): Promise<void>;
}

export async function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function waitUntilReachable(endpoint: string, timeoutMs: number, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`the emulator exited with code ${child.exitCode} before it answered`);
    try {
      const response = await fetch(`${endpoint}/moto-api/`);
      await response.arrayBuffer();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`the emulator at ${endpoint} did not answer within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export interface MotoOptions {
  port: number;
  host?: string;
  /** Show moto's request log (default: quiet). */
  quiet?: boolean;
  /**
   * Run moto in its own process group, so Ctrl-C (SIGINT to the terminal's foreground
   * group) reaches only our process, which can then save the emulator's state before it
   * stops it. `npm start` wants this; tests do not.
   */
  ownProcessGroup?: boolean;
  /** Added to the error when the port is taken: what the user can do about it. */
  portInUseAdvice?: string;
}

export async function startMoto(options: MotoOptions): Promise<RunningEmulator> {
  const host = options.host ?? '127.0.0.1';
  if (!(await isPortFree(options.port, host))) {
    throw new Error(`port ${options.port} on ${host} is already in use; ${options.portInUseAdvice ?? 'stop what listens there or choose another port'}`);
  }
  ensurePythonEnv();
  // --exit-with-parent: a parent killed with SIGKILL must not leave an emulator holding the port.
  const child = spawn(venvBinary('python'), [MOTO_LAUNCHER, '--exit-with-parent', '-H', host, '-p', String(options.port)], {
    stdio: ['ignore', options.quiet === false ? 'inherit' : 'ignore', 'pipe'],
    detached: options.ownProcessGroup === true,
    env: { ...process.env, MOTO_PORT: String(options.port) },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  // If this process exits without stop() (an uncaught error), do not leave moto behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const endpoint = `http://${host}:${options.port}`;
  try {
    await waitUntilReachable(endpoint, 30_000, child);
  } catch (error) {
    child.kill('SIGKILL');
    process.off('exit', killOnExit);
    throw new Error(`${(error as Error).message}\n${stderr}`);
  }
  return {
    endpoint,
    stop: () =>
      new Promise<void>((resolve) => {
        const exited = () => {
          process.off('exit', killOnExit);
          resolve();
        };
        if (child.exitCode !== null || child.signalCode !== null) return exited();
        child.once('exit', exited);
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      }),
  };
}
