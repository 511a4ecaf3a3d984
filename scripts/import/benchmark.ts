/**
 * Import benchmark: the whole pipeline on the local stack (a fresh emulator, the local
 * runtime serving the API and polling the queues in this process) with the CLI in a child
 * process under /usr/bin/time -v, so its peak memory is its own.
 *
 *   npx tsx scripts/import/benchmark.ts [--items 100000] [--concurrency 4] [--format ndjson|csv|json]
 *
 * Prints items/s end to end (API → queue → worker → table, until the job is COMPLETED)
 * and the CLI's maximum resident set size.
 */
import { execFile } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateSigningKeys, mintToken } from '../local/jwt.ts';
import { freePort, startMoto } from '../local/moto.ts';
import { provision } from '../local/provision.ts';
import { repoRoot } from '../local/python-env.ts';
import { startRuntime } from '../local/runtime.ts';

const { values } = parseArgs({ options: { items: { type: 'string', default: '100000' }, concurrency: { type: 'string', default: '4' }, format: { type: 'string', default: 'ndjson' } } });
const count = Number(values.items);
const format = values.format!;

async function generate(path: string): Promise<void> {
  const out = createWriteStream(path);
  const write = (text: string) => (out.write(text) ? Promise.resolve() : new Promise<void>((resolve) => out.once('drain', () => resolve())));
  if (format === 'csv') await write('id,name,score,city\n');
  if (format === 'json') await write('[\n');
  for (let i = 0; i < count; i++) {
    const item = { id: `item-${i}`, data: { name: `Item number ${i}`, score: i % 1000, city: ['Paris', 'Lyon', 'Nantes'][i % 3], tags: ['bulk', `g${i % 50}`] } };
    if (format === 'csv') await write(`${item.id},${item.data.name},${item.data.score},${item.data.city}\n`);
    else if (format === 'json') await write(`${JSON.stringify(item)}${i + 1 < count ? ',' : ''}\n`);
    else await write(`${JSON.stringify(item)}\n`);
  }
  if (format === 'json') await write(']\n');
  await new Promise<void>((resolve) => out.end(() => resolve()));
}

const dir = mkdtempSync(join(tmpdir(), 'import-bench-'));
const file = join(dir, `items.${format}`);
await generate(file);
const emulator = await startMoto({ port: await freePort() });
try {
  const stack = await provision({ endpoint: emulator.endpoint, region: 'us-east-1' }, `bench${Date.now().toString(36)}`);
  process.env.ANALYTICS_ENABLED ??= 'true';
  const keys = await generateSigningKeys();
  const runtime = await startRuntime({ endpoint: emulator.endpoint, stack, port: 0, publicKey: keys.publicKey, issuer: 'event-flows-local', audience: 'event-flows', log: () => undefined });
  const token = await mintToken(keys, { sub: 'bench', tenant: 'bench', admin: true });
  const timeBinary = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
  const cli = [process.execPath, '--import', 'tsx', join(repoRoot, 'scripts/import.ts'), file, '--collection', 'bench', '--api', runtime.url, '--concurrency', values.concurrency!, '--state-dir', join(dir, 'state')];
  const started = Date.now();
  const result = await new Promise<{ stdout: string; stderr: string; code: number }>((resolve) => {
    const [command, ...args] = timeBinary ? [timeBinary, '-v', ...cli] : cli;
    execFile(command!, args, { env: { ...process.env, EVENT_FLOWS_TOKEN: token }, cwd: repoRoot, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ stdout, stderr, code: error ? Number((error as { code?: number }).code ?? 1) : 0 }),
    );
  });
  const seconds = (Date.now() - started) / 1000;
  const peakKb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(result.stderr)?.[1] ?? Number.NaN);
  process.stdout.write(result.stdout);
  process.stdout.write(
    `\n${count.toLocaleString('en-US')} ${format} items in ${seconds.toFixed(1)}s: ${Math.round(count / seconds).toLocaleString('en-US')} items/s end to end; ` +
      `CLI peak RSS ${Number.isFinite(peakKb) ? `${(peakKb / 1024).toFixed(0)} MB` : 'unknown (no /usr/bin/time)'}; exit code ${result.code}\n`,
  );
  await runtime.stop();
} finally {
  await emulator.stop();
  rmSync(dir, { recursive: true, force: true });
}
