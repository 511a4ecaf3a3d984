// Bundles every functions/<name>/handler.ts into one minified ESM file for the nodejs24.x
// Lambda runtime and packs it into dist/<name>.zip. The zip is deterministic (fixed order,
// timestamps and modes), so Terraform's source_code_hash changes only when the code does.
import { build } from 'esbuild';
import { createWriteStream, existsSync, readdirSync, readFileSync, rmSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import yazl from 'yazl';

const root = new URL('.', import.meta.url).pathname;
const functionsDir = join(root, 'functions');
const defaultDistDir = join(root, 'dist');
const FIXED_MTIME = new Date('1980-01-01T00:00:00Z');

export function functionNames() {
  return readdirSync(functionsDir)
    .filter((name) => existsSync(join(functionsDir, name, 'handler.ts')))
    .sort();
}

async function bundle(name, distDir) {
  const outdir = join(distDir, name);
  rmSync(outdir, { recursive: true, force: true });
  const result = await build({
    entryPoints: { handler: join(functionsDir, name, 'handler.ts') },
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    // SDK v3 ships ES modules under `module`: they tree-shake; the CommonJS builds do not.
    mainFields: ['module', 'main'],
    // Lazily imported code (credential providers a Lambda never uses, ...) goes to chunks
    // that load only if called, which keeps the code parsed at cold start small.
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    metafile: true,
    minify: true,
    // No source maps: Lambda's Node starts without --enable-source-maps, and 'external' maps
    // carry no sourceMappingURL, so a map in the zip never mapped a stack trace. They were
    // half of each zip's files and over half its bytes (query: 337.6 KB with them, 149.6 KB
    // without). The local runtime runs the TypeScript itself.
    sourcemap: false,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    // Some CommonJS dependencies call require() for Node built-ins.
    banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
    legalComments: 'none',
    logLevel: 'warning',
  });
  return { outdir, initBytes: bytesLoadedAtInit(result.metafile, outdir) };
}

/** The entry file plus every chunk it imports statically: what a cold start parses. */
function bytesLoadedAtInit(metafile, outdir) {
  const outputs = Object.fromEntries(Object.entries(metafile.outputs).map(([path, output]) => [resolve(root, path), output]));
  const seen = new Set();
  const visit = (path) => {
    if (seen.has(path) || !outputs[path]) return;
    seen.add(path);
    for (const imported of outputs[path].imports) if (imported.kind === 'import-statement') visit(resolve(root, imported.path));
  };
  visit(join(outdir, 'handler.mjs'));
  return [...seen].reduce((sum, path) => sum + outputs[path].bytes, 0);
}

function filesBelow(dir, prefix = '') {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? filesBelow(join(dir, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`]))
    .sort();
}

function zipDeterministic(sourceDir, zipPath) {
  return new Promise((resolve, reject) => {
    const zip = new yazl.ZipFile();
    for (const file of filesBelow(sourceDir)) {
      zip.addBuffer(readFileSync(join(sourceDir, file)), file, { mtime: FIXED_MTIME, mode: 0o100644, compress: true });
    }
    zip.end();
    zip.outputStream.pipe(createWriteStream(zipPath)).on('close', resolve).on('error', reject);
  });
}

/** `distDir`: where the zips go (default dist/; tests that run zips build their own copy). */
export async function buildAll({ quiet = false, distDir = defaultDistDir } = {}) {
  mkdirSync(distDir, { recursive: true });
  const results = [];
  for (const name of functionNames()) {
    const { outdir, initBytes } = await bundle(name, distDir);
    const zipPath = join(distDir, `${name}.zip`);
    await zipDeterministic(outdir, zipPath);
    const codeBytes = filesBelow(outdir)
      .filter((file) => file.endsWith('.mjs'))
      .reduce((sum, file) => sum + statSync(join(outdir, file)).size, 0);
    results.push({ name, initBytes, codeBytes, zipBytes: statSync(zipPath).size });
  }
  if (!quiet) {
    const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`.padStart(12);
    console.log(`${'function'.padEnd(18)}${'loaded at init'.padStart(12)}${'all code'.padStart(12)}${'zip'.padStart(12)}`);
    for (const r of results) console.log(`${r.name.padEnd(18)}${kb(r.initBytes)}${kb(r.codeBytes)}${kb(r.zipBytes)}`);
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await buildAll();
}
