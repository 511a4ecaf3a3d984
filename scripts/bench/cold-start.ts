/**
 * Cold start of each function: how long a fresh Node.js process takes to load the handler
 * module (Lambda's init phase: parse, evaluate, import the SDK), for the esbuild bundle in
 * dist/ against the same handler compiled by plain tsc and loading its dependencies from
 * node_modules, which is what a deployment without a bundler ships.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../local/python-env.ts';
import { median, round } from './stats.ts';

export interface ColdStart {
  bundle_kb: number;
  init_ms: number;
  unbundled_init_ms: number;
}

/** One fresh process: import the module, print how long it took. */
function timeImport(modulePath: string): number {
  const script = `const t=performance.now();await import(${JSON.stringify(modulePath)});process.stdout.write(String(performance.now()-t));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, AWS_REGION: 'us-east-1', NODE_NO_WARNINGS: '1' },
  });
  return Number(out);
}

export function compileUnbundled(): void {
  execFileSync(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', join(repoRoot, 'scripts/bench/tsconfig.unbundled.json')], { stdio: 'inherit' });
}

/** `initBytes`: what each bundle loads at init (entry + static chunks), as build.mjs reports it. */
export function measureColdStarts(initBytes: Record<string, number>, runs: number): Record<string, ColdStart> {
  const functions = Object.keys(initBytes);
  compileUnbundled();
  const results: Record<string, ColdStart> = {};
  for (const name of functions) {
    const bundle = join(repoRoot, 'dist', name, 'handler.mjs');
    const unbundled = join(repoRoot, '.bench/unbundled/functions', name, 'handler.js');
    if (!existsSync(bundle) || !existsSync(unbundled)) throw new Error(`missing ${bundle} or ${unbundled}: run npm run build first`);
    const bundled: number[] = [];
    const plain: number[] = [];
    // Alternate the two forms so that machine noise hits both alike.
    for (let i = 0; i < runs; i++) {
      bundled.push(timeImport(bundle));
      plain.push(timeImport(unbundled));
    }
    results[name] = { bundle_kb: round((initBytes[name] ?? statSync(bundle).size) / 1024, 1), init_ms: round(median(bundled), 2), unbundled_init_ms: round(median(plain), 2) };
  }
  return results;
}
