/**
 * What each function's code can ask of AWS, derived statically from functions/, and what its
 * Terraform policy grants, so tests/infra/iam.test.ts can compare the two exactly.
 *
 * Code side: esbuild bundles functions/<name>/handler.ts the way build.mjs does (following
 * every relative .ts import, npm packages left external) with tree shaking, and without
 * minifying, so every `new XCommand(` left in the bundle is one the function can reach, and
 * esbuild's `// functions/<file>.ts` comments tell which source file it sits in. Module-level
 * import following alone would credit `query` with the writes of shared/items/repository.ts
 * it never calls; tree shaking drops what no handler path reaches.
 *
 * Each command becomes IAM actions (COMMAND_ACTIONS) on resources named by the `config.*`
 * accessor the code passes (config.dataTable -> table:data, ...); commands that address the
 * record's own queue (ChangeMessageVisibility, GetQueueUrl) resolve to the queue the function
 * consumes; the SQS event source mapping adds ReceiveMessage, DeleteMessage and
 * GetQueueAttributes on that queue.
 *
 * Terraform side: local.function_policies of terraform/modules/event-flows, every resource a
 * single reference that resolves to a module output (module.table["data"].arn -> table:data,
 * ...index_arns["byUser"] -> index:analytics/byUser, module.queue["x"].dlq_arn -> dlq:x).
 */
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Block } from './terraform-config.ts';

/** A logical resource: table:<t>, index:<t>/<index>, bus:<b>, queue:<q>, dlq:<q>. */
export type ResourceId = string;

export interface Permission {
  action: string;
  resource: ResourceId;
}

/** A required permission and the code that needs it (`file (Command)` or the event source mapping). */
export interface Requirement extends Permission {
  neededBy: string[];
}

export interface Topology {
  tables: Record<string, { indexes: { name: string }[] }>;
  queues: Record<string, { consumer: string }>;
}

type Service = 'dynamodb' | 'sqs' | 'events';

/** SDK command class -> the IAM actions it needs. TransactWrite expands to the actions of its items. */
export const COMMAND_ACTIONS: Record<string, { service: Service; actions: string[] }> = {
  GetCommand: { service: 'dynamodb', actions: ['dynamodb:GetItem'] },
  GetItemCommand: { service: 'dynamodb', actions: ['dynamodb:GetItem'] },
  PutCommand: { service: 'dynamodb', actions: ['dynamodb:PutItem'] },
  PutItemCommand: { service: 'dynamodb', actions: ['dynamodb:PutItem'] },
  UpdateCommand: { service: 'dynamodb', actions: ['dynamodb:UpdateItem'] },
  UpdateItemCommand: { service: 'dynamodb', actions: ['dynamodb:UpdateItem'] },
  DeleteCommand: { service: 'dynamodb', actions: ['dynamodb:DeleteItem'] },
  DeleteItemCommand: { service: 'dynamodb', actions: ['dynamodb:DeleteItem'] },
  QueryCommand: { service: 'dynamodb', actions: ['dynamodb:Query'] },
  ScanCommand: { service: 'dynamodb', actions: ['dynamodb:Scan'] },
  BatchGetCommand: { service: 'dynamodb', actions: ['dynamodb:BatchGetItem'] },
  BatchGetItemCommand: { service: 'dynamodb', actions: ['dynamodb:BatchGetItem'] },
  BatchWriteCommand: { service: 'dynamodb', actions: ['dynamodb:BatchWriteItem'] },
  BatchWriteItemCommand: { service: 'dynamodb', actions: ['dynamodb:BatchWriteItem'] },
  TransactGetCommand: { service: 'dynamodb', actions: ['dynamodb:GetItem'] },
  TransactGetItemsCommand: { service: 'dynamodb', actions: ['dynamodb:GetItem'] },
  // IAM has no dynamodb:TransactWriteItems: each contained Put/Update/Delete/ConditionCheck is authorised.
  TransactWriteCommand: { service: 'dynamodb', actions: [] },
  TransactWriteItemsCommand: { service: 'dynamodb', actions: [] },
  PutEventsCommand: { service: 'events', actions: ['events:PutEvents'] },
  // SendMessageBatch is authorised as sqs:SendMessage (likewise the other batch calls).
  SendMessageCommand: { service: 'sqs', actions: ['sqs:SendMessage'] },
  SendMessageBatchCommand: { service: 'sqs', actions: ['sqs:SendMessage'] },
  ChangeMessageVisibilityCommand: { service: 'sqs', actions: ['sqs:ChangeMessageVisibility'] },
  ChangeMessageVisibilityBatchCommand: { service: 'sqs', actions: ['sqs:ChangeMessageVisibility'] },
  DeleteMessageCommand: { service: 'sqs', actions: ['sqs:DeleteMessage'] },
  DeleteMessageBatchCommand: { service: 'sqs', actions: ['sqs:DeleteMessage'] },
  ReceiveMessageCommand: { service: 'sqs', actions: ['sqs:ReceiveMessage'] },
  GetQueueUrlCommand: { service: 'sqs', actions: ['sqs:GetQueueUrl'] },
  GetQueueAttributesCommand: { service: 'sqs', actions: ['sqs:GetQueueAttributes'] },
};

