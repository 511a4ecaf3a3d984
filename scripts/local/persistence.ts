/**
 * Keeps the local stack's data across restarts. moto holds everything in memory, so we
 * snapshot what matters into `.local/state/`:
 *
 * - every table (Scan), as DynamoDB JSON (binary values tagged `{"$b64": ...}`);
 * - the messages of every DLQ (`<queue>-dlq`, `<queue>-delivery-dlq`), periodically;
 * - at shutdown, after the pollers have stopped, the visible messages of the source queues
 *   too, so nothing queued is lost by a restart.
 *
 * A snapshot is a directory written whole and then swapped in, so it is never half old and
 * half new: `snapshot.partial/` is written (files, then `manifest.json` with each file's
 * SHA-256, last), the current `snapshot/` becomes `snapshot.previous/`, and the partial one
 * becomes `snapshot/`. A process killed at any point leaves `snapshot/` or
 * `snapshot.previous/` complete; restore takes the newest complete one. A restore that
 * cannot write an item back stops and names it (the snapshot is not touched), unless told
 * to move such items to `quarantine/<time>.json` and go on; a store that has not restored
 * fully never saves, so a failed start cannot overwrite the snapshot.
 *
 * Queues have no "peek": messages are received with a visibility timeout and made visible
 * again at once (ApproximateReceiveCount goes up by one; the periodic snapshot therefore
 * never reads a source queue, whose redrive counts receives). Restore re-sends them.
 */
import { createHash } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BatchWriteItemCommand, PutItemCommand, ScanCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { ProvisionedStack } from './provision.ts';
import { queues, ruleTargetQueues, tables, type QueueName, type TableName } from './topology.ts';

export interface PersistenceClients {
  dynamodb: DynamoDBClient;
  sqs: SQSClient;
}

interface SavedMessage {
  body: string;
  messageAttributes?: Record<string, unknown>;
}

type QueueKey = QueueName | `${QueueName}-dlq` | `${QueueName}-delivery-dlq`;

export function deadLetterQueues(): QueueKey[] {
  const targets = new Set<QueueName>(ruleTargetQueues());
  return (Object.keys(queues) as QueueName[]).flatMap((q): QueueKey[] => (targets.has(q) ? [`${q}-dlq`, `${q}-delivery-dlq`] : [`${q}-dlq`]));
}

/** Binary attribute values as `{"$b64": "..."}`, so a snapshot is plain JSON. */
function encode(value: unknown): unknown {
  if (value instanceof Uint8Array) return { $b64: Buffer.from(value).toString('base64') };
  if (Array.isArray(value)) return value.map(encode);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encode(v)]));
  return value;
}

function decode(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decode);
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 1 && entries[0]![0] === '$b64' && typeof entries[0]![1] === 'string') return new Uint8Array(Buffer.from(entries[0]![1], 'base64'));
    return Object.fromEntries(entries.map(([k, v]) => [k, decode(v)]));
  }
  return value;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function scanTable(dynamodb: DynamoDBClient, tableName: string): Promise<Array<Record<string, AttributeValue>>> {
  const items: Array<Record<string, AttributeValue>> = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamodb.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: start, ConsistentRead: true }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

async function queueDepth(sqs: SQSClient, url: string): Promise<number> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
}

/** Reads every visible message of a queue and leaves them all visible again. */
async function readQueue(sqs: SQSClient, url: string): Promise<SavedMessage[]> {
  const seen = new Map<string, SavedMessage>();
  const handles: string[] = [];
  try {
    for (;;) {
      const { Messages } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 60, MessageAttributeNames: ['All'] }),
      );
      if (!Messages?.length) break;
      for (const m of Messages) {
        if (m.ReceiptHandle) handles.push(m.ReceiptHandle);
        if (!m.MessageId || seen.has(m.MessageId)) continue;
        seen.set(m.MessageId, {
          body: m.Body ?? '',
          ...(m.MessageAttributes && Object.keys(m.MessageAttributes).length > 0 ? { messageAttributes: encode(m.MessageAttributes) as Record<string, unknown> } : {}),
        });
      }
    }
  } finally {
    for (let i = 0; i < handles.length; i += 10) {
      await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: url,
          Entries: handles.slice(i, i + 10).map((ReceiptHandle, n) => ({ Id: String(n), ReceiptHandle, VisibilityTimeout: 0 })),
        }),
      );
    }
  }
  return [...seen.values()];
}

