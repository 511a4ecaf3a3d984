/**
 * `npm run terraform:plan [-- dev|prod ...] [--keep]`: the real `terraform` (the one on PATH) —
 * or OpenTofu with --tofu — over a throw-away copy of terraform/: init -backend=false,
 * validate, then plan -refresh=false -var-file=<env>.tfvars of the one root
 * (terraform/environments) with the S3 backend swapped for a local one, and show -json. No
 * AWS credentials are needed or used. tests/infra/terraform-plan.test.ts runs the same
 * functions and checks the plans.
 *
 * Where the AWS provider comes from: by default the offline stand-in in
 * ../shared/tools/aws-provider-shim (test/CI glue: this workplace reaches no Terraform registry
 * and the Go module proxy refuses terraform-provider-aws, so the provider cannot be downloaded
 * here). It serves the schema of hashicorp/aws 6.66.0 to the real Terraform, which does all the
 * checking; it is built once (about a minute, needs Go) into .tools/aws-provider (ignored).
 * EVENT_FLOWS_AWS_PROVIDER=registry uses the registry instead, for a machine that reaches it
 * and has AWS credentials: the real provider reads data sources (the account ID) when
 * planning, so without credentials its plan cannot run. See docs/DEPLOY.md.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { copyFile, cp, mkdir, mkdtemp, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as topology from './local/topology.ts';

export const repo = path.resolve(import.meta.dirname, '..');
const tools = path.join(repo, '.tools');
const shimOutput = path.join(tools, 'aws-provider');
const webDist = path.join(repo, 'web', 'dist');

/** The parts of `terraform show -json <plan>` the checks read (tests/infra/plan-policies.ts). */
export interface Plan {
  format_version: string;
  terraform_version: string;
  variables?: Record<string, { value: unknown }>;
  resource_changes?: {
    address: string;
    module_address?: string;
    mode: 'managed' | 'data';
    type: string;
    name: string;
    index?: string | number;
    change: { actions: string[]; after: Record<string, any> | null; after_unknown?: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any -- provider-defined shapes
  }[];
  prior_state?: { values?: { root_module?: PlanStateModule } };
  configuration?: { root_module?: PlanConfigModule };
  /** Results of the configuration's check blocks and validations (a failed check block only warns in `plan`). */
  checks?: { address: { kind: string; to_display: string }; status: 'pass' | 'fail' | 'error' | 'unknown'; instances?: { problems?: { message: string }[] }[] }[];
}

export interface PlanStateModule {
  resources?: { address: string; mode: string; type: string; name: string; values: Record<string, any> }[]; // eslint-disable-line @typescript-eslint/no-explicit-any -- provider-defined shapes
  child_modules?: (PlanStateModule & { address: string })[];
}

export interface PlanConfigModule {
  resources?: { address: string; mode?: string; type: string; name: string; expressions?: Record<string, any> }[]; // eslint-disable-line @typescript-eslint/no-explicit-any -- Terraform's expression tree
  module_calls?: Record<string, { module?: PlanConfigModule }>;
}

export interface Tool {
  name: 'terraform' | 'tofu';
  binary: string;
}

export interface RunResult {
  code: number;
  output: string;
}

/** Runs a command without a shell and collects stdout and stderr together. */
export function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** The terraform on PATH (required: the tests fail without it). */
export function terraform(): Tool {
  const binary = onPath('terraform');
  if (!binary) throw new Error('no terraform on PATH: install the version in .terraform-version (docs/DEPLOY.md)');
  return { name: 'terraform', binary };
}

/** OpenTofu as scripts/tofu-setup.sh lays it out, or a tofu on PATH; undefined when neither exists. */
export function openTofu(): Tool | undefined {
  const cache = process.env.EVENT_FLOWS_TOFU_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'event-flows/tofu');
  const built = path.join(cache, 'bin/tofu');
  const binary = existsSync(built) ? built : onPath('tofu');
  return binary ? { name: 'tofu', binary } : undefined;
}

/** Serialises work across vitest workers (and concurrent runs) with an atomic mkdir. */
async function withLock<T>(name: string, work: () => Promise<T>): Promise<T> {
  await mkdir(tools, { recursive: true });
  const lock = path.join(tools, `${name}.lock`);
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // A lock older than the deadline was left by a killed run.
      if (Date.now() - statSync(lock, { throwIfNoEntry: false })!.mtimeMs > 10 * 60_000) await rmdir(lock).catch(() => undefined);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  try {
    return await work();
  } finally {
    await rmdir(lock);
  }
}

/**
 * The shim's folder: AWS_PROVIDER_SHIM_DIR, or shared/tools/aws-provider-shim beside the
 * project (../shared) or beside a folder above it (a worktree one level deeper).
 */
