/**
 * Static verification of terraform/: every file parses, every module is documented and
 * pinned, and the infrastructure policies hold. Each policy is also applied to a broken
 * copy of the tree (in a temp dir) to show it can fail.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listTfFiles, loadTerraform, parseTfFile, policies, type Policy, type TerraformConfig } from './terraform-config.ts';

const repo = path.resolve(import.meta.dirname, '../..');
const terraformRoot = path.join(repo, 'terraform');

let config: TerraformConfig;
beforeAll(async () => {
  config = await loadTerraform(terraformRoot);
});

describe('terraform/ parses', () => {
  it('every .tf file parses with hcl2json', async () => {
    const files = await listTfFiles(terraformRoot);
    expect(files.length).toBeGreaterThan(20);
    for (const file of files) await expect(parseTfFile(file), file).resolves.toBeTypeOf('object');
  });

  it('has the six modules, the composition and both environments', () => {
    const dirs = [...config.modules.keys()];
    for (const dir of ['function', 'queue', 'event-bus', 'table', 'http-api', 'alarms', 'event-flows']) expect(dirs).toContain(`modules/${dir}`);
    expect(dirs).toContain('environments/dev');
    expect(dirs).toContain('environments/prod');
  });
});

describe('modules are complete', () => {
  const moduleDirs = readdirSync(path.join(terraformRoot, 'modules'));
  const terraformVersion = readFileSync(path.join(repo, '.terraform-version'), 'utf8').trim();
  const [major, minor] = terraformVersion.split('.');

  it.each(moduleDirs)('%s has main.tf, variables.tf, outputs.tf, versions.tf and README.md', (dir) => {
    for (const file of ['main.tf', 'variables.tf', 'outputs.tf', 'versions.tf', 'README.md']) {
      expect(existsSync(path.join(terraformRoot, 'modules', dir, file)), `${dir}/${file}`).toBe(true);
    }
  });

  it.each(moduleDirs)('%s: every variable has a description and a type; every output a description', (dir) => {
    const mod = config.modules.get(`modules/${dir}`)!;
    for (const [name, variable] of Object.entries(mod.variable)) {
      expect(variable.description, `${dir} var.${name}`).toBeTruthy();
      expect(variable.type, `${dir} var.${name}`).toBeTruthy();
    }
    for (const [name, output] of Object.entries(mod.output)) expect(output.description, `${dir} output.${name}`).toBeTruthy();
  });

  it.each(moduleDirs)('%s: README lists every input and output', async (dir) => {
    const mod = config.modules.get(`modules/${dir}`)!;
    const readme = await readFile(path.join(terraformRoot, 'modules', dir, 'README.md'), 'utf8');
    for (const name of [...Object.keys(mod.variable), ...Object.keys(mod.output)]) expect(readme, `${dir} README`).toMatch(new RegExp(`^\\| ${name} \\|`, 'm'));
  });

  it.each([...moduleDirs.map((d) => `modules/${d}`), 'environments/dev', 'environments/prod'])(
    '%s pins Terraform to the .terraform-version line and the AWS provider to ~> 6.x',
    (dir) => {
      const mod = config.modules.get(dir)!;
      const block = mod.terraform.find((t) => t.required_version);
      expect(block?.required_version).toBe(`~> ${major}.${minor}.0`);
      const aws = mod.terraform.flatMap((t) => t.required_providers ?? []).find((p) => p.aws)?.aws;
      expect(aws?.source).toBe('hashicorp/aws');
      expect(aws?.version).toMatch(/^~> 6\.\d+$/);
    },
  );

  it('environments differ only in variables (same composition, same wiring)', async () => {
    for (const file of ['main.tf', 'variables.tf', 'outputs.tf', 'versions.tf']) {
      const dev = await readFile(path.join(terraformRoot, 'environments/dev', file), 'utf8');
      const prod = await readFile(path.join(terraformRoot, 'environments/prod', file), 'utf8');
      expect(prod, file).toBe(dev);
    }
    for (const env of ['dev', 'prod']) {
      const mod = config.modules.get(`environments/${env}`)!;
      expect(mod.module.event_flows?.source).toBe('../../modules/event-flows');
      expect(existsSync(path.join(terraformRoot, 'environments', env, 'terraform.tfvars'))).toBe(true);
      const backend = mod.terraform.find((t) => t.backend)?.backend;
      expect(backend?.s3, `${env} backend "s3"`).toBeDefined();
      for (const output of ['api_url', 'bus_names', 'table_names', 'dashboard_url', 'alarm_topic_arn']) expect(mod.output[output], `${env} output ${output}`).toBeDefined();
    }
  });
});

describe('infrastructure policies hold', () => {
  it.each(Object.keys(policies))('%s', (name) => {
    expect(policies[name]!(config)).toEqual([]);
  });
});

/**
 * Each policy against a copy of terraform/ with one deliberate defect. A policy that
 * passes the broken copy could never catch that defect.
 */
