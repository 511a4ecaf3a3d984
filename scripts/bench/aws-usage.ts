/**
 * What each logical operation asks of AWS, counted by an SDK middleware added (by the
 * benchmark process only) to the clients of functions/shared/aws-clients.ts and to any other
 * client the benchmark drives (the local event source mapping's SQS client, standing for
 * Lambda's pollers): every call per operation, its request and response bytes, and what AWS
 * bills for it: DynamoDB read and write units, EventBridge and SQS 64 KB chunks.
 *
 * DynamoDB units are computed with DynamoDB's rules (./write-units.ts), not taken from
 * `ReturnConsumedCapacity`: the emulator answers it with a fixed 0.5 or 1 per call whatever
 * the item sizes, indexes or transactions. For a write the middleware reads each written
 * item before and after the call, with its own client (not counted), so an update is charged
 * for the larger of the two images and its index entries as DynamoDB charges them.
 *
 *   const usage = new UsageRecorder(tables); usage.attach(dynamo()); ...
 *   const { result, usage: spent } = await usage.measure(() => work());
 */
import { Readable } from 'node:stream';
import { DynamoDBClient, GetItemCommand, type AttributeValue, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { HandlerExecutionContext, MetadataBearer, MiddlewareStack } from '@smithy/types';
import { entrySize } from '../../functions/shared/events/publisher.ts';
import { dynamoItemSize } from '../../functions/shared/dynamo-size.ts';
import type { ProvisionedStack } from '../local/provision.ts';
import { tables, type TableName } from '../local/topology.ts';
import { indexEntryWrites, readUnits, tableWriteUnits, writeUnits, type ReadMode, type TableShape } from './write-units.ts';

export interface CallCount {
  calls: number;
  requestBytes: number;
  responseBytes: number;
}

export interface Usage {
  /** Per `<service>.<operation>` (every attempt the SDK made counts as a call). */
  calls: Record<string, CallCount>;
  writeUnits: number;
  readUnits: number;
  /** Billed PutEvents entries: each entry per started 64 KB. */
  eventBridgeChunks: number;
  /** Billed SQS requests: each request per started 64 KB of payload. */
  sqsChunks: number;
}

export const emptyUsage = (): Usage => ({ calls: {}, writeUnits: 0, readUnits: 0, eventBridgeChunks: 0, sqsChunks: 0 });

/** a + b, for summing the usage of several measured parts. */
export function addUsage(a: Usage, b: Usage): Usage {
  const calls: Record<string, CallCount> = structuredClone(a.calls);
  for (const [name, c] of Object.entries(b.calls)) {
    const into = (calls[name] ??= { calls: 0, requestBytes: 0, responseBytes: 0 });
    into.calls += c.calls;
    into.requestBytes += c.requestBytes;
    into.responseBytes += c.responseBytes;
  }
  return { calls, writeUnits: a.writeUnits + b.writeUnits, readUnits: a.readUnits + b.readUnits, eventBridgeChunks: a.eventBridgeChunks + b.eventBridgeChunks, sqsChunks: a.sqsChunks + b.sqsChunks };
}

/** usage / n: per operation when n operations were measured together. */
export function perOperation(usage: Usage, n: number): Usage {
  const calls = Object.fromEntries(Object.entries(usage.calls).map(([name, c]) => [name, { calls: c.calls / n, requestBytes: c.requestBytes / n, responseBytes: c.responseBytes / n }]));
  return { calls, writeUnits: usage.writeUnits / n, readUnits: usage.readUnits / n, eventBridgeChunks: usage.eventBridgeChunks / n, sqsChunks: usage.sqsChunks / n };
}

/** Each table's shape (keys, indexes) under its deployed name in `stack`. */
export function tableShapesOf(stack: Pick<ProvisionedStack, 'tableName'>): Record<string, TableShape> {
  return Object.fromEntries((Object.keys(tables) as TableName[]).map((name) => [stack.tableName(name), tables[name]]));
}

export const totalCalls = (usage: Usage) => Object.values(usage.calls).reduce((sum, c) => sum + c.calls, 0);

const CHUNK = 64 * 1024;
const chunks = (bytes: number) => Math.max(1, Math.ceil(bytes / CHUNK));
type Wire = Record<string, AttributeValue>;
type Item = Record<string, unknown>;

/** One item a write touches: its table, key, whether the write is transactional, and (for a Put) the item written. */
interface Written {
  table: string;
  key: Wire;
  transactional: boolean;
  put?: Wire;
  /** A Put on the condition that the item does not exist yet: nothing to replace. */
  createOnly?: boolean;
  /** Position in a TransactWriteItems. */
  action?: number;
}

/** The items a DynamoDB write request touches, from its wire form. */
function writtenItems(operation: string, body: Record<string, unknown>, keyOf: (table: string, item: Wire) => Wire): Written[] {
  switch (operation) {
    case 'PutItem':
      return [{ table: String(body.TableName), key: keyOf(String(body.TableName), body.Item as Wire), transactional: false, put: body.Item as Wire }];
    case 'UpdateItem':
    case 'DeleteItem':
      return [{ table: String(body.TableName), key: body.Key as Wire, transactional: false }];
    case 'TransactWriteItems':
      return (body.TransactItems as Array<Record<string, Record<string, unknown>>>).flatMap((action, position) => {
        const [kind, detail] = Object.entries(action)[0]!;
        const table = String(detail.TableName);
        const written = { table, transactional: true, action: position };
        const createOnly = /attribute_not_exists/.test(String(detail.ConditionExpression ?? ''));
        return kind === 'Put' ? [{ ...written, key: keyOf(table, detail.Item as Wire), put: detail.Item as Wire, createOnly }] : [{ ...written, key: detail.Key as Wire }];
      });
    case 'BatchWriteItem':
      return Object.entries(body.RequestItems as Record<string, Array<Record<string, Record<string, Wire>>>>).flatMap(([table, requests]) =>
        requests.map((r) => (r.PutRequest ? { table, key: keyOf(table, r.PutRequest.Item!), transactional: false, put: r.PutRequest.Item! } : { table, key: r.DeleteRequest!.Key!, transactional: false })),
      );
    default:
      return [];
  }
}

const sizeOfWire = (item: Wire) => dynamoItemSize(unmarshall(item));
const itemBytes = (items: Wire[]) => items.reduce((sum, item) => sum + sizeOfWire(item), 0);

/** Read units of a read response, from its wire form. */
function readUnitsOf(operation: string, request: Record<string, unknown>, response: Record<string, unknown>): number {
  const mode: ReadMode = request.ConsistentRead === true ? 'strong' : 'eventual';
  switch (operation) {
    case 'GetItem':
      return readUnits(response.Item ? sizeOfWire(response.Item as Wire) : 0, mode);
    case 'Query':
    case 'Scan': {
      // Units are for the items read, before any filter: the ones filtered out are counted at the returned items' mean size.
      const items = (response.Items as Wire[] | undefined) ?? [];
      const scanned = Number(response.ScannedCount ?? items.length);
      const mean = items.length > 0 ? itemBytes(items) / items.length : 0;
      return readUnits(itemBytes(items) + Math.max(0, scanned - items.length) * mean, mode);
    }
    case 'BatchGetItem': {
      const consistent = (table: string) => ((request.RequestItems as Record<string, { ConsistentRead?: boolean }>)[table]?.ConsistentRead ? 'strong' : 'eventual') as ReadMode;
      return Object.entries((response.Responses as Record<string, Wire[]>) ?? {}).reduce((sum, [table, items]) => sum + items.reduce((s, item) => s + readUnits(sizeOfWire(item), consistent(table)), 0), 0);
    }
    case 'TransactGetItems':
      return ((response.Responses as Array<{ Item?: Wire }>) ?? []).reduce((sum, r) => sum + readUnits(r.Item ? sizeOfWire(r.Item) : 0, 'transactional'), 0);
    default:
      return 0;
  }
}

/** Units one write costs one key (the fault proxy's capacity mode, tests/support/fault-proxy.ts). */
export interface KeyCharge {
  table: string;
  pk: string;
  sk?: string;
  units: number;
  action?: number;
}

/**
 * What a DynamoDB write request (wire form) costs each partition and item, before it is
 * sent: the items' images are read first (with `reader`, against the emulator itself). A Put
 * is charged for the larger of the stored and the new item, a Delete for the stored one; an
 * Update for the stored item (the new image is not known before it is applied: our ADD
 * updates grow an item by a few bytes, so this may miss a KB boundary now and then). A
 * stored image is read again after `rereadAfter` uses (the simulation's many updates of one
 * aggregate need not each read it); a create-only Put reads nothing, and with `fresh` nor does
 * the first write of an item.
 */
export function writeCharges(
  tables: Record<string, TableShape>,
  reader: DynamoDBClient,
  options: { rereadAfter?: number; /** Items not written through these charges yet do not exist (a fresh tenant): no read. */ fresh?: boolean } = {},
): (operation: string, body: Record<string, unknown>) => Promise<KeyCharge[]> {
  const rereadAfter = options.rereadAfter ?? 1;
  const images = new Map<string, { item: Record<string, unknown> | undefined; uses: number }>();
  const stored = async (w: Written) => {
    if (w.createOnly) return undefined;
    const id = `${w.table}|${JSON.stringify(w.key)}`;
    const known = images.get(id);
    if (!known && options.fresh) {
      images.set(id, { item: undefined, uses: 1 });
      return undefined;
    }
    if (known && known.uses < rereadAfter) {
      known.uses++;
      return known.item;
    }
    const { Item } = await reader.send(new GetItemCommand({ TableName: w.table, Key: w.key, ConsistentRead: true }));
    const item = Item ? unmarshall(Item) : undefined;
    images.set(id, { item, uses: 1 });
    return item;
  };
  const shape = (table: string) => {
    const found = tables[table];
    if (!found) throw new Error(`no table shape for ${table}`);
    return found;
  };
  const keyOf = (table: string, item: Wire): Wire => ({ [shape(table).hashKey]: item[shape(table).hashKey]!, [shape(table).rangeKey]: item[shape(table).rangeKey]! });
  return async (operation, body) => {
    const written = writtenItems(operation, body, keyOf);
    const charges = await Promise.all(
      written.map(async (w): Promise<KeyCharge[]> => {
        const before = await stored(w);
        const after = w.put ? unmarshall(w.put) : operation === 'DeleteItem' || (operation === 'BatchWriteItem' && !w.put) ? undefined : before;
        const key = unmarshall(w.key);
        const table = shape(w.table);
        const action = w.action !== undefined ? { action: w.action } : {};
        return [
          { table: w.table, pk: String(key[table.hashKey]), sk: String(key[table.rangeKey]), units: tableWriteUnits(before, after, w.transactional), ...action },
          ...indexEntryWrites(table, before, after).map((entry) => ({ table: `${w.table}/${entry.index}`, pk: String(entry.pk), units: entry.units, ...action })),
        ];
      }),
    );
    return charges.flat();
  };
}

interface RawRequest {
  headers: Record<string, string>;
  body?: unknown;
}
interface RawResponse {
  statusCode: number;
  body?: unknown;
}

async function bodyBytes(body: unknown): Promise<Uint8Array> {
  if (body === undefined || body === null) return new Uint8Array();
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return body;
  const parts: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Buffer | string>) parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(parts);
}