/** SQS commands whose queue is the one the function consumes (the record's eventSourceARN). */
const OWN_QUEUE_COMMANDS = new Set([
  'ChangeMessageVisibilityCommand',
  'ChangeMessageVisibilityBatchCommand',
  'DeleteMessageCommand',
  'DeleteMessageBatchCommand',
  'ReceiveMessageCommand',
  'GetQueueUrlCommand',
  'GetQueueAttributesCommand',
]);

/** Transaction item kind -> the action IAM checks for it. */
const TRANSACT_ITEM_ACTIONS: Record<string, string> = {
  Put: 'dynamodb:PutItem',
  Update: 'dynamodb:UpdateItem',
  Delete: 'dynamodb:DeleteItem',
  ConditionCheck: 'dynamodb:ConditionCheckItem',
};

/** functions/shared/config.ts accessors -> the resource their value names. */
export const CONFIG_RESOURCES: Record<string, ResourceId> = {
  dataTable: 'table:data',
  analyticsTable: 'table:analytics',
  appBus: 'bus:app',
  analyticsBus: 'bus:analytics',
  importQueueUrl: 'queue:import',
  analyticsFallbackQueueUrl: 'dlq:analytics',
  analyticsQueueUrl: 'queue:analytics',
  importDlqUrl: 'dlq:import',
  appFallbackQueueUrl: 'dlq:app-events',
};

/** The actions an SQS event source mapping needs on the queue it polls. */
export const EVENT_SOURCE_ACTIONS = ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'];

export interface CallSite {
  file: string;
  command: string;
}

export interface FunctionCode {
  name: string;
  callSites: CallSite[];
  /** Bundle text by source file (functions/...). */
  segments: Map<string, string>;
  text: string;
}

