/**
 * Import throughput through the whole pipeline (API → import-api function → import queue →
 * import worker → table, until the job is COMPLETED), against two baselines on the same
 * emulator: the raw BatchWriteItem ceiling (a direct loop of 25-item BatchWriteItems) and a
 * naive importer that writes one PutItem per item. Each runs on a fresh stack, so no run
 * pays for another's data.
 *
 * The baselines run at the pipeline's effective write concurrency: the import queue's
 * mapping runs up to `maximumConcurrency` worker invocations, each handling
 * IMPORT_WORKER_CONCURRENCY messages at once, each message written in up to
 * ceil(ITEMS_PER_MESSAGE / 25) parallel BatchWriteItems. Measuring them at the worker's
 * message concurrency alone (4) would hand the pipeline more parallelism than its baselines.
 */
import { BatchWriteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { dynamo } from '../../functions/shared/aws-clients.ts';
import { DEFAULT_ITEM_SHARDS } from '../../functions/shared/config.ts';
import { toItemRecord } from '../../functions/shared/items/item.ts';
import { ITEMS_PER_MESSAGE, ITEMS_PER_WRITE } from '../../functions/shared/imports/limits.ts';
import { queues } from '../local/topology.ts';
import { generateSigningKeys, mintToken } from '../local/jwt.ts';
import { startRuntime } from '../local/runtime.ts';
import { freshStack, pool, waitFor } from './fixtures.ts';

export interface ImportThroughput {
  pipeline_items_per_s: number;
  ceiling_items_per_s: number;
  naive_items_per_s: number;
  items: number;
  concurrency: number;
}

const CHUNK = 500;
/** Chunk uploads in flight, like the CLI's default --concurrency. */
const UPLOAD_CONCURRENCY = 4;

function item(i: number) {
  return { id: `item-${i}`, data: { name: `Item number ${i}`, score: i % 1000, city: ['Paris', 'Lyon', 'Nantes'][i % 3], tags: ['bulk', `g${i % 50}`] } };
}

function record(i: number) {
  const now = new Date().toISOString();
  const { id, data } = item(i);
  return toItemRecord('bench', { collection: 'bench', id, data, version: 1, createdAt: now, updatedAt: now }, DEFAULT_ITEM_SHARDS);
}

async function pipeline(endpoint: string, items: number): Promise<number> {
  const stack = await freshStack(endpoint, 'import');
  const keys = await generateSigningKeys();
  const runtime = await startRuntime({ endpoint, stack, port: 0, publicKey: keys.publicKey, log: () => undefined });
  try {
    const token = await mintToken(keys, { sub: 'bench', tenant: 'bench', admin: true });
    const call = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${runtime.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const json = (await response.json()) as Record<string, unknown>;
      if (response.status >= 300) throw new Error(`${method} ${path} → ${response.status} ${JSON.stringify(json)}`);
      return json;
    };
    const started = performance.now();
    const { importId } = (await call('POST', '/imports', { collection: 'bench' })) as { importId: string };
    await pool(Math.ceil(items / CHUNK), UPLOAD_CONCURRENCY, async (chunk) => {
      const batch = Array.from({ length: Math.min(CHUNK, items - chunk * CHUNK) }, (_, j) => item(chunk * CHUNK + j));
      await call('POST', `/imports/${importId}/items`, { items: batch, chunkId: `c${chunk}` });
    });
    await call('POST', `/imports/${importId}/commit`);
    let job: Record<string, unknown> = {};
    await waitFor(async () => {
      job = await call('GET', `/imports/${importId}`);
      return String(job.status).startsWith('COMPLETED') || job.status === 'FAILED';
    }, 30 * 60_000, 200);
    const seconds = (performance.now() - started) / 1000;
    if (job.status !== 'COMPLETED' || job.succeeded !== items) throw new Error(`import ended ${JSON.stringify(job)}`);
    return items / seconds;
  } finally {
    await runtime.stop();
  }
}

async function ceiling(endpoint: string, items: number, concurrency: number): Promise<number> {
  const stack = await freshStack(endpoint, 'ceiling');
  const started = performance.now();
  await pool(Math.ceil(items / 25), concurrency, async (batch) => {
    let requests: Record<string, unknown[]> = {
      [stack.tableName('data')]: Array.from({ length: Math.min(25, items - batch * 25) }, (_, j) => ({ PutRequest: { Item: record(batch * 25 + j) } })),
    };
    while (Object.keys(requests).length > 0) {
      const { UnprocessedItems = {} } = await dynamo().send(new BatchWriteCommand({ RequestItems: requests as never }));
      requests = UnprocessedItems as Record<string, unknown[]>;
    }
  });
  return items / ((performance.now() - started) / 1000);
}

async function naive(endpoint: string, items: number, concurrency: number): Promise<number> {
  const stack = await freshStack(endpoint, 'naive');
  const started = performance.now();
  await pool(items, concurrency, async (i) => {
    await dynamo().send(new PutCommand({ TableName: stack.tableName('data'), Item: record(i) }));
  });
  return items / ((performance.now() - started) / 1000);
}

export async function measureImportThroughput(endpoint: string, items: number): Promise<ImportThroughput> {
  // The pipeline's effective BatchWriteItem concurrency (see the top of this file).
  const workerConcurrency = Number(process.env.IMPORT_WORKER_CONCURRENCY ?? 4);
  const concurrency = queues.import.maximumConcurrency * workerConcurrency * Math.ceil(ITEMS_PER_MESSAGE / ITEMS_PER_WRITE);
  const round = (v: number) => Math.round(v);
  return {
    ceiling_items_per_s: round(await ceiling(endpoint, items, concurrency)),
    naive_items_per_s: round(await naive(endpoint, items, concurrency)),
    pipeline_items_per_s: round(await pipeline(endpoint, items)),
    items,
    concurrency,
  };
}
