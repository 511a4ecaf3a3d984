/**
 * vitest setup file. The functions write their JSON log lines straight to stdout
 * (functions/shared/log.ts explains why). In a test worker, route those lines through
 * console.log instead, so vitest shows them only for failing tests (silent: 'passed-only')
 * and tests that capture console output keep seeing them.
 */
const writeToStdout = process.stdout.write.bind(process.stdout);
let routing = false;

process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  if (!routing && typeof chunk === 'string' && chunk.startsWith('{') && chunk.endsWith('\n')) {
    routing = true;
    try {
      console.log(chunk.slice(0, -1));
    } finally {
      routing = false;
    }
    return true;
  }
  return (writeToStdout as (chunk: string | Uint8Array, ...rest: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stdout.write;
