/**
 * moto for `npm start`: like startMoto() in ./moto.ts, but
 * - in its own process group, so Ctrl-C (SIGINT to the terminal's whole foreground group)
 *   reaches only the runtime, which then saves the emulator's state before stopping it;
 * - with --exit-with-parent, so a runtime killed with SIGKILL does not leave an emulator
 *   holding the port.
 */
import { spawn } from 'node:child_process';
import { ensurePythonEnv, venvBinary } from './python-env.ts';
import { isPortFree, MOTO_LAUNCHER, waitUntilReachable, type RunningEmulator } from './moto.ts';


export async function startOwnedMoto(options: { port: number; host?: string }): Promise<RunningEmulator> {
  const host = options.host ?? '127.0.0.1';
  if (!(await isPortFree(options.port, host))) {
    throw new Error(`port ${options.port} on ${host} is already in use (the emulator port); stop what listens there, use it with --endpoint http://${host}:${options.port}, or choose another port with --emulator-port`);
  }
  ensurePythonEnv();
  const child = spawn(venvBinary('python'), [MOTO_LAUNCHER, '--exit-with-parent', '-H', host, '-p', String(options.port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
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
    throw new Error(`${(error as Error).message}\n${stderr}`);
  }
  child.stderr?.resume();
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
