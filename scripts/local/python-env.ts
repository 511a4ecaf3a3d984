/**
 * The project-local Python virtualenv that holds the AWS emulator (moto server), pinned in
 * requirements.txt. Created on first use; re-installed when requirements.txt changes.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const repoRoot = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
const venv = join(repoRoot, '.venv');
const requirementsFile = join(repoRoot, 'requirements.txt');
const stampFile = join(venv, '.requirements-sha256');

export function venvBinary(name: string): string {
  return join(venv, 'bin', name);
}

export function ensurePythonEnv(log: (line: string) => void = (line) => console.error(line)): void {
  const wanted = createHash('sha256').update(readFileSync(requirementsFile)).digest('hex');
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === wanted && existsSync(venvBinary('moto_server'))) return;

  const python = process.env.PYTHON ?? 'python3';
  const probe = spawnSync(python, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(`${python} was not found. The local AWS emulator (moto) needs Python 3.9 or newer: install python3 (with its venv module) or set PYTHON to its path.`);
  }
  log(`Installing the AWS emulator into .venv (first run only): ${readFileSync(requirementsFile, 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).join(', ')}`);
  if (!existsSync(venvBinary('python'))) execFileSync(python, ['-m', 'venv', venv], { stdio: 'inherit' });
  execFileSync(venvBinary('python'), ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', requirementsFile], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  writeFileSync(stampFile, wanted);
}
