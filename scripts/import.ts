/**
 * Bulk import CLI:
 *
 *   npm run import -- <file> --collection C [--api URL] [--token T] [--format json|ndjson|csv]
 *                     [--id-field id] [--concurrency 4] [--max-backlog 10000] [--resume | --restart]
 *   npm run import -- --failures <importId> [--api URL] [--token T]
 *   npm run import -- --cancel <importId> [--api URL] [--token T]
 *
 * Streams a JSON array, NDJSON or CSV file of any size with constant memory, sends chunks
 * of ≤ 1,000 items with bounded concurrency and retries, follows the job to its end and
 * prints a summary. An interrupted upload (Ctrl-C, network loss) continues where it
 * stopped when run again: see docs/IMPORT.md. Exit code 0 when every item was imported,
 * 1 when items were rejected or failed, 2 on a usage or fatal error, 130 when interrupted.
 */
import { parseArgs } from 'node:util';
import { cancelImport, printFailures, runImport } from './import/run.ts';

const usage = `usage: npm run import -- <file> --collection C [--api URL] [--token T] [--format json|ndjson|csv] [--id-field id] [--concurrency N] [--max-backlog N] [--resume | --restart]
       npm run import -- --failures <importId> [--api URL] [--token T]
       npm run import -- --cancel <importId> [--api URL] [--token T]`;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      collection: { type: 'string', short: 'c' },
      api: { type: 'string', default: process.env.EVENT_FLOWS_API ?? 'http://127.0.0.1:3000' },
      token: { type: 'string', default: process.env.EVENT_FLOWS_TOKEN },
      format: { type: 'string' },
      'id-field': { type: 'string' },
      concurrency: { type: 'string', default: '4' },
      'max-backlog': { type: 'string', default: '10000' },
      resume: { type: 'boolean', default: false },
      restart: { type: 'boolean', default: false },
      'state-dir': { type: 'string' },
      failures: { type: 'string' },
      cancel: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  if (!values.token) {
    process.stderr.write(`a token is required: --token T or EVENT_FLOWS_TOKEN\n${usage}\n`);
    return 2;
  }
  if (values.cancel) {
    const job = await cancelImport({ api: values.api!, token: values.token, importId: values.cancel });
    process.stdout.write(`${JSON.stringify(job)}\n`);
    return 0;
  }
  if (values.failures) {
    const count = await printFailures({ api: values.api!, token: values.token, importId: values.failures });
    process.stderr.write(`${count} failure(s)\n`);
    return 0;
  }
  const file = positionals[0];
  const concurrency = Number(values.concurrency);
  if (!file || !values.collection || !Number.isInteger(concurrency) || concurrency < 1 || (values.resume && values.restart)) {
    process.stderr.write(`${usage}\n`);
    return 2;
  }
  const controller = new AbortController();
  let interrupts = 0;
  process.on('SIGINT', () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    process.stderr.write('\nstopping after the chunks in flight (Ctrl-C again to quit at once)…\n');
    controller.abort();
  });
  const result = await runImport({
    file,
    collection: values.collection,
    api: values.api!,
    token: values.token,
    ...(values.format ? { format: values.format } : {}),
    ...(values['id-field'] ? { idField: values['id-field'] } : {}),
    ...(values['state-dir'] ? { stateDir: values['state-dir'] } : {}),
    concurrency,
    maxBacklog: Number(values['max-backlog']),
    resume: values.resume ? 'required' : values.restart ? 'never' : 'auto',
    signal: controller.signal,
  });
  return result.exitCode;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`import failed: ${(error as Error).message}\n`);
    process.exit(2);
  },
);
