/**
 * The import CLI through the local API (HTTP API + queue pollers in-process, real handlers,
 * the emulator behind): a generated NDJSON file is imported, bad lines reported with their
 * numbers, an interrupted upload resumed without duplicates, and the CLI's process contract
 * (exit codes, summary) checked by running it as `npm run import` would.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getCollectionStats } from '../../functions/shared/items/repository.ts';
import { runImport, type RunOptions } from '../../scripts/import/run.ts';
import { hashFile, stateKey, statePaths, type ImportState } from '../../scripts/import/state.ts';
import { startLocalStack, type LocalStack } from '../support/local-stack.ts';

let local: LocalStack;
let token: string;
const dir = mkdtempSync(join(tmpdir(), 'import-cli-'));

beforeAll(async () => {
  local = await startLocalStack({ visibilityTimeoutSeconds: 2 });
  token = await local.token({ admin: true });
}, 60_000);
afterAll(async () => {
  await local?.stop();
});

function ndjson(name: string, count: number, options: { badLines?: number[]; prefix?: string } = {}): string {
  const path = join(dir, name);
  const lines: string[] = [];
  for (let i = 1; i <= count; i++) {
    if (options.badLines?.includes(i)) lines.push(i % 2 === 0 ? '{"id": "broken", ' : JSON.stringify({ id: 'has space', data: { i } }));
    else lines.push(JSON.stringify({ id: `${options.prefix ?? 'n'}${i}`, data: { i, name: `item ${i}`, tags: ['a', 'b'] } }));
  }
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

function quietStreams() {
  const out = new PassThrough();
  const err = new PassThrough();
  let outText = '';
  let errText = '';
  out.on('data', (chunk: Buffer) => (outText += chunk.toString()));
  err.on('data', (chunk: Buffer) => (errText += chunk.toString()));
  return { out, err, text: () => ({ out: outText, err: errText }) };
}

const base = (file: string, collection: string): RunOptions => ({
  file,
  collection,
  api: local.baseUrl,
  token,
  stateDir: join(dir, 'state'),
  pollIntervalMs: 250,
  followTimeoutMs: 60_000,
});

describe('import CLI', () => {
  it('imports a generated NDJSON file; bad lines are reported by number, the rest imported', async () => {
    const file = ndjson('bulk.ndjson', 2000, { badLines: [17, 1500] });
    const streams = quietStreams();
    const result = await runImport({ ...base(file, 'cli-bulk'), out: streams.out, err: streams.err });
    expect(result.status).toBe('COMPLETED_WITH_ERRORS');
    expect(result.job).toMatchObject({ total: 1998, succeeded: 1998, failed: 0, rejected: 1, created: 1998 });
    expect(result.clientRejected).toBe(1);
    expect(result.serverRejected).toBe(1);
    expect(result.exitCode).toBe(1);
    const { err, out } = streams.text();
    expect(err).toContain('rejected line 1500');
    expect(err).toMatch(/rejected line 17 \(id has space\)/);
    expect(out).toMatch(/COMPLETED_WITH_ERRORS/);
    const report = readFileSync(result.rejectedFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { line: number });
    expect(report.map((r) => r.line).sort((a, b) => a - b)).toEqual([17, 1500]);
    expect((await getCollectionStats('acme', 'cli-bulk')).itemCount).toBe(1998);
  });

  it('an interrupted upload resumed completes without duplicates', async () => {
    const file = ndjson('resume.ndjson', 2000, { prefix: 'r' });
    const controller = new AbortController();
    const first = await runImport({
      ...base(file, 'cli-resume'),
      ...quietStreams(),
      concurrency: 1,
      signal: controller.signal,
      onChunkAcked: () => controller.abort(),
    });
    expect(first).toMatchObject({ status: 'INTERRUPTED', exitCode: 130, sentThisRun: 1000 });

    // Worse than a clean stop: the process died after the API acknowledged chunk 0 but before
    // the state file said so. The resumed run sends chunk 0 again; the API acknowledges it
    // without queueing it twice.
    const statePath = statePaths(join(dir, 'state'), stateKey(await hashFile(file), 'cli-resume', local.baseUrl)).state;
    const state = JSON.parse(await readFile(statePath, 'utf8')) as ImportState;
    expect(state.acked).toEqual([[0, 0]]);
    await writeFile(statePath, JSON.stringify({ ...state, acked: [], accepted: 0 }));

    const second = await runImport({ ...base(file, 'cli-resume'), ...quietStreams(), resume: 'required' });
    expect(second.importId).toBe(first.importId);
    expect(second.status).toBe('COMPLETED');
    expect(second.exitCode).toBe(0);
    expect(second.job).toMatchObject({ total: 2000, processed: 2000, succeeded: 2000, created: 2000, replaced: 0 });
    expect((await getCollectionStats('acme', 'cli-resume')).itemCount).toBe(2000);
    // Finished: the state is gone, so the next run of the same file starts a new import.
    await expect(readFile(statePath)).rejects.toThrow();
  });

  it('runs as a command: summary on stdout, exit code 0 when everything was imported', async () => {
    const csv = join(dir, 'small.csv');
    writeFileSync(csv, `id,name,city\n${Array.from({ length: 60 }, (_, i) => `c${i},name ${i},"Paris, FR"`).join('\n')}\n`);
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'scripts/import.ts', csv, '--collection', 'cli-csv', '--api', local.baseUrl, '--state-dir', join(dir, 'state')],
      { env: { ...process.env, EVENT_FLOWS_TOKEN: token }, cwd: join(import.meta.dirname, '../..') },
    );
    expect(stdout).toMatch(/: COMPLETED in/);
    expect(stdout).toMatch(/written 60 \(new 60, replaced 0\)/);
    const failed = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/import.ts', csv], { cwd: join(import.meta.dirname, '../..') }).catch((error: { code: number }) => error);
    expect((failed as { code: number }).code).toBe(2);
  });

  it('--cancel <importId> cancels an import through the API', async () => {
    const created = await fetch(`${local.baseUrl}/imports`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ collection: 'cli-cancel' }) });
    const { importId } = (await created.json()) as { importId: string };
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/import.ts', '--cancel', importId, '--api', local.baseUrl], {
      env: { ...process.env, EVENT_FLOWS_TOKEN: token },
      cwd: join(import.meta.dirname, '../..'),
    });
    expect(JSON.parse(stdout)).toMatchObject({ importId, status: 'CANCELLED' });
    const status = await fetch(`${local.baseUrl}/imports/${importId}`, { headers: { authorization: `Bearer ${token}` } });
    expect(((await status.json()) as { status: string }).status).toBe('CANCELLED');
  });
});
