/**
 * Resume state: `.import-state/<key>.json`, where the key is a hash of the file's content,
 * the collection and the API. It records the import job and which chunks the API has
 * acknowledged (as ranges of chunk numbers), written atomically after acknowledgements.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChunkLimits } from './chunks.ts';

export interface ServerRejection {
  line: number;
  id?: string;
  reason: string;
}

export interface ImportState {
  version: 1;
  importId: string;
  file: string;
  contentHash: string;
  collection: string;
  api: string;
  format: string;
  limits: ChunkLimits;
  /** Acknowledged chunk numbers as sorted, disjoint [from, to] ranges. */
  acked: Array<[number, number]>;
  /** Items acknowledged (accepted) and refused by the server, over the acknowledged chunks. */
  accepted: number;
  rejected: ServerRejection[];
  rejectedCount: number;
  committed: boolean;
  startedAt: string;
}

export async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function stateKey(contentHash: string, collection: string, api: string): string {
  return createHash('sha256').update(`${contentHash}\n${collection}\n${api}`).digest('hex').slice(0, 24);
}

export function statePaths(dir: string, key: string) {
  return { state: join(dir, `${key}.json`), rejected: join(dir, `${key}.rejected.ndjson`) };
}

export async function loadState(path: string): Promise<ImportState | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as ImportState;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export async function saveState(path: string, state: ImportState): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, JSON.stringify(state, null, 1));
  await rename(temporary, path);
}

export async function removeState(path: string): Promise<void> {
  await rm(path, { force: true });
}

export function isAcked(acked: ReadonlyArray<[number, number]>, seq: number): boolean {
  return acked.some(([from, to]) => seq >= from && seq <= to);
}

/** Adds `seq` to the ranges, merging neighbours. */
export function addAcked(acked: Array<[number, number]>, seq: number): Array<[number, number]> {
  if (isAcked(acked, seq)) return acked;
  const ranges = [...acked, [seq, seq] as [number, number]].sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const range of ranges) {
    const last = merged[merged.length - 1];
    if (last && range[0] <= last[1] + 1) last[1] = Math.max(last[1], range[1]);
    else merged.push([range[0], range[1]]);
  }
  return merged;
}
