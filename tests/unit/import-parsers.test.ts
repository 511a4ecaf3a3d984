/** The CLI's streaming readers and chunking: formats, line numbers, errors that do not stop the read. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toChunks } from '../../scripts/import/chunks.ts';
import { formatOf, JsonArraySplitter, readRecords, toRecord, type Format, type ParsedLine } from '../../scripts/import/parsers.ts';
import { addAcked, isAcked } from '../../scripts/import/state.ts';

const dir = mkdtempSync(join(tmpdir(), 'import-parsers-'));
async function read(name: string, content: string, format?: Format): Promise<ParsedLine[]> {
  const path = join(dir, name);
  writeFileSync(path, content);
  const out: ParsedLine[] = [];
  for await (const line of readRecords(path, format ?? formatOf(path))) out.push(line);
  return out;
}

describe('readers', () => {
  it('NDJSON: one record a line, bad lines reported with their number, blank lines skipped', async () => {
    const lines = await read('a.ndjson', '{"id":"a","data":{"x":1}}\n\n{"id":"b","name":"n"}\n{oops\n[1]\n{"id":7}\n');
    expect(lines).toEqual([
      { line: 1, record: { id: 'a', data: { x: 1 } } },
      { line: 3, record: { id: 'b', data: { name: 'n' } } },
      { line: 4, error: expect.stringContaining('invalid JSON') },
      { line: 5, error: 'not a JSON object' },
      { line: 6, record: { id: '7', data: {} } },
    ]);
  });

  it('JSON array: elements with the line they start on, strings with brackets and escapes', async () => {
    const text = '[\n  {"id":"a","data":{"s":"a, ] } [ \\" x"}},\n  {"id":"b",\n   "data":{"n":[1,2,{"k":1}]}},\n  42,\n  {"id":"c","data":{}}\n]\n';
    const lines = await read('a.json', text);
    expect(lines).toEqual([
      { line: 2, record: { id: 'a', data: { s: 'a, ] } [ " x' } } },
      { line: 3, record: { id: 'b', data: { n: [1, 2, { k: 1 }] } } },
      { line: 5, error: 'not a JSON object' },
      { line: 6, record: { id: 'c', data: {} } },
    ]);
  });

  it('JSON array: the same elements whatever the chunk boundaries', () => {
    const text = '[{"id":"a","data":{"s":"\\\\\\"]"}},{"id":"b","data":{}}]';
    const whole = new JsonArraySplitter().push(text);
    for (let size = 1; size < text.length; size++) {
      const splitter = new JsonArraySplitter();
      const parts: string[] = [];
      for (let i = 0; i < text.length; i += size) parts.push(...splitter.push(text.slice(i, i + size)).map((e) => e.text));
      splitter.end();
      expect(parts).toEqual(whole.map((e) => e.text));
    }
  });

  it('JSON array: a truncated file is an error', async () => {
    await expect(read('t.json', '[{"id":"a","data":{}},')).rejects.toThrow(/not closed/);
  });

  it('CSV: header row, id column, quoted cells with commas and newlines, bad rows reported', async () => {
    const lines = await read('a.csv', 'id,name,note\na,Alice,"hello, world"\nb,Bob,"two\nlines"\nc,too,many,cells\n,noid,x\nd,,\n');
    expect(lines).toEqual([
      { line: 2, record: { id: 'a', data: { name: 'Alice', note: 'hello, world' } } },
      { line: 4, record: { id: 'b', data: { name: 'Bob', note: 'two\nlines' } } },
      { line: 5, error: expect.stringContaining('invalid CSV') },
      { line: 6, error: 'empty "id"' },
      { line: 7, record: { id: 'd', data: {} } },
    ]);
  });

  it('toRecord: {id, data} as is, other objects become data', () => {
    expect(toRecord({ id: 'a', data: { x: 1 } })).toEqual({ id: 'a', data: { x: 1 } });
    expect(toRecord({ id: 'a', data: { x: 1 }, y: 2 })).toEqual({ id: 'a', data: { data: { x: 1 }, y: 2 } });
    expect(toRecord({ sku: 'k1', price: 3 }, 'sku')).toEqual({ id: 'k1', data: { price: 3 } });
    expect(toRecord({ name: 'x' })).toMatch(/no "id"/);
  });
});

describe('chunks', () => {
  it('≤ maxItems and ≤ maxBytes, in order, numbered, errors passed on', async () => {
    async function* source(): AsyncGenerator<ParsedLine> {
      for (let i = 1; i <= 2500; i++) yield i % 500 === 0 ? { line: i, error: 'bad' } : { line: i, record: { id: `i${i}`, data: { pad: 'x'.repeat(i % 7 === 0 ? 3000 : 10) } } };
    }
    const errors: number[] = [];
    const chunks = [];
    for await (const chunk of toChunks(source(), { maxItems: 1000, maxBytes: 200_000 }, (line) => errors.push(line))) chunks.push(chunk);
    expect(errors).toEqual([500, 1000, 1500, 2000, 2500]);
    expect(chunks.map((c) => c.seq)).toEqual(chunks.map((_, i) => i));
    expect(chunks.flatMap((c) => c.lines)).toEqual(Array.from({ length: 2500 }, (_, i) => i + 1).filter((i) => i % 500 !== 0));
    for (const chunk of chunks) {
      expect(chunk.items.length).toBeLessThanOrEqual(1000);
      expect(chunk.bytes).toBeLessThanOrEqual(200_000);
    }
  });

  it('acknowledged chunk ranges merge', () => {
    let acked: Array<[number, number]> = [];
    for (const seq of [3, 1, 2, 7, 0, 5, 6]) acked = addAcked(acked, seq);
    expect(acked).toEqual([
      [0, 3],
      [5, 7],
    ]);
    expect(isAcked(acked, 4)).toBe(false);
    expect(isAcked(acked, 6)).toBe(true);
  });
});

describe('progress', () => {
  it('renders a bar with items/s and ETA on a terminal, plain lines otherwise', async () => {
    const { Progress, formatDuration, renderBar } = await import('../../scripts/import/progress.ts');
    expect(renderBar(0.5, 10)).toBe('[#####-----]');
    expect(formatDuration(75)).toBe('1m15s');
    expect(formatDuration(Number.NaN)).toBe('--');
    const written: string[] = [];
    const plain = new Progress({ isTTY: false, write: (text: string) => written.push(text) > 0 }, 0);
    plain.update({ label: 'upload', fraction: 0.25, items: 2500 });
    plain.stop();
    expect(written[0]).toMatch(/^upload \[#{6}-{18}\] {2}25\.0% 2,500 items \d[\d,]* items\/s ETA \S+\n$/);
    expect(written.every((line) => !line.includes('\r'))).toBe(true);
  });
});
