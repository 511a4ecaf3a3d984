/** Helpers for tests of the local stack's saved state (scripts/local/persistence.ts). */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Every file under `root` with its bytes: equal before and after means nothing was touched. */
export function contentsOf(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) out[join(entry.parentPath, entry.name).slice(root.length)] = readFileSync(join(entry.parentPath, entry.name)).toString('base64');
  }
  return out;
}

/**
 * Inserts `entry` at `index` of a table file in the snapshot `snapshotDir` (…/snapshot) and
 * updates the manifest's checksum: an entry planted as if it had been saved.
 */
export function plantInSnapshot(snapshotDir: string, table: string, index: number, entry: unknown): void {
  const file = `tables/${table}.json`;
  const saved = JSON.parse(readFileSync(join(snapshotDir, file), 'utf8')) as unknown[];
  saved.splice(index, 0, entry);
  const content = JSON.stringify(saved);
  writeFileSync(join(snapshotDir, file), content);
  const manifest = JSON.parse(readFileSync(join(snapshotDir, 'manifest.json'), 'utf8')) as { files: Record<string, string> };
  manifest.files[file] = createHash('sha256').update(content).digest('hex');
  writeFileSync(join(snapshotDir, 'manifest.json'), JSON.stringify(manifest));
}

/** What moto used to answer for a map with an empty key ({"": {"N": "1"}} merged into the map): no attribute value. */
export const mergedEmptyKeyItem = { pk: { S: 'EVENT#acme#2026-01-01' }, sk: { S: 'merged' }, event: { M: { N: '1', b: { M: { S: 'x' } } } } };
