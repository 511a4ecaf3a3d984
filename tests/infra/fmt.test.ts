/**
 * `fmt -check` over terraform/ with whichever Terraform-compatible binary this machine has:
 * OpenTofu built by scripts/tofu-setup.sh, or a terraform on PATH. Formatting needs no
 * provider, so this runs even where validate cannot (see docs/TOFU.md).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const repo = path.resolve(import.meta.dirname, '../..');

function findBinary(): string | undefined {
  const tofu = path.join(os.homedir(), '.cache/event-flows/tofu/bin/tofu');
  if (existsSync(tofu)) return tofu;
  for (const name of ['tofu', 'terraform']) {
    const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (found.status === 0 && found.stdout.trim()) return found.stdout.trim();
  }
  return undefined;
}

const binary = findBinary();
if (!binary) console.warn('tests/infra/fmt.test.ts: no tofu or terraform binary here; run `npm run tofu:setup -- --tofu-only` to build OpenTofu and check formatting');

describe('terraform formatting', () => {
  it.skipIf(!binary)(`terraform/ is formatted (${binary ?? 'no binary'} fmt -check)`, () => {
    const result = spawnSync(binary!, ['fmt', '-check', '-recursive', '-diff', path.join(repo, 'terraform')], { encoding: 'utf8', env: { ...process.env, TF_CLI_CONFIG_FILE: '/dev/null' } });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it.skipIf(!binary)('fmt -check notices a badly formatted file', async () => {
    const dir = execFileSync('mktemp', ['-d'], { encoding: 'utf8' }).trim();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path.join(dir, 'bad.tf'), 'variable "x" {\ntype=string\n      default = "a"\n}\n');
    const result = spawnSync(binary!, ['fmt', '-check', dir], { encoding: 'utf8', env: { ...process.env, TF_CLI_CONFIG_FILE: '/dev/null' } });
    expect(result.status).not.toBe(0);
  });
});
