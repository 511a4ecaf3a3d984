/**
 * Runs a command with the Lambda runtime's Node.js first on PATH (installed into .tools/ on
 * first use, see ./tools.ts), so tests and the local stack run on the Node the functions
 * run on in Lambda, whatever Node the machine has.
 *
 *   node --import tsx scripts/runtime/with-lambda-node.ts <command> [args...]
 *
 * Run it with `node --import tsx`, not the tsx CLI: the CLI relays a signal by waiting 30 ms
 * for its child to report it and, on a busy machine, then SIGKILLs the child. This wrapper
 * passes SIGINT/SIGTERM/SIGHUP on to the command and exits with the command's status, so
 * `npm start`'s shutdown (saving the state) is never cut short.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { ensureNode, LAMBDA_NODE_VERSION, runtimeToolPaths } from './tools.ts';

const [command, ...args] = process.argv.slice(2);
if (!command) {
  console.error('usage: tsx scripts/runtime/with-lambda-node.ts <command> [args...]');
  process.exit(2);
}
ensureNode();
if (process.version !== `v${LAMBDA_NODE_VERSION}`) console.error(`(running on Node.js ${LAMBDA_NODE_VERSION}, the Lambda runtime's, from .tools/)`);
const child = spawn(command, args, { stdio: 'inherit', env: { ...process.env, PATH: `${runtimeToolPaths.nodeBinDir}:${process.env.PATH}` } });
// A terminal's Ctrl-C reaches the command directly too; it takes a repeat within a second as the same signal.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => child.kill(signal));
child.on('error', (error) => {
  console.error(`could not run ${command}: ${error.message}`);
  process.exit(127);
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + constants.signals[signal] : 1)));
