/**
 * Builds the analytics dashboard (web/src) into web/dist: one minified ES module and one
 * stylesheet, content-hashed (so a CDN may cache them for good), and index.html naming them
 * (never cached). `config.json` is not built: the local server serves it, Terraform writes
 * the deployed one next to the files.
 *
 *   npm run build:web      prints each file's size, raw and gzip
 */
import { build } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';

export const webDir = new URL('.', import.meta.url).pathname;
export const defaultWebDist = join(webDir, 'dist');

export interface WebFile {
  path: string;
  bytes: number;
  gzipBytes: number;
}

export async function buildWeb(options: { outDir?: string; quiet?: boolean } = {}): Promise<WebFile[]> {
  const outDir = options.outDir ?? defaultWebDist;
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const result = await build({
    entryPoints: { app: join(webDir, 'src', 'main.ts'), style: join(webDir, 'src', 'styles.css') },
    outdir: join(outDir, 'assets'),
    entryNames: '[name]-[hash]',
    bundle: true,
    format: 'esm',
    platform: 'browser',
    // Evergreen browsers: top-level await, optional chaining, crypto.subtle.
    target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    metafile: true,
    write: true,
    logLevel: 'warning',
  });
  const outputs = Object.keys(result.metafile.outputs).map((path) => basename(path));
  const script = outputs.find((name) => name.startsWith('app-') && name.endsWith('.js'));
  const style = outputs.find((name) => name.startsWith('style-') && name.endsWith('.css'));
  if (!script || !style) throw new Error(`the web build produced ${outputs.join(', ')}: no app-*.js or style-*.css`);
  const html = readFileSync(join(webDir, 'index.html'), 'utf8').replace('{{script}}', `assets/${script}`).replace('{{style}}', `assets/${style}`);
  writeFileSync(join(outDir, 'index.html'), html);

  const files = ['index.html', `assets/${script}`, `assets/${style}`].map((path) => {
    const content = readFileSync(join(outDir, path));
    return { path, bytes: content.length, gzipBytes: gzipSync(content, { level: 9 }).length };
  });
  if (!options.quiet) console.log(formatSizes(files));
  return files;
}

export function formatSizes(files: WebFile[]): string {
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`.padStart(10);
  const total = files.reduce((sum, f) => ({ bytes: sum.bytes + f.bytes, gzipBytes: sum.gzipBytes + f.gzipBytes }), { bytes: 0, gzipBytes: 0 });
  return [
    `${'dashboard file'.padEnd(34)}${'raw'.padStart(10)}${'gzip'.padStart(10)}`,
    ...files.map((f) => `${f.path.padEnd(34)}${kb(f.bytes)}${kb(f.gzipBytes)}`),
    `${'total'.padEnd(34)}${kb(total.bytes)}${kb(total.gzipBytes)}`,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await buildWeb();
}