const parseJson = (bytes: Uint8Array): Record<string, unknown> => {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
};

export class UsageRecorder {
  private current: Usage | undefined;
  private readonly reader: DynamoDBClient;

  /** `tables`: the shape (keys, indexes) of each table, by its deployed name. */
  constructor(
    private readonly tables: Record<string, TableShape>,
    endpointConfig: DynamoDBClientConfig,
  ) {
    this.reader = new DynamoDBClient(endpointConfig);
  }

  /** Adds the counting middleware to a client (SDK v3: every client and DocumentClient exposes its stack). */
  attach(client: { middlewareStack: MiddlewareStack<object, MetadataBearer> }): void {
    const name = 'benchAwsUsage';
    client.middlewareStack.remove(name);
    client.middlewareStack.add(
      // Innermost (next to the wire): sees each attempt's raw request and response.
      (next, context: HandlerExecutionContext) => async (args) => {
        const usage = this.current;
        if (!usage) return next(args);
        const request = (args as { request: RawRequest }).request;
        const requestBody = await bodyBytes(request.body);
        const target = request.headers['x-amz-target'] ?? '';
        const service = target.startsWith('DynamoDB') ? 'DynamoDB' : target.startsWith('AWSEvents') ? 'EventBridge' : target.startsWith('AmazonSQS') ? 'SQS' : (context.clientName ?? 'unknown').replace(/Client$/, '');
        const operation = target.split('.')[1] ?? String(context.commandName).replace(/Command$/, '');
        const input = parseJson(requestBody);
        const written = service === 'DynamoDB' ? writtenItems(operation, input, (table, item) => this.keyOf(table, item)) : [];
        const before = await Promise.all(written.map((w) => this.image(w)));
        let result: { response: RawResponse };
        try {
          result = (await next(args)) as { response: RawResponse };
        } catch (error) {
          this.count(usage, `${service}.${operation}`, requestBody.length, 0);
          throw error;
        }
        const responseBody = await bodyBytes(result.response.body);
        result.response.body = Readable.from([responseBody]); // the SDK's deserializer reads it from here
        this.count(usage, `${service}.${operation}`, requestBody.length, responseBody.length);
        const ok = result.response.statusCode < 300;
        const output = parseJson(responseBody);
        if (service === 'DynamoDB') {
          if (ok) usage.readUnits += readUnitsOf(operation, input, output);
          const throttled = !ok && /Throughput|Throttl|RequestLimit/.test(String(output.__type));
          if (!throttled) {
            // A refused condition or a cancelled transaction is charged too, for the item as it stands.
            const after = ok ? await Promise.all(written.map((w) => this.image(w))) : before;
            written.forEach((w, i) => (usage.writeUnits += writeUnits(this.shape(w.table), before[i], after[i], w.transactional)));
          }
        }
        if (service === 'EventBridge' && operation === 'PutEvents') {
          for (const entry of (input.Entries as Array<Record<string, unknown>>) ?? []) usage.eventBridgeChunks += chunks(entrySize(entry));
        }
        if (service === 'SQS') usage.sqsChunks += chunks(Math.max(requestBody.length, responseBody.length));
        return result as never;
      },
      { step: 'deserialize', priority: 'low', name },
    );
  }

