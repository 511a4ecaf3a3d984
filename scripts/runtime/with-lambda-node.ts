/**
 * Runs a command with the Lambda runtime's Node.js first on PATH (installed into .tools/ on
 * first use, see ./tools.ts), so tests and the local stack run on the Node the functions
 * run on in Lambda, whatever Node the machine has.
 *
 *   tsx scripts/runtime/with-lambda-node.ts <command> [args...]
 */
import { spawnSync } from 'node:child_process';
import { ensureNode, LAMBDA_NODE_VERSION, runtimeToolPaths } from './tools.ts';

const [command, ...args] = process.argv.slice(2);
if (!command) {
  console.error('usage: tsx scripts/runtime/with-lambda-node.ts <command> [args...]');
  process.exit(2);
}
ensureNode();
if (process.version !== `v${LAMBDA_NODE_VERSION}`) console.error(`(running on Node.js ${LAMBDA_NODE_VERSION}, the Lambda runtime's, from .tools/)`);
const result = spawnSync(command, args, { stdio: 'inherit', env: { ...process.env, PATH: `${runtimeToolPaths.nodeBinDir}:${process.env.PATH}` } });
if (result.error) throw result.error;
process.exit(result.status ?? 1);
