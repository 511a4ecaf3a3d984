/**
 * Cold start of each function under the real Lambda runtime pieces: the Runtime Interface
 * Emulator starts aws-lambda-ric on the Lambda runtime's Node (scripts/runtime/), which
 * loads the handler; the figure is the emulator's `INIT REPORT` duration (runtime start,
 * handler import, extension registration). The esbuild bundle from dist/ is measured
 * against the same handler compiled by plain tsc, loading its dependencies from
 * node_modules, which is what a deployment without a bundler ships.
 *
 * `npx tsx scripts/bench/cold-start.ts [runs]` prints the table on its own (after
 * `npm run build`).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../local/python-env.ts';
import { startRieFunction, unpackFunction } from '../runtime/rie.ts';
import { ensureRuntimeTools, LAMBDA_NODE_VERSION } from '../runtime/tools.ts';
import { median, round } from './stats.ts';

export interface ColdStart {
  bundle_kb: number;
  init_ms: number;
  unbundled_init_ms: number;
}

/** Nothing listens here: init makes no AWS call, and the invoke that triggers it needs none. */
const NO_AWS = 'http://127.0.0.1:9';

/** One cold start in the emulator: its INIT REPORT duration. */
export async function initDuration(codeDir: string, functionName: string): Promise<number> {
  const fn = await startRieFunction({
    codeDir,
    functionName,
    logFormat: 'JSON',
    environment: { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench', AWS_ENDPOINT_URL: NO_AWS, ANALYTICS_ENABLED: 'false' },
  });
  try {
    // The emulator initialises on the first invoke; the event's shape does not matter.
    await fn.invoke({});
    const ms = fn.initDurationMs();
    if (ms === undefined) throw new Error(`no INIT REPORT line for ${functionName}:\n${fn.lines.map((l) => l.text).join('\n')}`);
    return ms;
  } finally {
    await fn.stop();
  }
}

export function compileUnbundled(): void {
  execFileSync(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', join(repoRoot, 'scripts/bench/tsconfig.unbundled.json')], { stdio: 'inherit' });
}

/** `initBytes`: what each bundle loads at init (entry + static chunks), as build.mjs reports it. */
export async function measureColdStarts(initBytes: Record<string, number>, runs: number): Promise<Record<string, ColdStart>> {
  ensureRuntimeTools();
  compileUnbundled();
  const scratch = mkdtempSync(join(tmpdir(), 'event-flows-cold-start-'));
  try {
    const results: Record<string, ColdStart> = {};
    for (const name of Object.keys(initBytes)) {
      const bundled = unpackFunction(name, scratch);
      const unbundled = join(repoRoot, '.bench/unbundled/functions', name);
      if (!existsSync(join(unbundled, 'handler.js'))) throw new Error(`missing ${unbundled}/handler.js`);
      const bundledMs: number[] = [];
      const plainMs: number[] = [];
      // Alternate the two forms so that machine noise hits both alike.
      for (let i = 0; i < runs; i++) {
        bundledMs.push(await initDuration(bundled, name));
        plainMs.push(await initDuration(unbundled, name));
      }
      results[name] = { bundle_kb: round(initBytes[name]! / 1024, 1), init_ms: round(median(bundledMs), 2), unbundled_init_ms: round(median(plainMs), 2) };
    }
    return results;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const runs = Number(process.argv[2] ?? 5);
  // @ts-expect-error build.mjs is plain JavaScript without type declarations.
  const { buildAll } = (await import('../../build.mjs')) as { buildAll: (o: { quiet: boolean }) => Promise<{ name: string; initBytes: number }[]> };
  const built = await buildAll({ quiet: true });
  const results = await measureColdStarts(Object.fromEntries(built.map((b) => [b.name, b.initBytes])), runs);
  console.log(`INIT REPORT durations, median of ${runs}, Node.js ${LAMBDA_NODE_VERSION} in the Runtime Interface Emulator with aws-lambda-ric`);
  console.log(`${'function'.padEnd(18)}${'bundle KB'.padStart(10)}${'bundled ms'.padStart(12)}${'unbundled ms'.padStart(14)}`);
  for (const [name, r] of Object.entries(results)) {
    console.log(`${name.padEnd(18)}${String(r.bundle_kb).padStart(10)}${String(r.init_ms).padStart(12)}${String(r.unbundled_init_ms).padStart(14)}`);
  }
}
