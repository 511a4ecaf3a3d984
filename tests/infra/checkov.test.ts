/**
 * checkov over terraform/ (framework terraform, compact JSON): fails on any failed check.
 * scripts/checkov.sh installs the pinned checkov into .venv-checkov on first use (which
 * needs PyPI once); inline `#checkov:skip=CKV_...:reason` comments record the checks that
 * do not apply, with their reasons.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, '../..');

interface CheckovCheck {
  check_id: string;
  check_name: string;
  resource: string;
  file_path: string;
  file_line_range?: number[];
  check_result?: { suppress_comment?: string };
}

interface CheckovReport {
  check_type: string;
  results: { passed_checks?: CheckovCheck[]; failed_checks?: CheckovCheck[]; skipped_checks?: CheckovCheck[] };
  summary: { passed: number; failed: number; skipped: number; parsing_errors: number; resource_count: number; checkov_version: string };
}

async function checkov(): Promise<CheckovReport[]> {
  const args = ['--directory', 'terraform', '--framework', 'terraform', '--compact', '--output', 'json'];
  // checkov exits 1 when a check fails; the JSON report is on stdout either way.
  const { stdout } = await run(path.join(repo, 'scripts/checkov.sh'), args, { cwd: repo, maxBuffer: 64 * 1024 * 1024 }).catch(
    (error: { stdout?: string; stderr?: string; code?: number }) => {
      if (error.code === 1 && error.stdout) return { stdout: error.stdout };
      throw new Error(`checkov did not run: ${error.stderr ?? String(error)}`);
    },
  );
  const parsed = JSON.parse(stdout) as CheckovReport | CheckovReport[];
  return Array.isArray(parsed) ? parsed : [parsed];
}

describe('checkov', () => {
  it('passes every check on terraform/ (skips carry a reason)', { timeout: 600_000 }, async () => {
    const reports = await checkov();
    const terraform = reports.find((r) => r.check_type === 'terraform');
    expect(terraform, 'a terraform report').toBeDefined();
    const { summary } = terraform!;
    const failed = terraform!.results.failed_checks ?? [];
    const skipped = terraform!.results.skipped_checks ?? [];
    const skippedIds = [...new Set(skipped.map((c) => c.check_id))].sort();
    console.log(
      `checkov ${summary.checkov_version}: ${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped ` +
        `(${skippedIds.join(', ')}), ${summary.resource_count} resources, ${summary.parsing_errors} parsing errors`,
    );
    const failures = failed.map((c) => `${c.check_id} ${c.check_name} — ${c.resource} (${c.file_path}:${c.file_line_range?.join('-') ?? ''})`);
    expect(failures).toEqual([]);
    expect(summary.parsing_errors).toBe(0);
    expect(summary.passed).toBeGreaterThan(0);
    for (const check of skipped) {
      expect(check.check_result?.suppress_comment?.trim().length ?? 0, `${check.check_id} on ${check.resource} has a reason`).toBeGreaterThan(10);
    }
  });
});
