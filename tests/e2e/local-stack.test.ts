/**
 * `npm start` as a user runs it: a child process with its own moto, on free ports, with a
 * temporary state directory. Checks start-up, the runtime's own answers, a clean SIGTERM,
 * persistence across restarts, `--reset`, and the error for a busy port.
 *
 * The child is started as `node --import tsx scripts/local/start.ts` (see runUnderTsx): npm/npx
 * wrappers die by the signal themselves, which would hide the runtime's exit code.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { decodeJwt } from 'jose';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { checkedFetch } from '../support/contract.ts';
import { contentsOf, mergedEmptyKeyItem, plantInSnapshot } from '../support/snapshots.ts';
import { freePort } from '../../scripts/local/moto.ts';
import { repoRoot } from '../../scripts/local/python-env.ts';
import { functions, routes } from '../../scripts/local/topology.ts';

const tsx = join(repoRoot, 'node_modules', '.bin', 'tsx');
/**
 * The stack runs as `node --import tsx`, one process: the tsx CLI relays a SIGTERM by waiting
 * 30 ms for its child to report the signal, and on a busy machine then SIGKILLs it (exit 143)
 * in the middle of its shutdown. package.json's `npm start` runs it the same way.
 */
const runUnderTsx = ['--import', 'tsx'];
const stateDir = mkdtempSync(join(tmpdir(), 'event-flows-state-'));
const running = new Set<ChildProcess>();
afterAll(() => {
  for (const child of running) if (child.pid) process.kill(-child.pid, 'SIGKILL');
  rmSync(stateDir, { recursive: true, force: true });
});

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  apiUrl: string;
  endpoint: string;
}

/** Spawns `npm start` (its own process group, so a test can SIGKILL all of it); does not wait. */
function launch(extra: string[], options: { stateDir?: string; env?: Record<string, string> } = {}) {
  return (async () => {
    const port = await freePort();
    const emulatorPort = await freePort();
    const child = spawn(process.execPath, [...runUnderTsx, 'scripts/local/start.ts', '--port', String(port), '--emulator-port', String(emulatorPort), '--dashboard-port', '0', '--state-dir', options.stateDir ?? stateDir, ...extra], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, ...options.env },
    });
    running.add(child);
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => {
        running.delete(child);
        resolve(code);
      }),
    );
    return { child, output: () => output, exited, apiUrl: `http://127.0.0.1:${port}`, endpoint: `http://127.0.0.1:${emulatorPort}` };
  })();
}

