/**
 * Counts, under the real runtime and for each client order, the invocations whose
 * after-response task started only after the response was posted (see order-probe/).
 * Used by tests/runtime/response-order.test.ts and printed by the benchmark.
 *
 * `npx tsx scripts/runtime/response-order.ts [invocations]` prints the counts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { repoRoot } from '../local/python-env.ts';
import { startRecordingProxy, type RecordedCall } from './recording-proxy.ts';
import { startRieFunction, type ClientOrder } from './rie.ts';
import { LAMBDA_NODE_MAJOR } from './tools.ts';

export interface OrderCount {
  invocations: number;
  /** Invocations whose response POST reached the Runtime API before the task's first act. */
  responseFirst: number;
}

/** Bundles the probe the way build.mjs bundles a function (one ESM file for Node). */
async function buildProbe(outdir: string): Promise<void> {
  await build({
    entryPoints: { handler: join(repoRoot, 'scripts/runtime/order-probe/handler.ts') },
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: `node${LAMBDA_NODE_MAJOR}`,
    logLevel: 'warning',
  });
}

export async function measureResponseOrder(invocations: number, orders: ClientOrder[] = ['immediate', 'deferred']): Promise<Record<ClientOrder, OrderCount>> {
  const scratch = mkdtempSync(join(tmpdir(), 'event-flows-order-'));
  const counts = {} as Record<ClientOrder, OrderCount>;
  try {
    await buildProbe(scratch);
    for (const clientOrder of orders) {
      const calls: RecordedCall[] = [];
      // The probe's marker goes through a recording proxy too, into the same timeline.
      const markers = await startRecordingProxy('probe', '127.0.0.1:9', calls);
      const fn = await startRieFunction({ codeDir: scratch, functionName: 'order-probe', logFormat: 'JSON', clientOrder, calls, environment: { PROBE_URL: `http://${markers.address}` } });
      try {
        for (let n = 1; n <= invocations; n++) await fn.invoke({ n });
      } finally {
        await fn.stop();
        await markers.close();
      }
      const order = calls.map((c) => (c.channel === 'probe' ? c.path : c.path.match(/\/runtime\/invocation\/([^/]+)\/response$/) ? 'response' : '')).filter(Boolean);
      let responseFirst = 0;
      for (let n = 1; n <= invocations; n++) {
        const task = order.indexOf(`/probe/task-start/${n}`);
        // The n-th response is the n-th 'response' entry.
        const response = order.map((e, i) => (e === 'response' ? i : -1)).filter((i) => i >= 0)[n - 1] ?? -1;
        if (task >= 0 && response >= 0 && response < task) responseFirst++;
      }
      counts[clientOrder] = { invocations, responseFirst };
    }
    return counts;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const invocations = Number(process.argv[2] ?? 10);
  const counts = await measureResponseOrder(invocations);
  for (const [order, c] of Object.entries(counts)) console.log(`client order ${order.padEnd(9)}: response posted before the task started in ${c.responseFirst} of ${c.invocations} invocations`);
}