interface Breakage {
  policy: string;
  description: string;
  file: string;
  edit: (text: string) => string;
}

/** Removes the block that starts with `header` (matching braces). */
function removeBlock(text: string, header: string): string {
  const start = text.indexOf(header);
  if (start < 0) throw new Error(`no block ${header}`);
  let depth = 0;
  for (let i = text.indexOf('{', start); i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return text.slice(0, start) + text.slice(i + 1);
  }
  throw new Error(`unbalanced block ${header}`);
}

function replaceOnce(text: string, from: string | RegExp, to: string): string {
  const next = text.replace(from, to);
  if (next === text) throw new Error(`nothing to replace: ${from}`);
  return next;
}

const breakages: Breakage[] = [
  {
    policy: 'everyQueueHasRedriveOrIsDlq',
    description: 'the queue module loses its redrive policy',
    file: 'modules/queue/main.tf',
    edit: (t) => removeBlock(t, 'resource "aws_sqs_queue_redrive_policy" "this"'),
  },
  {
    policy: 'everyQueueHasRedriveOrIsDlq',
    description: 'the composition switches a DLQ off',
    file: 'modules/event-flows/main.tf',
    edit: (t) => replaceOnce(t, /max_receive_count(\s+)= each\.value\.max_receive_count/, 'create_dlq = false\n  max_receive_count = each.value.max_receive_count'),
  },
  {
    policy: 'everyDlqHasDepthAlarm',
    description: 'the composition stops passing the queue DLQs to the alarms',
    file: 'modules/event-flows/main.tf',
    edit: (t) => replaceOnce(t, '[for key, queue in module.queue : queue.dlq_name],', '[],'),
  },
  {
    policy: 'everyDlqHasDepthAlarm',
    description: 'the DLQ depth alarm loses its alarm actions',
    file: 'modules/alarms/main.tf',
    edit: (t) => replaceOnce(t, /(resource "aws_cloudwatch_metric_alarm" "dlq_depth" \{[\s\S]*?)alarm_actions\s+= local\.notify/, '$1alarm_actions = []'),
  },
  {
    policy: 'noWildcardActions',
    description: 'the query function gets dynamodb:*',
    file: 'modules/event-flows/main.tf',
    edit: (t) => replaceOnce(t, '{ sid = "ReadItems", actions = ["dynamodb:GetItem"]', '{ sid = "ReadItems", actions = ["dynamodb:*"]'),
  },
  {
    policy: 'noWildcardActions',
    description: 'a queue policy statement allows sqs:*',
    file: 'modules/queue/main.tf',
    edit: (t) => replaceOnce(t, 'actions   = ["sqs:SendMessage"]', 'actions   = ["sqs:*"]'),
  },
  {
    policy: 'everyFunctionHasLogGroupWithRetention',
    description: 'the function log group loses its retention',
    file: 'modules/function/main.tf',
    edit: (t) => replaceOnce(t, /\n\s*retention_in_days = var\.log_retention_days/, ''),
  },
  {
    policy: 'everyFunctionHasLogGroupWithRetention',
    description: 'the function no longer waits for its log group',
    file: 'modules/function/main.tf',
    edit: (t) => replaceOnce(t, 'depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]', 'depends_on = [aws_iam_role_policy.this]'),
  },
  {
    policy: 'everyTableHasPitrAndEncryption',
    description: 'point-in-time recovery is switched off',
    file: 'modules/table/main.tf',
    edit: (t) => replaceOnce(t, /point_in_time_recovery \{\s*enabled = true/, 'point_in_time_recovery {\n    enabled = false'),
  },
  {
    policy: 'everyTableHasPitrAndEncryption',
    description: 'server-side encryption is removed',
    file: 'modules/table/main.tf',
    edit: (t) => removeBlock(t, 'server_side_encryption {'),
  },
  {
    policy: 'everyRuleTargetHasRetryAndDlq',
    description: 'the rule target loses its retry policy',
    file: 'modules/event-bus/main.tf',
    edit: (t) => removeBlock(t, 'retry_policy {'),
  },
  {
    policy: 'everyRuleTargetHasRetryAndDlq',
    description: 'the rule target loses its dead-letter config',
    file: 'modules/event-bus/main.tf',
    edit: (t) => removeBlock(t, 'dead_letter_config {'),
  },
  {
    policy: 'queueVisibilityCoversConsumer',
    description: 'the queue module derives the visibility timeout from 2 x the consumer timeout',
    file: 'modules/queue/main.tf',
    edit: (t) => replaceOnce(t, 'minimum_visibility_timeout = 6 * var.consumer_timeout_seconds', 'minimum_visibility_timeout = 2 * var.consumer_timeout_seconds'),
  },
  {
    policy: 'queueVisibilityCoversConsumer',
    description: 'the queue module loses the precondition against small overrides',
    file: 'modules/queue/main.tf',
    edit: (t) => replaceOnce(t, /precondition \{\s*condition\s*= local\.visibility_timeout >= local\.minimum_visibility_timeout/, 'precondition {\n      condition = true'),
  },
  {
    policy: 'queueVisibilityCoversConsumer',
    description: 'the composition passes a fixed 10 s instead of the consumer timeout',
    file: 'modules/event-flows/main.tf',
    edit: (t) => replaceOnce(t, 'consumer_timeout_seconds = local.functions[each.value.consumer].timeout_seconds', 'consumer_timeout_seconds = 10'),
  },
  {
    policy: 'queueVisibilityCoversConsumer',
    description: 'the composition overrides the visibility timeout with 300 s (< 6 x 60 s + 1 s for the import queue)',
    file: 'modules/event-flows/main.tf',
    edit: (t) => replaceOnce(t, 'batching_window_seconds  = each.value.batching_window_seconds', 'batching_window_seconds  = each.value.batching_window_seconds\n  visibility_timeout_seconds = 300'),
  },
];

describe('each policy fails on a broken copy of terraform/', () => {
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(path.join(os.tmpdir(), 'event-flows-tf-'));
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('every policy has at least one breakage', () => {
    for (const name of Object.keys(policies)) expect(breakages.some((b) => b.policy === name), name).toBe(true);
  });

  it.each(breakages.map((b, i) => [b.policy, b.description, i] as const))('%s fails when %s', async (policyName, _description, index) => {
    const breakage = breakages[index]!;
    const copy = path.join(scratch, String(index));
    await cp(terraformRoot, copy, { recursive: true });
    const file = path.join(copy, breakage.file);
    await writeFile(file, breakage.edit(await readFile(file, 'utf8')));
    const broken = await loadTerraform(copy);
    const policy: Policy = policies[policyName]!;
    expect(policy(broken).length, `${policyName} on a copy where ${breakage.description}`).toBeGreaterThan(0);
  });
});