/** One item or message the emulator would not take back, with why, in words. */
export interface Unrestorable {
  /** `tables/data.json` or `queues/import-dlq.json`. */
  file: string;
  /** Position in that file. */
  index: number;
  /** `table data, item pk="…" sk="…"` or `queue import-dlq, message 3`. */
  what: string;
  reason: string;
  /** The entry as the snapshot holds it (for the quarantine file). */
  entry: unknown;
}

/** Thrown by restore() when something cannot be restored and skipping was not asked for. */
export class UnrestorableStateError extends Error {
  constructor(
    readonly snapshot: string,
    readonly unrestorable: Unrestorable[],
  ) {
    const shown = unrestorable.slice(0, 20).map((u) => `  - ${u.what} (${u.file} #${u.index}): ${u.reason}`);
    const more = unrestorable.length > shown.length ? [`  ... and ${unrestorable.length - shown.length} more`] : [];
    super(
      [
        `could not restore ${unrestorable.length} ${unrestorable.length === 1 ? 'entry' : 'entries'} of the saved state in ${snapshot}; it is left as it was:`,
        ...shown,
        ...more,
        'Start with --skip-unrestorable to move them to a quarantine file and start with everything else, or with --reset to start empty.',
      ].join('\n'),
    );
    this.name = 'UnrestorableStateError';
  }
}

export interface RestoreResult {
  items: number;
  messages: number;
  /**
   * Which snapshot was read: `snapshot`; `snapshot.partial` (a save finished but was killed
   * while putting it in place); `snapshot.previous` (the newest was incomplete); `legacy` (the
   * flat layout before snapshots were directories); or none.
   */
  from: 'snapshot' | 'snapshot.partial' | 'snapshot.previous' | 'legacy' | 'none';
  /** Set when entries were skipped (`skipUnrestorable`): where they went, and how many. */
  quarantined?: { file: string; count: number };
}

export interface StateStore {
  /** Writes a snapshot of the tables and DLQs (and, with `sourceQueues`, the source queues) when anything changed; `written` lists what changed. Refuses (throws) until restore() or clear() succeeded. */
  save(options?: { sourceQueues?: boolean }): Promise<{ written: string[] }>;
  /**
   * Loads the newest complete snapshot into freshly provisioned resources. Queues that are not
   * empty are left alone. Entries the emulator refuses make it throw UnrestorableStateError,
   * or, with `skipUnrestorable`, go to a quarantine file while everything else is restored.
   */
  restore(options?: { skipUnrestorable?: boolean }): Promise<RestoreResult>;
  /** Deletes the snapshots (`--reset`); quarantine files stay. */
  clear(): void;
  /** Saves every `intervalMs` until stop(); errors are logged, never thrown. */
  startPeriodic(intervalMs: number, log: (line: string) => void): { stop(): Promise<void> };
}

const CURRENT = 'snapshot';
const PREVIOUS = 'snapshot.previous';
const PARTIAL = 'snapshot.partial';
const MANIFEST = 'manifest.json';

interface Manifest {
  version: 1;
  savedAt: string;
  /** Path inside the snapshot → SHA-256 (hex) of its content. */
  files: Record<string, string>;
}

const sha256 = (content: string | Buffer) => createHash('sha256').update(content).digest('hex');

/** The snapshot in `dir` if its manifest is there and every file matches it; else why not. */
function readSnapshot(dir: string): { manifest: Manifest } | { problem: string } {
  const manifestFile = join(dir, MANIFEST);
  if (!existsSync(manifestFile)) return { problem: existsSync(dir) ? 'it has no manifest (its save did not finish)' : 'there is none' };
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
  } catch (error) {
    return { problem: `its manifest is not JSON (${String(error)})` };
  }
  for (const [file, hash] of Object.entries(manifest.files ?? {})) {
    const path = join(dir, file);
    if (!existsSync(path)) return { problem: `${file} is missing` };
    if (sha256(readFileSync(path)) !== hash) return { problem: `${file} does not match its checksum` };
  }
  return { manifest };
}

const TYPE_KEYS = new Set(['S', 'N', 'B', 'BOOL', 'NULL', 'M', 'L', 'SS', 'NS', 'BS']);

/**
 * What is wrong with a saved attribute value, in words (undefined when it is well-formed).
 * Catches what the emulator would answer with an error page instead of a reason.
 */
