/**
 * Project-local Python virtualenvs, each pinned by its requirements file, created on first use
 * and re-installed when that file changes: `.venv` holds the AWS emulator (moto server,
 * requirements.txt); `.venv-schemathesis` the API fuzzer the contract tests run
 * (requirements-schemathesis.txt), kept apart so neither pins the other's dependencies.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const repoRoot = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');

interface PythonEnv {
  /** The virtualenv's directory under the repository. */
  dir: string;
  requirements: string;
  /** A binary the requirements install; its absence means the env is incomplete. */
  probe: string;
  /** What it is for, in the first-run message. */
  purpose: string;
}

const emulatorEnv: PythonEnv = { dir: '.venv', requirements: 'requirements.txt', probe: 'moto_server', purpose: 'the AWS emulator' };
const fuzzerEnv: PythonEnv = { dir: '.venv-schemathesis', requirements: 'requirements-schemathesis.txt', probe: 'schemathesis', purpose: 'the API fuzzer (schemathesis)' };

export function venvBinary(name: string, env: PythonEnv = emulatorEnv): string {
  return join(repoRoot, env.dir, 'bin', name);
}

export function schemathesisBinary(): string {
  return venvBinary('schemathesis', fuzzerEnv);
}

export function ensurePythonEnv(log: (line: string) => void = (line) => console.error(line)): void {
  ensureEnv(emulatorEnv, log);
}

export function ensureSchemathesisEnv(log: (line: string) => void = (line) => console.error(line)): void {
  ensureEnv(fuzzerEnv, log);
}

function ensureEnv(env: PythonEnv, log: (line: string) => void): void {
  const venv = join(repoRoot, env.dir);
  const requirementsFile = join(repoRoot, env.requirements);
  const stampFile = join(venv, '.requirements-sha256');
  const wanted = createHash('sha256').update(readFileSync(requirementsFile)).digest('hex');
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === wanted && existsSync(venvBinary(env.probe, env))) return;

  const python = process.env.PYTHON ?? 'python3';
  const probe = spawnSync(python, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(`${python} was not found. ${env.purpose} needs Python 3.9 or newer: install python3 (with its venv module) or set PYTHON to its path.`);
  }
  log(`Installing ${env.purpose} into ${env.dir} (first run only): ${readFileSync(requirementsFile, 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).join(', ')}`);
  if (!existsSync(venvBinary('python', env))) execFileSync(python, ['-m', 'venv', venv], { stdio: 'inherit' });
  execFileSync(venvBinary('python', env), ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', requirementsFile], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  writeFileSync(stampFile, wanted);
}
