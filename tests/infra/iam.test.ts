/**
 * Least privilege derived from the code: for every function, the SDK commands its bundle can
 * send (tests/infra/function-permissions.ts) must be exactly what its Terraform policy grants
 * (local.function_policies in terraform/modules/event-flows), and the permission table in
 * that module's README must say the same. Broken copies of terraform/ and of functions/ show
 * the comparison can fail.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as topology from '../../scripts/local/topology.ts';
import {
  comparePermissions,
  CONFIG_RESOURCES,
  configAccessors,
  functionCode,
  grantedPermissions,
  requiredPermissions,
  type Requirement,
} from './function-permissions.ts';
import { loadTerraform, type Block } from './terraform-config.ts';

const repo = path.resolve(import.meta.dirname, '../..');
const terraformRoot = path.join(repo, 'terraform');
const functionsDir = path.join(repo, 'functions');
const compositionDir = 'modules/event-flows';
const functionNames = Object.keys(topology.functions);

/** Every difference between code and policy for every function of a functions/ and terraform/ tree. */
async function violations(functions: string, terraform: string): Promise<string[]> {
  const config = await loadTerraform(terraform);
  const locals = config.modules.get(compositionDir)!.locals as Record<string, Block>;
  const out: string[] = [];
  for (const name of functionNames) {
    const { requirements, problems } = requiredPermissions(await functionCode(functions, name), topology);
    const { granted, problems: policyProblems } = grantedPermissions(locals, name);
    out.push(...problems, ...policyProblems, ...comparePermissions(name, requirements, granted));
  }
  return out;
}

const required = new Map<string, Requirement[]>();
beforeAll(async () => {
  for (const name of functionNames) required.set(name, requiredPermissions(await functionCode(functionsDir, name), topology).requirements);
}, 60_000);