function attributeValueProblem(value: unknown, path: string): string | undefined {
  const shown = () => JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? '<binary>' : v))?.slice(0, 80);
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) {
    return `${path} is ${shown()}, not a DynamoDB attribute value (an object with one type such as {"S": "..."})`;
  }
  const entries = Object.entries(value);
  if (entries.length !== 1 || !TYPE_KEYS.has(entries[0]![0])) {
    return `${path} is ${shown()}, not a DynamoDB attribute value (an object with exactly one of ${[...TYPE_KEYS].join(', ')})`;
  }
  const [type, inner] = entries[0]!;
  const wrong = (expected: string) => `${path} has type ${type} but its value ${shown()} is not ${expected}`;
  switch (type) {
    case 'S':
      return typeof inner === 'string' ? undefined : wrong('a string');
    case 'N':
      return typeof inner === 'string' && inner.trim() !== '' && Number.isFinite(Number(inner)) ? undefined : wrong('a number written as a string');
    case 'B':
      return inner instanceof Uint8Array ? undefined : wrong('binary');
    case 'BOOL':
      return typeof inner === 'boolean' ? undefined : wrong('true or false');
    case 'NULL':
      return inner === true ? undefined : wrong('true');
    case 'SS':
    case 'NS':
    case 'BS':
      return Array.isArray(inner) && inner.length > 0 ? undefined : wrong('a non-empty list');
    case 'L':
      if (!Array.isArray(inner)) return wrong('a list');
      for (const [i, child] of inner.entries()) {
        const problem = attributeValueProblem(child, `${path}[${i}]`);
        if (problem) return problem;
      }
      return undefined;
    default: // M
      if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) return wrong('a map');
      for (const [name, child] of Object.entries(inner)) {
        const problem = attributeValueProblem(child, `${path}.${name === '' ? '""' : name}`);
        if (problem) return problem;
      }
      return undefined;
  }
}

function itemProblem(item: Record<string, AttributeValue>): string | undefined {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) return 'it is not an object of attributes';
  for (const [name, value] of Object.entries(item)) {
    const problem = attributeValueProblem(value, name);
    if (problem) return problem;
  }
  return undefined;
}

function describeItem(table: TableName, item: Record<string, AttributeValue>): string {
  const key = ['pk', 'sk']
    .map((name) => {
      const value = (item as Record<string, unknown> | null)?.[name] as { S?: unknown } | undefined;
      return typeof value?.S === 'string' ? `${name}=${JSON.stringify(value.S)}` : undefined;
    })
    .filter(Boolean);
  return `table ${table}, item ${key.length > 0 ? key.join(' ') : '(no pk/sk)'}`;
}

/** Why the emulator refused a request, in words: its message, or what came back when there was none. */
function refusal(error: unknown): string {
  const e = error as { name?: string; message?: string; $response?: { statusCode?: number }; $metadata?: { httpStatusCode?: number } };
  const status = e.$response?.statusCode ?? e.$metadata?.httpStatusCode;
  if (e.message?.includes('Deserialization error') || e.message?.startsWith('Unexpected token')) {
    return `the emulator refused it without a reason (HTTP ${status ?? '?'}, an error page instead of an answer)`;
  }
  return `the emulator refused it: ${e.name && e.name !== 'Error' ? `${e.name}: ` : ''}${e.message ?? String(error)}`;
}

/** A pause (and a line on stderr) after each file of a save, so a test can interrupt one half-way (never set otherwise). */
const savePauseMs = () => Number(process.env.EVENT_FLOWS_STATE_SAVE_PAUSE_MS ?? 0);