  /** Runs `work` and returns what it used (calls made meanwhile by anything attached count). */
  async measure<T>(work: () => Promise<T>): Promise<{ result: T; usage: Usage }> {
    const previous = this.current;
    const usage = emptyUsage();
    this.current = usage;
    try {
      const result = await work();
      return { result, usage };
    } finally {
      this.current = previous;
    }
  }

  private count(usage: Usage, name: string, requestBytes: number, responseBytes: number): void {
    const c = (usage.calls[name] ??= { calls: 0, requestBytes: 0, responseBytes: 0 });
    c.calls++;
    c.requestBytes += requestBytes;
    c.responseBytes += responseBytes;
  }

  private shape(table: string): TableShape {
    const shape = this.tables[table];
    if (!shape) throw new Error(`no table shape for ${table}`);
    return shape;
  }

  private keyOf(table: string, item: Wire): Wire {
    const { hashKey, rangeKey } = this.shape(table);
    return { [hashKey]: item[hashKey]!, [rangeKey]: item[rangeKey]! };
  }

  private async image(w: Written): Promise<Item | undefined> {
    const { Item } = await this.reader.send(new GetItemCommand({ TableName: w.table, Key: w.key, ConsistentRead: true }));
    return Item ? unmarshall(Item) : undefined;
  }
}