describe('function policies are exactly what the code needs', () => {
  it('every config accessor that names a table, bus or queue is mapped to its resource', async () => {
    const accessors = await configAccessors(functionsDir);
    expect(accessors.length).toBeGreaterThan(0);
    for (const name of Object.keys(CONFIG_RESOURCES)) expect(accessors, `config.${name}`).toContain(name);
    for (const name of accessors.filter((a) => /Table|Bus|Queue/.test(a))) expect(Object.keys(CONFIG_RESOURCES), `config.${name}`).toContain(name);
  });

  it('each function sends SDK commands (the extraction finds them)', () => {
    for (const name of functionNames) expect(required.get(name)!.length, name).toBeGreaterThan(0);
  });

  it('code and policy agree for every function, both ways', { timeout: 60_000 }, async () => {
    expect(await violations(functionsDir, terraformRoot)).toEqual([]);
  });

  it('the permission table of terraform/modules/event-flows/README.md says the same', async () => {
    const readme = await readFile(path.join(terraformRoot, compositionDir, 'README.md'), 'utf8');
    const section = /## Permissions per function\n([\s\S]*?)(\n## |$)/.exec(readme)?.[1] ?? '';
    const documented = new Set<string>();
    for (const line of section.split('\n')) {
      const cells = line.split('|').map((c) => c.trim().replace(/`/g, ''));
      if (cells.length < 5 || !functionNames.includes(cells[1]!)) continue;
      for (const resource of cells[3]!.split(',').map((r) => r.trim())) documented.add(`${cells[1]} ${cells[2]} ${resource}`);
    }
    const expected = new Set(functionNames.flatMap((name) => required.get(name)!.map((r) => `${name} ${r.action} ${r.resource}`)));
    expect([...documented].filter((d) => !expected.has(d)), 'documented but not needed').toEqual([]);
    expect([...expected].filter((e) => !documented.has(e)), 'needed but not documented').toEqual([]);
  });
});

describe('the comparison fails on broken copies', () => {
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(path.join(os.tmpdir(), 'event-flows-iam-'));
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  async function brokenTerraform(label: string, edit: (main: string) => string): Promise<string> {
    const copy = path.join(scratch, label);
    await cp(terraformRoot, copy, { recursive: true });
    const main = path.join(copy, compositionDir, 'main.tf');
    const text = await readFile(main, 'utf8');
    const edited = edit(text);
    expect(edited, `the ${label} edit changes main.tf`).not.toBe(text);
    await writeFile(main, edited);
    return copy;
  }

  it('a policy without an action the code uses (import loses dynamodb:BatchGetItem)', { timeout: 60_000 }, async () => {
    const copy = await brokenTerraform('missing-action', (t) => t.replace('actions = ["dynamodb:BatchGetItem", "dynamodb:GetItem",', 'actions = ["dynamodb:GetItem",'));
    const found = await violations(functionsDir, copy);
    expect(found).toEqual([expect.stringMatching(/^import: code needs dynamodb:BatchGetItem on table:data \(shared\/batch-get\.ts \(BatchGetCommand\)\) but its policy lacks it$/)]);
  });

  it('a policy without an index the code queries (query loses byUpdatedAt)', { timeout: 60_000 }, async () => {
    const copy = await brokenTerraform('missing-index', (t) => t.replace(', local.data_index_arns["byUpdatedAt"]', ''));
    expect(await violations(functionsDir, copy)).toEqual(['query: code needs dynamodb:Query on index:data/byUpdatedAt (shared/items/repository.ts (QueryCommand)) but its policy lacks it']);
  });

  it('a policy with more than the code uses (query gets dynamodb:Scan)', { timeout: 60_000 }, async () => {
    const copy = await brokenTerraform('extra-action', (t) => t.replace('{ sid = "ReadItems", actions = ["dynamodb:GetItem"]', '{ sid = "ReadItems", actions = ["dynamodb:GetItem", "dynamodb:Scan"]'));
    expect(await violations(functionsDir, copy)).toEqual(['query: policy grants dynamodb:Scan on table:data, which no code of the function needs']);
  });

  it('a policy resource that is not an exact ARN reference is reported', { timeout: 60_000 }, async () => {
    const copy = await brokenTerraform('wildcard-resource', (t) => t.replace('{ sid = "EmitAnalytics", actions = ["events:PutEvents"], resources = [local.analytics_bus_arn] }', '{ sid = "EmitAnalytics", actions = ["events:PutEvents"], resources = ["*"] }'));
    const found = await violations(functionsDir, copy);
    expect(found.some((v) => v.startsWith('query/EmitAnalytics: resource "*" does not resolve'))).toBe(true);
  });

  it('new code in a shared module (BatchWrite and a ConditionCheck transaction) that the policy does not cover', { timeout: 60_000 }, async () => {
    const copy = path.join(scratch, 'code', 'functions');
    await cp(functionsDir, copy, { recursive: true });
    await writeFile(
      path.join(copy, 'shared/items/purge.ts'),
      [
        "import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';",
        "import { dynamo } from '../aws-clients.ts';",
        "import { config } from '../config.ts';",
        "import { transactWrite } from '../imports/transact.ts';",
        'export async function purge(keys: Array<Record<string, string>>): Promise<void> {',
        '  await dynamo().send(new BatchWriteCommand({ RequestItems: { [config.dataTable()]: keys.map((Key) => ({ DeleteRequest: { Key } })) } }));',
        '}',
        'export async function guard(Key: Record<string, string>): Promise<void> {',
        "  await transactWrite([{ ConditionCheck: { TableName: config.dataTable(), Key, ConditionExpression: 'attribute_exists(pk)' } }]);",
        '}',
        '',
      ].join('\n'),
    );
    const handler = path.join(copy, 'write/handler.ts');
    await writeFile(handler, `${await readFile(handler, 'utf8')}\nexport { purge, guard } from '../shared/items/purge.ts';\n`);
    expect((await violations(copy, terraformRoot)).sort()).toEqual([
      'write: code needs dynamodb:BatchWriteItem on table:data (shared/items/purge.ts (BatchWriteCommand)) but its policy lacks it',
      'write: code needs dynamodb:ConditionCheckItem on table:data (shared/imports/transact.ts (TransactWriteCommand)) but its policy lacks it',
    ]);
  });

  it('code that is imported but never called does not count (tree shaking)', { timeout: 60_000 }, async () => {
    const copy = path.join(scratch, 'unused', 'functions');
    await cp(functionsDir, copy, { recursive: true });
    const handler = path.join(copy, 'query/handler.ts');
    // query imports repository.ts, which also holds the writes; only what query calls counts.
    expect(await readFile(handler, 'utf8')).toContain("from '../shared/items/repository.ts'");
    const { requirements } = requiredPermissions(await functionCode(copy, 'query'), topology);
    expect(requirements.map((r) => r.action)).not.toContain('dynamodb:PutItem');
    expect(requirements.map((r) => r.action)).not.toContain('dynamodb:DeleteItem');
  });
});