export function stateStore(dir: string, stack: ProvisionedStack, clients: PersistenceClients): StateStore {
  /** Hashes of the files in `snapshot/` as last read or written; undefined until known. */
  let currentFiles: Record<string, string> | undefined;
  /** Whether `snapshot/` is complete (then a save keeps it as previous; otherwise it is dropped). */
  let currentComplete = false;
  /** Saving is allowed once the state in the emulator is known to be the whole snapshot (or reset). */
  let restoredFully = false;
  const tableFile = (t: TableName) => `tables/${t}.json`;
  const queueFile = (q: QueueKey) => `queues/${q}.json`;

  const filesOfCurrent = (): Record<string, string> => currentFiles ?? {};

  /** Writes `contents` (with the current snapshot's other files) as the new snapshot, whole, and keeps the old one as previous. */
  const writeSnapshot = async (contents: Map<string, string>): Promise<void> => {
    const partial = join(dir, PARTIAL);
    const current = join(dir, CURRENT);
    const previous = join(dir, PREVIOUS);
    rmSync(partial, { recursive: true, force: true });
    const carried = filesOfCurrent();
    const files: Record<string, string> = {};
    for (const [file, hash] of Object.entries(carried)) {
      if (contents.has(file)) continue;
      // Files this save did not read (source queues between shutdowns) come along unchanged.
      mkdirSync(join(partial, file, '..'), { recursive: true });
      linkSync(join(current, file), join(partial, file));
      files[file] = hash;
    }
    for (const [file, content] of contents) {
      mkdirSync(join(partial, file, '..'), { recursive: true });
      writeFileSync(join(partial, file), content);
      files[file] = sha256(content);
      if (savePauseMs() > 0) {
        console.error(`state: wrote ${file} of an unfinished snapshot; pausing ${savePauseMs()} ms`);
        await sleep(savePauseMs());
      }
    }
    const manifest: Manifest = { version: 1, savedAt: new Date().toISOString(), files };
    writeFileSync(join(partial, MANIFEST), JSON.stringify(manifest, null, 1));
    // Swap: a complete current becomes previous (an incomplete one is dropped), partial becomes current.
    if (currentComplete) {
      rmSync(previous, { recursive: true, force: true });
      renameSync(current, previous);
    } else {
      rmSync(current, { recursive: true, force: true });
    }
    renameSync(partial, current);
    currentFiles = files;
    currentComplete = true;
    // The flat layout of earlier versions, restored from and now superseded.
    for (const legacy of ['tables', 'queues']) rmSync(join(dir, legacy), { recursive: true, force: true });
  };

  const save: StateStore['save'] = async (options = {}) => {
    if (!restoredFully) throw new Error(`not saving: the saved state was not fully restored, and ${join(dir, CURRENT)} is kept as it is`);
    const contents = new Map<string, string>();
    for (const t of Object.keys(tables) as TableName[]) {
      contents.set(tableFile(t), JSON.stringify(encode(await scanTable(clients.dynamodb, stack.tableName(t)))));
    }
    const queueKeys: QueueKey[] = [...(options.sourceQueues ? (Object.keys(queues) as QueueName[]) : []), ...deadLetterQueues()];
    for (const q of queueKeys) {
      const url = stack.queueUrl(q);
      // An empty queue needs no receive round-trip.
      contents.set(queueFile(q), (await queueDepth(clients.sqs, url)) === 0 ? '[]' : JSON.stringify(await readQueue(clients.sqs, url)));
    }
    const current = filesOfCurrent();
    const written = [...contents].filter(([file, content]) => current[file] !== sha256(content)).map(([file]) => file.replace(/\.json$/, ''));
    if (written.length > 0) await writeSnapshot(contents);
    return { written };
  };

  /** Puts items back, 25 a call; a call that fails is retried item by item to find which ones the emulator refuses. */
  const restoreItems = async (table: TableName, file: string, saved: Array<Record<string, AttributeValue>>, refused: Unrestorable[]): Promise<number> => {
    let restored = 0;
    const refuse = (index: number, reason: string) => refused.push({ file, index, what: describeItem(table, saved[index]!), reason, entry: encode(saved[index]) });
    for (let start = 0; start < saved.length; start += 25) {
      const batch: number[] = [];
      for (let i = start; i < Math.min(start + 25, saved.length); i++) {
        const problem = itemProblem(saved[i]!);
        if (problem) refuse(i, problem);
        else batch.push(i);
      }
      if (batch.length === 0) continue;
      try {
        let requests: Record<string, Array<{ PutRequest: { Item: Record<string, AttributeValue> } }>> | undefined = {
          [stack.tableName(table)]: batch.map((i) => ({ PutRequest: { Item: saved[i]! } })),
        };
        for (let attempt = 0; requests && Object.keys(requests).length > 0; attempt++) {
          if (attempt > 0) await sleep(Math.min(1000, 50 * 2 ** attempt));
          const result = await clients.dynamodb.send(new BatchWriteItemCommand({ RequestItems: requests }));
          requests = result.UnprocessedItems as typeof requests;
        }
        restored += batch.length;
      } catch {
        for (const i of batch) {
          try {
            await clients.dynamodb.send(new PutItemCommand({ TableName: stack.tableName(table), Item: saved[i]! }));
            restored++;
          } catch (error) {
            refuse(i, refusal(error));
          }
        }
      }
    }
    return restored;
  };

  const restoreMessages = async (q: QueueKey, file: string, saved: SavedMessage[], refused: Unrestorable[]): Promise<number> => {
    let restored = 0;
    for (let start = 0; start < saved.length; start += 10) {
      const batch = saved.slice(start, start + 10);
      const refuse = (n: number, reason: string) => refused.push({ file, index: start + n, what: `queue ${q}, message ${start + n}`, reason, entry: batch[n] });
      try {
        const result = await clients.sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: stack.queueUrl(q),
            Entries: batch.map((m, n) => ({
              Id: String(n),
              MessageBody: m.body,
              ...(m.messageAttributes ? { MessageAttributes: decode(m.messageAttributes) as Record<string, MessageAttributeValue> } : {}),
            })),
          }),
        );
        for (const failed of result.Failed ?? []) refuse(Number(failed.Id), `the emulator refused it: ${failed.Code ?? ''} ${failed.Message ?? ''}`.trim());
        restored += batch.length - (result.Failed?.length ?? 0);
      } catch (error) {
        batch.forEach((_m, n) => refuse(n, refusal(error)));
      }
    }
    return restored;
  };

  const restore: StateStore['restore'] = async (options = {}) => {
    // The newest complete snapshot: snapshot/, else snapshot.previous/, else the old flat layout.
    // The newest complete snapshot: snapshot/; a finished snapshot.partial/ (killed while
    // swapping it in); snapshot.previous/; the flat layout of earlier versions.
    let source: { root: string; from: RestoreResult['from']; files: Record<string, string> } = { root: dir, from: 'none', files: {} };
    for (const name of [CURRENT, PARTIAL, PREVIOUS] as const) {
      const read = readSnapshot(join(dir, name));
      if ('manifest' in read) {
        source = { root: join(dir, name), from: name, files: read.manifest.files };
        break;
      }
    }
    if (source.from === 'none' && (existsSync(join(dir, 'tables')) || existsSync(join(dir, 'queues')))) source = { root: dir, from: 'legacy', files: {} };
    const has = (file: string) => (source.from === 'legacy' ? existsSync(join(source.root, file)) : file in source.files);

    let items = 0;
    let messages = 0;
    const refused: Unrestorable[] = [];
    for (const t of Object.keys(tables) as TableName[]) {
      const file = tableFile(t);
      if (!has(file)) continue;
      const saved = decode(JSON.parse(readFileSync(join(source.root, file), 'utf8'))) as Array<Record<string, AttributeValue>>;
      items += await restoreItems(t, file, saved, refused);
    }
    for (const q of [...(Object.keys(queues) as QueueName[]), ...deadLetterQueues()] as QueueKey[]) {
      const file = queueFile(q);
      if (!has(file)) continue;
      const saved = JSON.parse(readFileSync(join(source.root, file), 'utf8')) as SavedMessage[];
      if (saved.length === 0 || (await queueDepth(clients.sqs, stack.queueUrl(q))) > 0) continue;
      messages += await restoreMessages(q, file, saved, refused);
    }
    const result: RestoreResult = { items, messages, from: source.from };
    if (refused.length > 0) {
      if (!options.skipUnrestorable) throw new UnrestorableStateError(source.root, refused);
      const quarantine = join(dir, 'quarantine', `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
      mkdirSync(join(quarantine, '..'), { recursive: true });
      writeFileSync(quarantine, JSON.stringify({ snapshot: source.root, at: new Date().toISOString(), entries: refused.map(({ entry, ...about }) => ({ ...about, entry })) }, null, 1));
      result.quarantined = { file: quarantine, count: refused.length };
    }
    // Restored: the snapshot read becomes the current one (a finished partial is put in place,
    // an unfinished one removed), and the next save compares with it.
    if (source.from === PARTIAL) {
      rmSync(join(dir, CURRENT), { recursive: true, force: true });
      renameSync(join(dir, PARTIAL), join(dir, CURRENT));
    }
    rmSync(join(dir, PARTIAL), { recursive: true, force: true });
    currentComplete = source.from === CURRENT || source.from === PARTIAL;
    currentFiles = currentComplete ? source.files : {};
    restoredFully = true;
    return result;
  };

  return {
    save,
    restore,
    clear: () => {
      for (const name of [CURRENT, PREVIOUS, PARTIAL, 'tables', 'queues']) rmSync(join(dir, name), { recursive: true, force: true });
      currentFiles = {};
      currentComplete = false;
      restoredFully = true;
    },
    startPeriodic: (intervalMs, log) => {
      let current: Promise<unknown> = Promise.resolve();
      const timer = setInterval(() => {
        current = current.then(() => save()).catch((error: unknown) => log(`state snapshot failed: ${String(error)}`));
      }, intervalMs);
      timer.unref();
      return {
        stop: async () => {
          clearInterval(timer);
          await current;
        },
      };
    },
  };
}