async function start(extra: string[] = [], options: { stateDir?: string; env?: Record<string, string> } = {}): Promise<Started> {
  const started = await launch(extra, options);
  const deadline = Date.now() + 45_000;
  while (!started.output().includes('ready in')) {
    if (started.child.exitCode !== null) throw new Error(`npm start exited with ${started.child.exitCode}:\n${started.output()}`);
    if (Date.now() > deadline) throw new Error(`npm start was not ready in time:\n${started.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return started;
}

async function stop(started: Started): Promise<number | null> {
  started.child.kill('SIGTERM');
  return started.exited;
}

const dynamodb = (endpoint: string) => new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
const key = { pk: { S: 'e2e#persistence' }, sk: { S: `item#${Date.now()}` } };

describe('npm start', () => {
  it('serves the API, stops cleanly on SIGTERM, keeps data across restarts, and --reset clears it', async () => {
    const first = await start(['--reset']);
    expect(first.output()).toContain(`AWS emulator:  ${first.endpoint}`);
    expect(first.output()).toContain(`HTTP API:      ${first.apiUrl}`);
    expect(first.output()).toContain('npm run -s token');

    const health = await checkedFetch(`${first.apiUrl}/health`);
    expect(health.status).toBe(200);
    expect(health.headers.get('content-type')).toContain('application/json');

    const notFound = await checkedFetch(`${first.apiUrl}/definitely/not/a/route`);
    expect(notFound.status).toBe(404);
    expect(await notFound.json()).toEqual({ message: 'Not Found' });
    expect((await checkedFetch(`${first.apiUrl}/items/notes`)).status).toBe(401);

    // A sign-in to the stack's user pool: the tenant in the token comes from our trigger.
    const { stdout: token } = await promisify(execFile)(tsx, ['scripts/token.ts', '--sub', 'alice', '--tenant', 'acme', '--api', first.apiUrl], { cwd: repoRoot });
    expect(decodeJwt(token.trim())).toMatchObject({ iss: expect.stringMatching(/^https:\/\/cognito-idp\.us-east-1\.amazonaws\.com\/us-east-1_/), tenant: 'acme' });
    const authorized = await checkedFetch(`${first.apiUrl}/items/notes`, { headers: { authorization: `Bearer ${token.trim()}` } });
    expect(authorized.status).toBe(200);
    expect(first.output()).toContain(`contract:      ${first.apiUrl}/openapi.json`);
    expect(await (await fetch(`${first.apiUrl}/openapi.json`)).text()).toBe(readFileSync(join(repoRoot, 'docs', 'openapi.json'), 'utf8'));

    // Functions still being written answer 501 from the runtime itself.
    const missing = Object.keys(functions).filter((name) => !existsSync(join(repoRoot, 'functions', name, 'handler.ts')));
    for (const name of missing) {
      const routeKey = Object.entries(routes).find(([, r]) => r.function === name && r.auth === 'none')?.[0];
      if (!routeKey) continue;
      const [method, path] = routeKey.split(' ') as [string, string];
      const res = await fetch(`${first.apiUrl}${path}`, { method });
      expect(res.status).toBe(501);
    }
    for (const name of missing) expect(first.output()).toContain(`skipped ${name}`);

    await dynamodb(first.endpoint).send(new PutItemCommand({ TableName: 'event-flows-local-data', Item: { ...key, note: { S: 'survives restarts' } } }));
    expect(await stop(first)).toBe(0);
    expect(first.output()).toContain('saved state');
    // The emulator it started is gone with it.
    await expect(fetch(`${first.endpoint}/moto-api/`)).rejects.toThrow();

    const second = await start();
    const read = await dynamodb(second.endpoint).send(new GetItemCommand({ TableName: 'event-flows-local-data', Key: key }));
    expect(read.Item?.note?.S).toBe('survives restarts');
    expect(await stop(second)).toBe(0);

    const third = await start(['--reset']);
    const cleared = await dynamodb(third.endpoint).send(new GetItemCommand({ TableName: 'event-flows-local-data', Key: key }));
    expect(cleared.Item).toBeUndefined();
    expect(await stop(third)).toBe(0);
  }, 120_000);

  it('a start that cannot restore an item names it, leaves the snapshot byte-identical, and --skip-unrestorable starts with every other item', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'event-flows-unrestorable-'));
    try {
      const first = await start(['--reset'], { stateDir: dir });
      const keys = ['a', 'b', 'c'].map((id) => ({ pk: { S: 'TENANT#acme#COLLECTION#notes' }, sk: { S: `ITEM#${id}` } }));
      for (const item of keys) await dynamodb(first.endpoint).send(new PutItemCommand({ TableName: 'event-flows-local-data', Item: item }));
      expect(await stop(first)).toBe(0);
      plantInSnapshot(join(dir, 'snapshot'), 'data', 1, mergedEmptyKeyItem);
      const before = contentsOf(dir);

      const failed = await launch([], { stateDir: dir });
      expect(await failed.exited).toBe(1);
      expect(failed.output()).toContain('could not restore 1 entry');
      expect(failed.output()).toContain('table data, item pk="EVENT#acme#2026-01-01" sk="merged" (tables/data.json #1): event.N is "1", not a DynamoDB attribute value');
      expect(failed.output()).toContain('--skip-unrestorable');
      expect(failed.output()).not.toContain('saved state to');
      expect(contentsOf(dir)).toEqual(before);

      const skipping = await start(['--skip-unrestorable'], { stateDir: dir });
      expect(skipping.output()).toMatch(/quarantined: +1 entries that could not be restored, in .*quarantine/);
      for (const key of keys) {
        const read = await dynamodb(skipping.endpoint).send(new GetItemCommand({ TableName: 'event-flows-local-data', Key: key }));
        expect(read.Item, JSON.stringify(key)).toBeDefined();
      }
      expect(await stop(skipping)).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it('a stack killed (SIGKILL) in the middle of saving starts next time from the previous complete snapshot', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'event-flows-killed-'));
    const itemA = { pk: { S: 'TENANT#acme#COLLECTION#notes' }, sk: { S: 'ITEM#before' } };
    const itemB = { pk: { S: 'TENANT#acme#COLLECTION#notes' }, sk: { S: 'ITEM#during' } };
    try {
      const first = await start(['--reset'], { stateDir: dir });
      await dynamodb(first.endpoint).send(new PutItemCommand({ TableName: 'event-flows-local-data', Item: itemA }));
      expect(await stop(first)).toBe(0);

      // Each file of a save takes a second: kill the whole stack once the new snapshot is half written.
      const second = await start([], { stateDir: dir, env: { EVENT_FLOWS_STATE_SAVE_PAUSE_MS: '1000' } });
      await dynamodb(second.endpoint).send(new PutItemCommand({ TableName: 'event-flows-local-data', Item: itemB }));
      second.child.kill('SIGTERM');
      const deadline = Date.now() + 30_000;
      while (!second.output().includes('state: wrote tables/')) {
        if (Date.now() > deadline) throw new Error(`no save started:\n${second.output()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      process.kill(-second.child.pid!, 'SIGKILL');
      await second.exited;

      const third = await start([], { stateDir: dir });
      expect(third.output()).toContain('restored 1 items');
      const read = (key: typeof itemA) => dynamodb(third.endpoint).send(new GetItemCommand({ TableName: 'event-flows-local-data', Key: key }));
      expect((await read(itemA)).Item).toBeDefined();
      expect((await read(itemB)).Item).toBeUndefined();
      expect(await stop(third)).toBe(0);
      expect(existsSync(join(dir, 'snapshot.partial'))).toBe(false); // the cut-off save is cleared away
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it('with --endpoint uses that emulator, starts none and leaves it running', async () => {
    const endpoint = inject('awsEndpoint');
    const started = await start(['--endpoint', endpoint]);
    expect(started.output()).toContain(`AWS emulator:  ${endpoint} (yours`);
    expect((await checkedFetch(`${started.apiUrl}/health`)).status).toBe(200);
    expect(await stop(started)).toBe(0);
    expect(started.output()).not.toContain('saved state');
    const stillThere = await fetch(`${endpoint}/moto-api/`);
    expect(stillThere.ok).toBe(true);
  }, 60_000);

  it.each([
    ['--port', 'the HTTP API port'],
    ['--emulator-port', 'the emulator port'],
    ['--dashboard-port', 'the dashboard port'],
  ])('says clearly when the port given with %s is busy, and exits non-zero', async (option, what) => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const busy = (blocker.address() as { port: number }).port;
    try {
      const others: Record<string, string> = { '--port': String(await freePort()), '--emulator-port': String(await freePort()), '--dashboard-port': '0' };
      const other = Object.entries(others).flatMap(([name, value]) => (name === option ? [] : [name, value]));
      const child = spawn(process.execPath, [...runUnderTsx, 'scripts/local/start.ts', option, String(busy), ...other, '--state-dir', stateDir], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
      running.add(child);
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      running.delete(child);
      expect(code).toBe(1);
      expect(output).toContain(`port ${busy}`);
      expect(output).toContain('already in use');
      expect(output).toContain(what);
      expect(output).toContain(option);
    } finally {
      blocker.close();
    }
  }, 60_000);
});
