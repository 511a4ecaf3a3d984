/**
 * Shared machinery of the reliability suite (tests/reliability/**):
 *
 * - how many cases to run: a bounded quick form inside `npm test`, larger counts in
 *   `npm run test:reliability` (RELIABILITY_FULL=1, or `--full`), RELIABILITY_RUNS overrides;
 * - a tally per test file (cases tried, faults injected, requests made, items/events lost,
 *   unauthorised accesses that succeeded), published as test meta for the summary reporter
 *   (./reliability-reporter.ts) and printed by the file's last test;
 * - an in-process local stack whose functions may talk to the emulator through a fault proxy;
 * - observers: analytics entries handed to EventBridge, console output of the functions.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect, type TestContext } from 'vitest';
import { setAwsClients } from '../../functions/shared/aws-clients.ts';
import { connectTriggers, provisionUserPool, runtimeOptionsFor, signIn, type LocalUserPool, type SignedIn } from '../../scripts/local/cognito.ts';
import { generateSigningKeys, mintToken, type TokenOptions } from '../../scripts/local/jwt.ts';
import { clientConfig, provision, type ProvisionedStack } from '../../scripts/local/provision.ts';
import { startRuntime } from '../../scripts/local/runtime.ts';
import { startFaultProxy, type FaultProxy } from './fault-proxy.ts';
import { awsEndpoint, region } from './stack.ts';

// ---------------------------------------------------------------------------------------
// Case counts

/** `npm run test:reliability` sets RELIABILITY_FULL=1; `--full` on the vitest command line works too. */
export const fullRun = process.env.RELIABILITY_FULL === '1' || process.argv.includes('--full');

/** fast-check numRuns (or loop count): RELIABILITY_RUNS if set, else the quick or the full figure. */
export function runs(quick: number, full: number): number {
  const forced = Number(process.env.RELIABILITY_RUNS);
  if (Number.isInteger(forced) && forced > 0) return forced;
  return fullRun ? full : quick;
}

/** A test timeout for a property of `quickRuns` cases: 30 s in the quick form, scaled with the case count otherwise. */
export function timeoutFor(quickRuns: number, msPerCase = 150): number {
  return Math.max(30_000, runs(quickRuns, quickRuns * 20) * msPerCase + 20_000);
}

/** A duration (ms) that is short in the quick form and longer in the full run. */
export function duration(quickMs: number, fullMs: number): number {
  return fullRun ? fullMs : quickMs;
}

// ---------------------------------------------------------------------------------------
// Tally

export interface ReliabilityTally {
  file: string;
  casesTried: number;
  faultsInjected: number;
  requestsMade: number;
  itemsLost: number;
  eventsLost: number;
  unauthorisedSucceeded: number;
}

declare module 'vitest' {
  interface TaskMeta {
    reliability?: ReliabilityTally;
  }
}

export function newTally(file: string): ReliabilityTally {
  return { file, casesTried: 0, faultsInjected: 0, requestsMade: 0, itemsLost: 0, eventsLost: 0, unauthorisedSucceeded: 0 };
}

