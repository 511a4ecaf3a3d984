/**
 * Groups parsed records into request chunks: at most 1,000 items and a byte budget under
 * the API's 5 MB, numbered in file order. With the same file and the same limits the
 * chunks are always the same, which is what makes `chunkId` = `c<number>` a safe
 * idempotency key for resuming.
 */
import type { ImportRecord, ParsedLine } from './parsers.ts';

export interface Chunk {
  seq: number;
  items: ImportRecord[];
  /** The line each item starts on, parallel to items. */
  lines: number[];
  bytes: number;
}

export interface ChunkLimits {
  maxItems: number;
  maxBytes: number;
}

export const DEFAULT_LIMITS: ChunkLimits = { maxItems: 1000, maxBytes: 4_500_000 };

/** Yields chunks; records that could not be read go to `onError` with their line. */
export async function* toChunks(lines: AsyncIterable<ParsedLine>, limits: ChunkLimits, onError: (line: number, reason: string) => void): AsyncGenerator<Chunk> {
  let current: Chunk = { seq: 0, items: [], lines: [], bytes: 0 };
  for await (const parsed of lines) {
    if ('error' in parsed) {
      onError(parsed.line, parsed.error);
      continue;
    }
    const bytes = Buffer.byteLength(JSON.stringify(parsed.record)) + 1;
    if (current.items.length > 0 && (current.items.length >= limits.maxItems || current.bytes + bytes > limits.maxBytes)) {
      yield current;
      current = { seq: current.seq + 1, items: [], lines: [], bytes: 0 };
    }
    current.items.push(parsed.record);
    current.lines.push(parsed.line);
    current.bytes += bytes;
  }
  if (current.items.length > 0) yield current;
}