/** Bundles functions/<name>/handler.ts (tree-shaken, unminified) and finds its SDK commands. */
export async function functionCode(functionsDir: string, name: string): Promise<FunctionCode> {
  const workingDir = path.dirname(functionsDir);
  const result = await build({
    entryPoints: [path.join(functionsDir, name, 'handler.ts')],
    absWorkingDir: workingDir,
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    packages: 'external',
    treeShaking: true,
    minify: false,
    logLevel: 'silent',
  });
  const text = result.outputFiles[0]!.text;
  const base = path.basename(functionsDir);
  const segments = new Map<string, string>();
  let current = '(bundle)';
  const callSites: CallSite[] = [];
  const seen = new Set<string>();
  for (const line of text.split('\n')) {
    const file = new RegExp(`^// (${base}/\\S+\\.ts)$`).exec(line)?.[1];
    if (file) {
      current = file;
      continue;
    }
    segments.set(current, `${segments.get(current) ?? ''}${line}\n`);
    // esbuild renames clashing imports GetCommand2, GetCommand3, ...
    for (const match of line.matchAll(/\bnew\s+([A-Z]\w*?Command)\d*\s*\(/g)) {
      const key = `${current} ${match[1]}`;
      if (!seen.has(key)) callSites.push({ file: current, command: match[1]! });
      seen.add(key);
    }
  }
  return { name, callSites, segments, text };
}

const accessorsIn = (text: string, names: string[]): string[] => names.filter((n) => new RegExp(`\\bconfig\\.${n}\\b`).test(text));
const kinds = (prefix: string): string[] => Object.keys(CONFIG_RESOURCES).filter((k) => CONFIG_RESOURCES[k]!.startsWith(prefix));

/** The permissions a function's code needs, with the code that needs each. */
export function requiredPermissions(code: FunctionCode, topology: Topology): { requirements: Requirement[]; problems: string[] } {
  const problems: string[] = [];
  const needs = new Map<string, Requirement>();
  const need = (action: string, resource: ResourceId, by: string) => {
    const key = `${action} ${resource}`;
    const entry = needs.get(key) ?? { action, resource, neededBy: [] };
    if (!entry.neededBy.includes(by)) entry.neededBy.push(by);
    needs.set(key, entry);
  };
  const consumed = Object.entries(topology.queues)
    .filter(([, q]) => q.consumer === code.name)
    .map(([key]) => `queue:${key}`);

  // Per resource kind: accessors referenced in the command's own file, else anywhere in the bundle.
  const resourcesFor = (file: string, prefix: string, fallbackNames = kinds(prefix)): ResourceId[] => {
    const own = accessorsIn(code.segments.get(file) ?? '', kinds(prefix));
    const names = own.length > 0 ? own : accessorsIn(code.text, fallbackNames);
    return names.map((n) => CONFIG_RESOURCES[n]!);
  };
  const tablesFor = (file: string): ResourceId[] => resourcesFor(file, 'table:');

  for (const { file, command } of code.callSites) {
    const by = `${file.replace(/^functions\//, '')} (${command})`;
    const spec = COMMAND_ACTIONS[command];
    if (!spec) {
      problems.push(`${code.name}: ${by} sends a command this test does not know; add it to COMMAND_ACTIONS`);
      continue;
    }
    if (spec.service === 'dynamodb') {
      const tables = tablesFor(file);
      if (tables.length === 0) problems.push(`${code.name}: ${by} addresses no table this test can name`);
      let actions = spec.actions;
      let targets = tables;
      if (command.startsWith('TransactWrite')) {
        // The items come from the files that build them ({ Put: ... }, { Update: ... }).
        const builders = [...code.segments].filter(([, text]) => /[{,(]\s*(Put|Update|Delete|ConditionCheck)\s*:/.test(text));
        actions = [
          ...new Set(builders.flatMap(([, text]) => [...text.matchAll(/[{,(]\s*(Put|Update|Delete|ConditionCheck)\s*:/g)].map((m) => TRANSACT_ITEM_ACTIONS[m[1]!]!))),
        ];
        targets = [...new Set(builders.flatMap(([builder]) => tablesFor(builder)))];
        if (actions.length === 0) problems.push(`${code.name}: ${by} has no transaction items this test can find`);
      }
      for (const table of targets) {
        for (const action of actions) need(action, table, by);
        if (command === 'QueryCommand') {
          // Indexes: a literal IndexName, or (a computed one) every index of the table named in the bundle.
          const segment = code.segments.get(file) ?? '';
          if (!/\bIndexName\s*:/.test(segment)) continue;
          const literal = [...segment.matchAll(/\bIndexName\s*:\s*["']([\w.-]+)["']/g)].map((m) => m[1]!);
          const tableName = table.slice('table:'.length);
          const known = topology.tables[tableName]?.indexes.map((i) => i.name) ?? [];
          const indexes = literal.length > 0 ? literal : known.filter((i) => new RegExp(`["']${i}["']`).test(code.text));
          if (indexes.length === 0) problems.push(`${code.name}: ${by} queries an index this test cannot name`);
          for (const index of indexes) {
            if (!known.includes(index)) problems.push(`${code.name}: ${by} queries ${tableName}/${index}, which topology.ts does not declare`);
            need('dynamodb:Query', `index:${tableName}/${index}`, by);
          }
        }
      }
    } else if (spec.service === 'events') {
      const buses = resourcesFor(file, 'bus:');
      if (buses.length === 0) problems.push(`${code.name}: ${by} addresses no bus this test can name`);
      for (const bus of buses) for (const action of spec.actions) need(action, bus, by);
    } else {
      let queues: ResourceId[];
      const queueAccessors = Object.keys(CONFIG_RESOURCES).filter((k) => /^(queue|dlq):/.test(CONFIG_RESOURCES[k]!));
      const own = accessorsIn(code.segments.get(file) ?? '', queueAccessors);
      // A record's own queue; but GetQueueAttributes in a file that names queues by accessor
      // and never looks up the record's queue (GetQueueUrl) reads those (the health route reads
      // the depths of queues it does not consume; the analytics processor reads its own queue's
      // visibility timeout by the URL GetQueueUrl gave it).
      const readsNamedQueues = command === 'GetQueueAttributesCommand' && own.length > 0 && !(code.segments.get(file) ?? '').includes('GetQueueUrlCommand');
      if (OWN_QUEUE_COMMANDS.has(command) && !readsNamedQueues) queues = consumed;
      else {
        // The queue accessor the command's file uses; the publisher gets its fallback queue
        // as an argument, so for it: the fallback accessors the bundle passes.
        const names = own.length > 0 ? own : accessorsIn(code.text, ['analyticsFallbackQueueUrl', 'appFallbackQueueUrl']);
        queues = names.map((n) => CONFIG_RESOURCES[n]!);
      }
      if (queues.length === 0) problems.push(`${code.name}: ${by} addresses no queue this test can name`);
      for (const queue of queues) for (const action of spec.actions) need(action, queue, by);
    }
  }
  for (const queue of consumed) for (const action of EVENT_SOURCE_ACTIONS) need(action, queue, 'SQS event source mapping');
  const requirements = [...needs.values()].sort((a, b) => `${a.resource} ${a.action}`.localeCompare(`${b.resource} ${b.action}`));
  return { requirements, problems };
}

// ---------------------------------------------------------------------------------------
// Terraform side

const unwrap = (value: string): string => /^\$\{(.+)\}$/s.exec(value)?.[1] ?? value;

/** A policy resource expression -> its logical resource, resolving `local.` references. */
export function resolveResource(expression: string, locals: Record<string, unknown>): ResourceId | undefined {
  let expr = unwrap(expression);
  for (let depth = 0; depth < 5; depth++) {
    const local = /^local\.([A-Za-z0-9_]+)(.*)$/s.exec(expr);
    if (!local) break;
    const value = locals[local[1]!];
    if (typeof value !== 'string') return undefined;
    expr = unwrap(value) + local[2]!;
  }
  const patterns: [RegExp, (m: RegExpExecArray) => string][] = [
    [/^module\.table\["([\w-]+)"\]\.arn$/, (m) => `table:${m[1]}`],
    [/^module\.table\["([\w-]+)"\]\.index_arns\["([\w.-]+)"\]$/, (m) => `index:${m[1]}/${m[2]}`],
    [/^module\.event_bus\["([\w-]+)"\]\.bus_arn$/, (m) => `bus:${m[1]}`],
    [/^module\.queue\["([\w-]+)"\]\.queue_arn$/, (m) => `queue:${m[1]}`],
    [/^module\.queue\["([\w-]+)"\]\.dlq_arn$/, (m) => `dlq:${m[1]}`],
  ];
  for (const [pattern, id] of patterns) {
    const m = pattern.exec(expr);
    if (m) return id(m);
  }
  return undefined;
}

/** The permissions local.function_policies[name] grants (plus problems reading it). */
export function grantedPermissions(locals: Record<string, Block>, name: string): { granted: Permission[]; problems: string[] } {
  const problems: string[] = [];
  const granted: Permission[] = [];
  const statements = (locals.function_policies as Record<string, unknown> | undefined)?.[name];
  if (!Array.isArray(statements)) return { granted, problems: [`${name}: local.function_policies has no statement list for it`] };
  for (const statement of statements as unknown[]) {
    if (!statement || typeof statement !== 'object') {
      problems.push(`${name}: a statement is not a literal object (${JSON.stringify(statement)})`);
      continue;
    }
    const { sid, actions: rawActions, resources } = statement as { sid?: string; actions?: unknown; resources?: unknown };
    let actions = rawActions;
    if (typeof actions === 'string') {
      const local = /^local\.([A-Za-z0-9_]+)$/.exec(unwrap(actions))?.[1];
      actions = local ? locals[local] : undefined;
    }
    if (!Array.isArray(actions) || !actions.every((a) => typeof a === 'string' && !a.includes('$'))) {
      problems.push(`${name}/${sid}: actions are not a literal list or a local holding one`);
      continue;
    }
    if (!Array.isArray(resources)) {
      problems.push(`${name}/${sid}: resources are not a list of single references`);
      continue;
    }
    for (const resource of resources as unknown[]) {
      const id = typeof resource === 'string' ? resolveResource(resource, locals) : undefined;
      if (!id) {
        problems.push(`${name}/${sid}: resource ${JSON.stringify(resource)} does not resolve to a table, index, bus, queue or DLQ`);
        continue;
      }
      for (const action of actions as string[]) granted.push({ action, resource: id });
    }
  }
  return { granted, problems };
}

/** Differences between what the code needs and what the policy grants. */
export function comparePermissions(name: string, required: Requirement[], granted: Permission[]): string[] {
  const key = (p: Permission) => `${p.action} on ${p.resource}`;
  const grantedKeys = new Set(granted.map(key));
  const requiredKeys = new Set(required.map(key));
  return [
    ...required.filter((r) => !grantedKeys.has(key(r))).map((r) => `${name}: code needs ${key(r)} (${r.neededBy.join(', ')}) but its policy lacks it`),
    ...[...new Set(granted.map(key))].filter((k) => !requiredKeys.has(k)).map((k) => `${name}: policy grants ${k}, which no code of the function needs`),
  ];
}

/** Reads the accessor names of the `config` object in functions/shared/config.ts. */
export async function configAccessors(functionsDir: string): Promise<string[]> {
  const text = await readFile(path.join(functionsDir, 'shared/config.ts'), 'utf8');
  const body = /export const config = \{([\s\S]*?)\n\};/.exec(text)?.[1] ?? '';
  return [...body.matchAll(/^\s*([A-Za-z0-9_]+):\s*\(/gm)].map((m) => m[1]!);
}