export function formatTally(rows: ReliabilityTally[]): string {
  const header = ['file', 'cases', 'faults', 'requests', 'items lost', 'events lost', 'unauthorised ok'];
  const body = rows.map((r) => [r.file, r.casesTried, r.faultsInjected, r.requestsMade, r.itemsLost, r.eventsLost, r.unauthorisedSucceeded].map(String));
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

/**
 * The file's last test: publishes the tally to the reporter, prints it, and fails when
 * anything was lost or an unauthorised access succeeded.
 */
export function publishTally(context: TestContext, tally: ReliabilityTally): void {
  context.task.meta.reliability = { ...tally };
  console.log(`\nreliability summary (${fullRun ? 'full' : 'quick'} form)\n${formatTally([tally])}`);
  expect(tally.casesTried, 'the file tried no cases at all').toBeGreaterThan(0);
  expect(tally.itemsLost, 'items lost').toBe(0);
  expect(tally.eventsLost, 'events lost').toBe(0);
  expect(tally.unauthorisedSucceeded, 'unauthorised accesses that succeeded').toBe(0);
}

// ---------------------------------------------------------------------------------------
// Direct clients (bypassing any fault proxy) for assertions

export function directClients(endpoint: string = awsEndpoint()) {
  const config = clientConfig({ endpoint, region });
  return {
    dynamo: DynamoDBDocumentClient.from(new DynamoDBClient(config), { marshallOptions: { removeUndefinedValues: true } }),
    sqs: new SQSClient(config),
    eventBridge: new EventBridgeClient(config),
  };
}

export async function scanAll(dynamo: DynamoDBDocumentClient, tableName: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  for (let page = 0; page < 1000; page++) {
    const { Items = [], LastEvaluatedKey } = await dynamo.send(new ScanCommand({ TableName: tableName, ConsistentRead: true, ...(startKey ? { ExclusiveStartKey: startKey } : {}) }));
    items.push(...Items);
    if (!LastEvaluatedKey) return items;
    startKey = LastEvaluatedKey;
  }
  throw new Error(`scan of ${tableName} did not end`);
}

/** A fingerprint of every record in a table: equal before and after means nothing was written. */
export async function tableFingerprint(dynamo: DynamoDBDocumentClient, tableName: string): Promise<string> {
  const items = await scanAll(dynamo, tableName);
  return items
    .map((item) => JSON.stringify(item, Object.keys(item).sort()))
    .sort()
    .join('\n');
}

// ---------------------------------------------------------------------------------------
// The in-process local stack, optionally behind a fault proxy

export interface ReliabilityStack {
  baseUrl: string;
  stack: ProvisionedStack;
  /** The emulator the resources live on (assert through directClients(emulator)). */
  emulator: string;
  /** Functions whose handler does not exist yet (their routes answer 501). */
  skipped: string[];
  /**
   * A bearer token for `sub` (default alice) in `tenant` (default acme), `admin` as asked.
   * Self-signed stacks mint it (and `broken` kinds); Cognito stacks sign the user in to the
   * stack's user pool (`sub` is then the user's name; the token's `sub` is the pool's id).
   */
  token(options?: Partial<TokenOptions>): Promise<string>;
  /** Cognito stacks only: the stack's user pool, and how tokens it must refuse are made. */
  cognito?: CognitoAuth;
  stop(): Promise<void>;
}

export interface CognitoAuth {
  pool: LocalUserPool;
  signIn(user: string, tenant: string, admin?: boolean): Promise<SignedIn>;
  /** A sign-in to another pool of the same stack (its own issuer and key), or through another app client of this pool. */
  signInElsewhere(where: 'another-pool' | 'another-client', user: string, tenant: string, admin?: boolean): Promise<SignedIn>;
  /** A token with this pool's issuer and app client, signed by a key that is not the pool's, or with `alg: none`. */
  forged(kind: 'foreign-key' | 'alg-none', claims: { sub: string; tenant: string; admin?: boolean }): Promise<string>;
  /** Moves the authorizer's clock by `seconds` (0: back to the system's). */
  setClockOffset(seconds: number): void;
}

/**
 * Provisions the topology on `emulator` (default: the run's shared one) under a fresh prefix
 * and serves the real handlers; the functions' SDK clients use `functionsEndpoint` (a fault
 * proxy, say; default the emulator itself).
 */
export async function startReliabilityStack(options: {
  emulator?: string;
  functionsEndpoint?: string;
  pollQueues?: boolean;
  prefix?: string;
  log?: (line: string) => void;
  /** How users sign in: self-signed tokens (default), or the stack's own user pool with our triggers, as deployed. */
  signIn?: 'self-signed' | 'cognito';
} = {}): Promise<ReliabilityStack> {
  const emulator = options.emulator ?? awsEndpoint();
  const prefix = options.prefix ?? `r${randomBytes(4).toString('hex')}`;
  const stack = await provision({ endpoint: emulator, region }, prefix, { visibilityTimeoutSeconds: 2 });
  const keys = await generateSigningKeys();
  const pool = options.signIn === 'cognito' ? await provisionUserPool({ endpoint: emulator, region }, stack) : undefined;
  let clockOffsetMs = 0;
  const runtime = await startRuntime({
    endpoint: options.functionsEndpoint ?? emulator,
    stack,
    port: 0,
    ...(pool ? runtimeOptionsFor(pool) : { publicKey: keys.publicKey, issuer: 'event-flows-local', audience: 'event-flows' }),
    authorizerClock: () => new Date(Date.now() + clockOffsetMs),
    pollQueues: options.pollQueues ?? false,
    idleWaitSeconds: 1,
    log: options.log ?? ((line) => {
      if (!line.startsWith('skipped ')) console.error(line);
    }),
  });
  // startRuntime set AWS_ENDPOINT_URL; clients made before (by another stack) must be rebuilt.
  setAwsClients({});
  if (!pool) {
    return {
      baseUrl: runtime.url,
      stack,
      emulator,
      skipped: [...runtime.skipped],
      token: (tokenOptions = {}) => mintToken(keys, { sub: 'alice', tenant: 'acme', ...tokenOptions }),
      stop: () => runtime.stop(),
    };
  }
  await connectTriggers(pool, runtime.lambdaEndpoint);
  const elsewhere = new Map<string, Promise<LocalUserPool>>();
  const cognito: CognitoAuth = {
    pool,
    signIn: (user, tenant, admin = false) => signIn(pool, { user, tenant, admin }),
    signInElsewhere: async (where, user, tenant, admin = false) => {
      if (!elsewhere.has(where)) {
        const other = provisionUserPool({ endpoint: emulator, region }, stack, where === 'another-pool' ? { poolName: `${prefix}-other-users` } : { clientName: 'another-app' });
        elsewhere.set(where, other);
        await connectTriggers(await other, runtime.lambdaEndpoint);
      }
      return signIn(await elsewhere.get(where)!, { user, tenant, admin });
    },
    forged: async (kind, claims) =>
      mintToken(kind === 'foreign-key' ? keys : { privateKey: (await generateSigningKeys()).privateKey }, {
        ...claims,
        issuer: pool.issuer,
        audience: pool.clientId,
        ...(kind === 'alg-none' ? { broken: 'alg-none' as const } : {}),
      }),
    setClockOffset: (seconds) => {
      clockOffsetMs = seconds * 1000;
    },
  };
  return {
    baseUrl: runtime.url,
    stack,
    emulator,
    skipped: [...runtime.skipped],
    token: async ({ sub = 'alice', tenant = 'acme', admin = false, broken } = {}) => {
      if (broken) throw new Error(`a Cognito stack makes no "${broken}" token: use cognito.forged, signInElsewhere or setClockOffset`);
      return (await signIn(pool, { user: sub, tenant, admin })).accessToken;
    },
    cognito,
    stop: () => runtime.stop(),
  };
}

/** A reliability stack whose functions reach the run's emulator through a fault proxy; stop() ends both. */
export async function startStackBehindFaultProxy(options: { pollQueues: boolean }): Promise<{ proxy: FaultProxy; local: ReliabilityStack; stop(): Promise<void> }> {
  const proxy = await startFaultProxy({ upstream: awsEndpoint() });
  const local = await startReliabilityStack({ functionsEndpoint: proxy.url, pollQueues: options.pollQueues });
  return {
    proxy,
    local,
    stop: async () => {
      await local.stop();
      await proxy.close();
    },
  };
}

// ---------------------------------------------------------------------------------------
// Observers

export interface ObservedEntry {
  source: string;
  detailType: string;
  // The detail is whatever JSON the function sent; tests read fields defensively.
  detail: Record<string, unknown>;
  raw: string;
  delivered: boolean;
}

/**
 * Wraps the functions' EventBridge client (through setAwsClients) so every PutEvents entry
 * is observed on its way to the real client. Other clients are rebuilt from the environment.
 */
export function observeEventBridge(options: { retain?: boolean; onEntry?: (entry: ObservedEntry) => void } = {}): { entries: ObservedEntry[]; analyticsFor(apiRequestId: string): ObservedEntry[] } {
  // With retain: false (a load test) entries are only passed to onEntry, so memory stays flat.
  const retain = options.retain ?? true;
  const entries: ObservedEntry[] = [];
  const client = new EventBridgeClient({});
  const send = client.send.bind(client);
  const observed = async (command: unknown, sendOptions?: unknown) => {
    // send() is overloaded; we pass through exactly what we were given.
    const result = (await (send as (c: unknown, o?: unknown) => Promise<unknown>)(command, sendOptions)) as { Entries?: Array<{ EventId?: string; ErrorCode?: string }> };
    if (command instanceof PutEventsCommand) {
      (command.input.Entries ?? []).forEach((entry, index) => {
        const outcome = result.Entries?.[index];
        const observed: ObservedEntry = {
          source: entry.Source ?? '',
          detailType: entry.DetailType ?? '',
          detail: JSON.parse(entry.Detail ?? '{}') as Record<string, unknown>,
          raw: entry.Detail ?? '',
          delivered: Boolean(outcome?.EventId && !outcome.ErrorCode),
        };
        if (retain) entries.push(observed);
        options.onEntry?.(observed);
      });
    }
    return result;
  };
  client.send = observed as typeof client.send;
  setAwsClients({ eventBridge: client });
  const analyticsFor = (apiRequestId: string) =>
    entries.filter((e) => e.detailType.endsWith('_ANALYTICS') && propertiesOf(e).apiRequestId === apiRequestId);
  return { entries, analyticsFor };
}

export function propertiesOf(entry: ObservedEntry): Record<string, unknown> {
  const detail = entry.detail.detail as { metadata?: { properties?: Record<string, unknown> } } | undefined;
  return detail?.metadata?.properties ?? {};
}

export function metadataOf(entry: ObservedEntry): { status?: string; errorType?: string; eventCategory?: string } {
  const detail = entry.detail.detail as { metadata?: { status?: string; errorType?: string; eventCategory?: string } } | undefined;
  return detail?.metadata ?? {};
}

/** Everything written to console.log/info/warn/error/debug until restore() (and still passed on). */
export function captureConsole(): { lines: string[]; restore(): void; print(line: string): void } {
  const lines: string[] = [];
  const methods = ['log', 'info', 'warn', 'error', 'debug'] as const;
  const originals = methods.map((m) => console[m]);
  methods.forEach((method, i) => {
    console[method] = (...args: unknown[]) => {
      lines.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
      // Keep the output quiet: function logs from thousands of cases would drown the report.
      if (process.env.RELIABILITY_VERBOSE === '1') originals[i]!(...args);
    };
  });
  return {
    lines,
    restore: () => methods.forEach((method, i) => (console[method] = originals[i]!)),
    /** Prints past the capture (the test's own report lines). */
    print: (line: string) => originals[0]!(line),
  };
}

/** Waits until `check` returns true, polling; false if `timeoutMs` passed first. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Heap in use after a full garbage collection. */
export function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

// ---------------------------------------------------------------------------------------
// HTTP

export interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
  // Parsed JSON of any shape (or undefined when the body is not JSON); tests assert on it.
  json: unknown;
  ms: number;
}

export async function http(baseUrl: string, method: string, path: string, options: { token?: string; body?: string; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<HttpAnswer> {
  const started = performance.now();
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}), ...(options.headers ?? {}) },
    ...(options.body !== undefined ? { body: options.body } : {}),
    signal: AbortSignal.timeout(options.timeoutMs ?? 20_000),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? (JSON.parse(text) as unknown) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json, ms: performance.now() - started };
}

/** `{"error":{"code","message","details?"}}` and nothing else. */
export function isErrorBody(json: unknown): boolean {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return false;
  const keys = Object.keys(json);
  if (keys.length !== 1 || keys[0] !== 'error') return false;
  const error = (json as { error: unknown }).error;
  if (error === null || typeof error !== 'object' || Array.isArray(error)) return false;
  const e = error as Record<string, unknown>;
  const allowed = new Set(['code', 'message', 'details']);
  if (!Object.keys(e).every((k) => allowed.has(k))) return false;
  if (typeof e.code !== 'string' || !/^[A-Z_]+$/.test(e.code) || typeof e.message !== 'string') return false;
  return e.details === undefined || (Array.isArray(e.details) && e.details.every((d) => d !== null && typeof d === 'object' && typeof (d as { issue?: unknown }).issue === 'string'));
}