function shimSource(): string {
  const candidates: string[] = process.env.AWS_PROVIDER_SHIM_DIR ? [process.env.AWS_PROVIDER_SHIM_DIR] : [];
  for (let dir = path.dirname(repo); ; dir = path.dirname(dir)) {
    candidates.push(path.join(dir, 'shared/tools/aws-provider-shim'));
    if (dir === path.dirname(dir)) break;
  }
  const found = candidates.find((dir) => existsSync(path.join(dir, 'setup.sh')));
  if (!found) throw new Error(`no AWS provider: the offline schema shim is in none of ${candidates.join(', ')}; set AWS_PROVIDER_SHIM_DIR, or EVENT_FLOWS_AWS_PROVIDER=registry with AWS credentials`);
  return found;
}

function newestFile(dir: string): number {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .reduce((newest, entry) => Math.max(newest, statSync(path.join(entry.parentPath, entry.name)).mtimeMs), 0);
}

/**
 * The environment for terraform/tofu: the CLI config that installs the AWS provider (the
 * shim's filesystem mirror, built on first use), no input, no update check, and placeholder
 * credentials so nothing can reach a real AWS account.
 */
export async function toolEnvironment(): Promise<NodeJS.ProcessEnv> {
  const env: NodeJS.ProcessEnv = { ...process.env, TF_IN_AUTOMATION: '1', TF_INPUT: '0', CHECKPOINT_DISABLE: '1' };
  if (process.env.EVENT_FLOWS_AWS_PROVIDER === 'registry') return env;
  for (const name of Object.keys(env)) if (name.startsWith('AWS_') && name !== 'AWS_CA_BUNDLE') delete env[name];
  Object.assign(env, { AWS_ACCESS_KEY_ID: 'offline-plan-no-credentials', AWS_SECRET_ACCESS_KEY: 'offline-plan-no-credentials', AWS_EC2_METADATA_DISABLED: 'true' });
  const cliConfig = path.join(shimOutput, 'terraformrc');
  const binary = path.join(shimOutput, 'bin/terraform-provider-aws-shim');
  const source = shimSource();
  // setup.sh writes the CLI config last, so a config newer than every file of the shim is a finished, current build.
  const fresh = () => existsSync(cliConfig) && existsSync(binary) && statSync(cliConfig).mtimeMs >= newestFile(source);
  if (!fresh()) {
    await withLock('aws-provider', async () => {
      if (fresh()) return;
      const started = Date.now();
      // stderr, not console: the test runner shows console output only for failing tests.
      process.stderr.write(`building the offline AWS provider schema (${source}/setup.sh) into .tools/aws-provider: about a minute, once\n`);
      const result = await run('bash', [path.join(source, 'setup.sh'), shimOutput], { env: { ...process.env, GOFLAGS: '' } });
      if (result.code !== 0) {
        await rm(cliConfig, { force: true }); // so the next run builds again
        throw new Error(`building the AWS provider shim failed:\n${result.output}`);
      }
      process.stderr.write(`built the offline AWS provider schema in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    });
  }
  env.TF_CLI_CONFIG_FILE = cliConfig;
  return env;
}

/** dist/<function>.zip for every function of the topology, built with `npm run build` when one is missing. */
export async function ensureFunctionZips(): Promise<void> {
  const missing = () => Object.keys(topology.functions).filter((name) => !existsSync(path.join(repo, 'dist', `${name}.zip`)));
  if (missing().length === 0) return;
  await withLock('build', async () => {
    if (missing().length === 0) return;
    const result = await run(process.execPath, [path.join(repo, 'build.mjs')], { cwd: repo });
    if (result.code !== 0) throw new Error(`npm run build failed:\n${result.output}`);
  });
  if (missing().length > 0) throw new Error(`npm run build wrote no zip for ${missing().join(', ')}`);
}

/** web/dist, the built dashboard Terraform uploads (terraform/modules/event-flows/dashboard.tf), built when missing. */
export async function ensureDashboardBuild(): Promise<void> {
  if (existsSync(path.join(webDist, 'index.html'))) return;
  await withLock('build-web', async () => {
    if (existsSync(path.join(webDist, 'index.html'))) return;
    const { buildWeb } = await import('../web/build.ts');
    await buildWeb({ quiet: true });
  });
}

/** The one Terraform root; each environment is a `<env>.tfvars` and a `<env>.s3.tfbackend` in it. */
export const ROOT_DIR = 'terraform/environments';

/** The environments: the `<env>.tfvars` files of the root. */
export function environmentNames(): string[] {
  return readdirSync(path.join(repo, ROOT_DIR))
    .filter((file) => file.endsWith('.tfvars'))
    .map((file) => file.slice(0, -'.tfvars'.length))
    .sort();
}

/**
 * A throw-away copy of terraform/ (without .terraform/ and state), the function zips and the
 * built dashboard, laid out as in the project so ../../dist and ../../web/dist resolve from the
 * root. Returns the copy's root.
 */
export async function copyProject(): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'event-flows-terraform-'));
  await cp(path.join(repo, 'terraform'), path.join(root, 'terraform'), {
    recursive: true,
    filter: (source) => !/(^|\/)(\.terraform|\.terraform\.lock\.hcl|[^/]*\.tfstate[^/]*|[^/]*_override\.tf)$/.test(source),
  });
  await mkdir(path.join(root, 'dist'));
  for (const name of Object.keys(topology.functions)) await copyFile(path.join(repo, 'dist', `${name}.zip`), path.join(root, 'dist', `${name}.zip`));
  if (existsSync(webDist)) await cp(webDist, path.join(root, 'web', 'dist'), { recursive: true });
  return root;
}

export async function removeCopy(root: string): Promise<void> {
  await rm(root, { recursive: true, force: true });
}

/** Replaces the S3 backend with a local one, so a plan needs no bucket and no credentials. */
const LOCAL_BACKEND = 'terraform {\n  backend "local" {}\n}\n';

export interface StepResult extends RunResult {
  step: string;
  seconds: number;
}

export interface EnvironmentRun {
  steps: StepResult[];
  /** The saved plan as `show -json` prints it (undefined when a step failed). */
  plan?: Plan;
  /** The first failed step, with its output. */
  failure?: StepResult;
}

/** Where planEnvironment saves an environment's plan, in the copy's root directory. */
export const planFile = (environment: string) => `${environment}.tfplan`;

/**
 * init -backend=false, validate, then (local backend) init, plan -refresh=false -lock=false
 * -var-file=<env>.tfvars -out, show -json — for one environment of a copy. Stops at the first
 * failing step. The environments share the root's .terraform/, so a copy plans one
 * environment at a time (give each concurrent plan its own copy).
 */
export async function planEnvironment(tool: Tool, root: string, environment: string, env: NodeJS.ProcessEnv): Promise<EnvironmentRun> {
  const dir = path.join(root, ROOT_DIR);
  if (!existsSync(path.join(dir, `${environment}.tfvars`))) throw new Error(`no environment ${environment}: ${ROOT_DIR}/${environment}.tfvars does not exist`);
  const steps: StepResult[] = [];
  const sequence: [string, string[]][] = [
    ['init -backend=false', ['init', '-backend=false', '-input=false']],
    ['validate', ['validate']],
    ['init (local backend)', ['init', '-reconfigure', '-input=false']],
    ['plan', ['plan', '-refresh=false', '-lock=false', '-input=false', `-var-file=${environment}.tfvars`, `-out=${planFile(environment)}`]],
  ];
  for (const [name, args] of sequence) {
    if (name === 'init (local backend)') await writeFile(path.join(dir, 'backend_override.tf'), LOCAL_BACKEND);
    const started = Date.now();
    const result = await run(tool.binary, [...args, '-no-color'], { cwd: dir, env });
    const done = { ...result, step: `${tool.name} ${name}`, seconds: (Date.now() - started) / 1000 };
    steps.push(done);
    if (done.code !== 0) return { steps, failure: done };
  }
  // show -json writes the JSON to stdout only; keep stderr apart so it cannot corrupt it.
  const started = Date.now();
  const show = await new Promise<StepResult>((resolve, reject) => {
    const child = spawn(tool.binary, ['show', '-json', planFile(environment)], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let errors = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, output: code === 0 ? Buffer.concat(out).toString() : errors, step: `${tool.name} show -json`, seconds: (Date.now() - started) / 1000 }));
  });
  steps.push(show);
  if (show.code !== 0) return { steps, failure: show };
  return { steps, plan: JSON.parse(show.output) as Plan };
}

/** A file of a copy, edited in place; throws when the edit changes nothing (the break did not apply). */
export async function editFile(root: string, file: string, edit: (text: string) => string): Promise<void> {
  const full = path.join(root, 'terraform', file);
  const before = await readFile(full, 'utf8');
  const after = edit(before);
  if (after === before) throw new Error(`the edit of ${file} changed nothing`);
  await writeFile(full, after);
}

/** The command line: plan the given environments (default: all) and print each step. */
async function main(argv: string[]): Promise<number> {
  const keep = argv.includes('--keep');
  const tool = argv.includes('--tofu') ? openTofu() : terraform();
  if (!tool) throw new Error('no OpenTofu: npm run tofu:setup -- --tofu-only builds it');
  const requested = argv.filter((a) => !a.startsWith('--'));
  const environments = requested.length > 0 ? requested : environmentNames();
  const env = await toolEnvironment();
  await ensureFunctionZips();
  await ensureDashboardBuild();
  const root = await copyProject();
  let failed = false;
  try {
    for (const environment of environments) {
      const result = await planEnvironment(tool, root, environment, env);
      for (const step of result.steps) console.log(`[${environment}] ${step.step}: ${step.code === 0 ? 'ok' : 'FAILED'} (${step.seconds.toFixed(1)} s)`);
      if (result.failure) {
        failed = true;
        console.log(result.failure.output);
        continue;
      }
      const plan = result.steps.find((s) => s.step.endsWith(' plan'))!.output;
      console.log(`[${environment}] ${result.plan!.resource_changes!.filter((r) => r.mode === 'managed').length} resources planned (${/^Plan: (.*)\.$/m.exec(plan)?.[1] ?? 'no changes'})`);
      console.log(`[${environment}] saved plan: ${path.join(root, ROOT_DIR, planFile(environment))}${keep ? '' : ' (removed; --keep keeps it)'}`);
    }
  } finally {
    if (!keep) await removeCopy(root);
  }
  return failed ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.slice(2));
}
