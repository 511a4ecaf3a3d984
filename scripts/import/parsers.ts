/**
 * Streaming readers for the import CLI: a JSON array, NDJSON (JSON Lines) or CSV file of
 * any size, read with constant memory, yielding one record at a time with the line it
 * starts on. A record that cannot be read is yielded as an error with its line, and the
 * reading goes on.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parse as parseCsv } from 'csv-parse';

export type Format = 'json' | 'ndjson' | 'csv';

export interface ImportRecord {
  id: string;
  data: Record<string, unknown>;
}

export type ParsedLine = { line: number; record: ImportRecord } | { line: number; error: string };

export interface ReadOptions {
  /** The field holding the item id (default `id`). */
  idField?: string;
  /** Called with the number of bytes read so far (for progress). */
  onBytes?: (bytes: number) => void;
}

export function formatOf(path: string, explicit?: string): Format {
  if (explicit) {
    if (explicit === 'json' || explicit === 'ndjson' || explicit === 'csv') return explicit;
    if (explicit === 'jsonl') return 'ndjson';
    throw new Error(`unknown format ${explicit}: use json, ndjson or csv`);
  }
  if (/\.csv$/i.test(path)) return 'csv';
  if (/\.(ndjson|jsonl)$/i.test(path)) return 'ndjson';
  if (/\.json$/i.test(path)) return 'json';
  throw new Error(`cannot tell the format of ${path} from its name: pass --format json|ndjson|csv`);
}

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * A parsed JSON value as an import record: `{id, data}` as is, or any object with an id
 * field, whose other fields become the data.
 */
export function toRecord(value: unknown, idField = 'id'): ImportRecord | string {
  if (!isObject(value)) return 'not a JSON object';
  const id = value[idField];
  if (typeof id !== 'string' && typeof id !== 'number') return `no "${idField}" field (string or number)`;
  const keys = Object.keys(value);
  if (idField === 'id' && keys.length === 2 && keys.includes('data') && isObject(value.data)) return { id: String(id), data: value.data };
  const { [idField]: _id, ...data } = value;
  return { id: String(id), data };
}

function fromJsonText(text: string, line: number, idField: string): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { line, error: `invalid JSON: ${(error as Error).message}` };
  }
  const record = toRecord(value, idField);
  return typeof record === 'string' ? { line, error: record } : { line, record };
}

function countingStream(path: string, onBytes?: (bytes: number) => void) {
  const stream = createReadStream(path);
  if (onBytes) {
    let bytes = 0;
    stream.on('data', (chunk) => {
      bytes += chunk.length;
      onBytes(bytes);
    });
  }
  return stream;
}

export async function* readNdjson(path: string, options: ReadOptions = {}): AsyncGenerator<ParsedLine> {
  const lines = createInterface({ input: countingStream(path, options.onBytes), crlfDelay: Infinity });
  let line = 0;
  for await (const text of lines) {
    line++;
    if (text.trim() === '') continue;
    yield fromJsonText(text, line, options.idField ?? 'id');
  }
}

/**
 * Splits the text of a top-level JSON array into its elements' texts, incrementally: feed
 * it chunks, it returns the elements completed so far with the line each starts on.
 */
export class JsonArraySplitter {
  private depth = 0;
  private inString = false;
  private escaped = false;
  private started = false;
  private elementStarted = false;
  private ended = false;
  private current = '';
  private currentLine = 0;
  private line = 1;

  push(chunk: string): Array<{ text: string; line: number }> {
    const out: Array<{ text: string; line: number }> = [];
    let from = 0;
    const flush = (to: number) => {
      this.current += chunk.slice(from, to);
      from = to + 1;
      const text = this.current.trim();
      if (text !== '') out.push({ text, line: this.currentLine });
      this.current = '';
    };
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (c === '\n') this.line++;
      if (this.ended) continue;
      if (!this.started) {
        if (c === '[') {
          this.started = true;
          from = i + 1;
        } else if (!/\s/.test(c) && c !== '\ufeff') throw new Error(`line ${this.line}: a JSON array must start with [`);
        continue;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === '\\') this.escaped = true;
        else if (c === '"') this.inString = false;
        continue;
      }
      if (this.depth === 0) {
        if (c === ',' || c === ']') {
          flush(i);
          this.elementStarted = false;
          if (c === ']') this.ended = true;
          continue;
        }
        if (!this.elementStarted && !/\s/.test(c)) {
          this.elementStarted = true;
          this.currentLine = this.line;
        }
      }
      if (c === '"') this.inString = true;
      else if (c === '{' || c === '[') this.depth++;
      else if (c === '}' || c === ']') this.depth--;
    }
    if (!this.ended) this.current += chunk.slice(from);
    return out;
  }

  /** Call at the end of the input: throws when the array was never closed. */
  end(): void {
    if (!this.started) throw new Error('the file holds no JSON array');
    if (!this.ended) throw new Error(`line ${this.line}: the JSON array is not closed (truncated file?)`);
  }
}

export async function* readJsonArray(path: string, options: ReadOptions = {}): AsyncGenerator<ParsedLine> {
  const splitter = new JsonArraySplitter();
  const stream = countingStream(path, options.onBytes);
  stream.setEncoding('utf8');
  for await (const chunk of stream as AsyncIterable<string>) {
    for (const element of splitter.push(chunk)) yield fromJsonText(element.text, element.line, options.idField ?? 'id');
  }
  splitter.end();
}

/**
 * CSV with a header row; the id column (default `id`) is the item id, every other non-empty
 * cell becomes a string field of data. Rows csv-parse cannot read are reported, not fatal.
 */
export async function* readCsv(path: string, options: ReadOptions = {}): AsyncGenerator<ParsedLine> {
  const idField = options.idField ?? 'id';
  const skipped: ParsedLine[] = [];
  const parser = countingStream(path, options.onBytes).pipe(
    parseCsv({ columns: true, bom: true, skip_empty_lines: true, skip_records_with_error: true, info: true, relax_quotes: false, trim: false }),
  );
  parser.on('skip', (error: Error & { lines?: number }) => skipped.push({ line: error.lines ?? 0, error: `invalid CSV: ${error.message}` }));
  let checkedHeader = false;
  for await (const entry of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
    const { record, info } = entry;
    // The parser reports skipped rows ahead of the records it has buffered: keep file order.
    while (skipped.length > 0 && skipped[0]!.line < info.lines) yield skipped.shift()!;
    if (!checkedHeader) {
      checkedHeader = true;
      if (!(idField in record)) throw new Error(`the CSV header has no "${idField}" column`);
    }
    const { [idField]: id, ...rest } = record;
    const data: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(rest)) if (value !== '') data[key] = value;
    if (!id) yield { line: info.lines, error: `empty "${idField}"` };
    else yield { line: info.lines, record: { id, data } };
  }
  while (skipped.length > 0) yield skipped.shift()!;
}

export function readRecords(path: string, format: Format, options: ReadOptions = {}): AsyncGenerator<ParsedLine> {
  switch (format) {
    case 'json':
      return readJsonArray(path, options);
    case 'ndjson':
      return readNdjson(path, options);
    case 'csv':
      return readCsv(path, options);
  }
}
