/**
 * Reads terraform/ with @cdktf/hcl2json (no terraform binary needed) and states the
 * project's infrastructure policies as plain functions over the parsed configuration, so
 * tests can apply them both to the real tree and to deliberately broken copies of it.
 */
import { parse } from '@cdktf/hcl2json';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Block = Record<string, any>;

/** One directory of .tf files (a module), merged the way Terraform merges them. */
export interface ModuleConfig {
  /** Directory relative to the scanned root, e.g. `modules/queue` or `environments/dev`. */
  dir: string;
  files: string[];
  resource: Record<string, Record<string, Block>>;
  data: Record<string, Record<string, Block>>;
  module: Record<string, Block>;
  variable: Record<string, Block>;
  output: Record<string, Block>;
  locals: Record<string, any>;
  terraform: Block[];
}

export interface TerraformConfig {
  root: string;
  modules: Map<string, ModuleConfig>;
}

export async function listTfFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.name === '.terraform') continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.name.endsWith('.tf')) out.push(full);
    }
  };
  await walk(root);
  return out.sort();
}

export async function parseTfFile(file: string): Promise<Block> {
  return parse(path.basename(file), await readFile(file, 'utf8'));
}

/** Blocks come out of hcl2json as one-element arrays; this takes the body. */
const single = (value: unknown): Block => (Array.isArray(value) ? (value[0] as Block) : (value as Block));

export async function loadTerraform(root: string): Promise<TerraformConfig> {
  const modules = new Map<string, ModuleConfig>();
  for (const file of await listTfFiles(root)) {
    const dir = path.relative(root, path.dirname(file)).split(path.sep).join('/');
    let mod = modules.get(dir);
    if (!mod) {
      mod = { dir, files: [], resource: {}, data: {}, module: {}, variable: {}, output: {}, locals: {}, terraform: [] };
      modules.set(dir, mod);
    }
    const parsed = await parseTfFile(file);
    mod.files.push(path.basename(file));
    for (const kind of ['resource', 'data'] as const) {
      for (const [type, byName] of Object.entries((parsed[kind] ?? {}) as Record<string, Record<string, unknown>>)) {
        mod[kind][type] ??= {};
        for (const [name, body] of Object.entries(byName)) mod[kind][type]![name] = single(body);
      }
    }
    for (const kind of ['module', 'variable', 'output'] as const) {
      for (const [name, body] of Object.entries((parsed[kind] ?? {}) as Record<string, unknown>)) mod[kind][name] = single(body);
    }
    for (const locals of (parsed.locals ?? []) as Block[]) Object.assign(mod.locals, locals);
    mod.terraform.push(...((parsed.terraform ?? []) as Block[]));
  }
  return { root, modules };
}

export function resources(mod: ModuleConfig, type: string): [string, Block][] {
  return Object.entries(mod.resource[type] ?? {});
}

/** Every string anywhere inside a value. */
export function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

const mentions = (value: unknown, needle: string): boolean => strings(value).some((s) => s.includes(needle));

/** The module directory a `module` block's source points to, relative to the root. */
export function moduleSourceDir(mod: ModuleConfig, call: Block): string | undefined {
  const source = call.source;
  if (typeof source !== 'string' || !source.startsWith('.')) return undefined;
  return path.posix.normalize(path.posix.join(mod.dir, source));
}

export type Policy = (config: TerraformConfig) => string[];

// ---------------------------------------------------------------------------------------
// Queues and DLQs

/** Labels of the aws_sqs_queue resources that are some queue's or some rule target's DLQ. */
export function dlqLabels(mod: ModuleConfig): Set<string> {
  const labels = new Set<string>();
  const queueLabels = resources(mod, 'aws_sqs_queue').map(([label]) => label);
  const collect = (value: unknown) => {
    for (const label of queueLabels) if (mentions(value, `aws_sqs_queue.${label}[`) || mentions(value, `aws_sqs_queue.${label}.`)) labels.add(label);
  };
  for (const [, redrive] of resources(mod, 'aws_sqs_queue_redrive_policy')) collect(redrive.redrive_policy);
  for (const [, queue] of resources(mod, 'aws_sqs_queue')) collect(queue.redrive_policy);
  for (const [, target] of resources(mod, 'aws_cloudwatch_event_target')) collect(target.dead_letter_config);
  return labels;
}

/** Every queue has a redrive policy (to a DLQ) unless it is itself a DLQ; DLQs stay on by default. */
export const everyQueueHasRedriveOrIsDlq: Policy = (config) => {
  const violations: string[] = [];
  for (const mod of config.modules.values()) {
    const dlqs = dlqLabels(mod);
    const redriven = new Set<string>();
    for (const [, redrive] of resources(mod, 'aws_sqs_queue_redrive_policy')) {
      for (const [label] of resources(mod, 'aws_sqs_queue')) if (mentions(redrive.queue_url, `aws_sqs_queue.${label}.`)) redriven.add(label);
    }
    for (const [label, queue] of resources(mod, 'aws_sqs_queue')) {
      if (queue.redrive_policy) redriven.add(label);
      if (!dlqs.has(label) && !redriven.has(label)) violations.push(`${mod.dir}: aws_sqs_queue.${label} has no redrive policy and is no DLQ`);
    }
    // A module whose DLQ can be switched off must default to on, and no caller may switch it off.
    const createDlq = mod.variable.create_dlq;
    if (createDlq && createDlq.default !== true) violations.push(`${mod.dir}: variable create_dlq must default to true`);
    for (const [name, call] of Object.entries(mod.module)) {
      if (call.create_dlq === false) violations.push(`${mod.dir}: module.${name} turns its DLQ off`);
    }
  }
  return violations;
};

/** Labels of aws_sns_topic resources that `value` reaches directly or through a local. */
function reachesTopic(mod: ModuleConfig, value: unknown): boolean {
  if (mentions(value, 'aws_sns_topic.')) return true;
  return strings(value).some((s) => [...s.matchAll(/local\.([A-Za-z0-9_]+)/g)].some((m) => mentions(mod.locals[m[1]!], 'aws_sns_topic.')));
}

/**
 * Every DLQ has a depth alarm wired to the SNS topic: the alarms module alarms on
 * ApproximateNumberOfMessagesVisible > 0 for each queue in its DLQ input, with alarm actions
 * to its topic, and every composition passes it every DLQ of every module it calls.
 */
export const everyDlqHasDepthAlarm: Policy = (config) => {
  const violations: string[] = [];
  // 1. Modules that alarm on DLQ depth, and the variable that lists the DLQs.
  const alarmModules = new Map<string, string>();
  for (const mod of config.modules.values()) {
    for (const [label, alarm] of resources(mod, 'aws_cloudwatch_metric_alarm')) {
      if (alarm.namespace !== 'AWS/SQS' || alarm.metric_name !== 'ApproximateNumberOfMessagesVisible') continue;
      const variable = /var\.([A-Za-z0-9_]+)/.exec(String(alarm.for_each ?? ''))?.[1];
      const ok = variable && alarm.comparison_operator === 'GreaterThanThreshold' && alarm.threshold === 0 && reachesTopic(mod, alarm.alarm_actions);
      if (ok) alarmModules.set(mod.dir, variable);
      else violations.push(`${mod.dir}: aws_cloudwatch_metric_alarm.${label} is no DLQ depth > 0 alarm per queue of a variable with actions to an SNS topic`);
    }
  }
  if (alarmModules.size === 0) violations.push('no module alarms on DLQ depth (AWS/SQS ApproximateNumberOfMessagesVisible) with actions to an SNS topic');

  // 2. Modules that create DLQs, and the outputs that expose their names.
  const dlqOutputs = new Map<string, string[]>();
  for (const mod of config.modules.values()) {
    const dlqs = [...dlqLabels(mod)];
    if (dlqs.length === 0) continue;
    const outputs = Object.entries(mod.output)
      .filter(([, o]) => dlqs.some((label) => mentions(o.value, `aws_sqs_queue.${label}`) && mentions(o.value, '.name')))
      .map(([name]) => name);
    if (outputs.length === 0) violations.push(`${mod.dir}: creates DLQs (${dlqs.join(', ')}) but exposes no output with their names`);
    dlqOutputs.set(mod.dir, outputs);
  }

  // 3. Every module that calls DLQ-creating modules passes their DLQ names to an alarms module.
  for (const mod of config.modules.values()) {
    const calls = Object.entries(mod.module);
    const alarmCalls = calls.filter(([, call]) => alarmModules.has(moduleSourceDir(mod, call) ?? ''));
    for (const [name, call] of calls) {
      const outputs = dlqOutputs.get(moduleSourceDir(mod, call) ?? '');
      if (!outputs) continue;
      const wired = alarmCalls.some(([, alarmCall]) => {
        const variable = alarmModules.get(moduleSourceDir(mod, alarmCall) ?? '')!;
        const expression = strings(alarmCall[variable]).join(' ');
        return expression.includes(`module.${name}`) && outputs.some((o) => expression.includes(o));
      });
      if (!wired) violations.push(`${mod.dir}: the DLQs of module.${name} (${outputs.join(', ')}) reach no DLQ depth alarm`);
    }
  }
  return violations;
};

// ---------------------------------------------------------------------------------------
// IAM

const isWildcardAction = (action: string): boolean => action.includes('*');

/**
 * No IAM statement has a wildcard action ("*", "service:*", "service:Get*"). Looks at every
 * `actions`/`Action`/`not_actions` anywhere (policy documents, locals that feed them);
 * references to locals are resolved, and a pass-through of a variable (a dynamic
 * statement) must be guarded by a validation that rejects wildcards.
 */
export const noWildcardActions: Policy = (config) => {
  const violations: string[] = [];
  for (const mod of config.modules.values()) {
    const check = (where: string, value: unknown): void => {
      if (Array.isArray(value)) {
        for (const item of value) check(where, item);
        return;
      }
      if (typeof value !== 'string') return;
      const reference = /^\$\{(.+)\}$/.exec(value)?.[1];
      if (!reference) {
        if (isWildcardAction(value)) violations.push(`${mod.dir}: ${where} allows the wildcard action "${value}"`);
        return;
      }
      const local = /^local\.([A-Za-z0-9_]+)$/.exec(reference)?.[1];
      if (local !== undefined) return check(`${where} (local.${local})`, mod.locals[local]);
      if (/^[a-z_]+\.value\.actions$/.test(reference)) {
        const guarded = Object.values(mod.variable).some((v) => strings(v.validation).some((s) => s.includes('"*"')));
        if (!guarded) violations.push(`${mod.dir}: ${where} passes actions through from a variable that does not reject wildcards`);
        return;
      }
      violations.push(`${mod.dir}: ${where} has actions that cannot be checked statically: ${value}`);
    };
    const walk = (where: string, value: unknown): void => {
      if (Array.isArray(value)) return value.forEach((v, i) => walk(`${where}[${i}]`, v));
      if (!value || typeof value !== 'object') return;
      for (const [key, child] of Object.entries(value)) {
        if (key === 'actions' || key === 'not_actions' || key === 'Action' || key === 'NotAction') check(`${where}.${key}`, child);
        else walk(`${where}.${key}`, child);
      }
    };
    walk('data', mod.data);
    walk('resource', mod.resource);
    walk('locals', mod.locals);
    walk('module', mod.module);
  }
  return violations;
};

// ---------------------------------------------------------------------------------------
// Logs, tables, rule targets

/** Every function logs to a log group with retention that it depends on; every log group has retention. */
export const everyFunctionHasLogGroupWithRetention: Policy = (config) => {
  const violations: string[] = [];
  for (const mod of config.modules.values()) {
    const groups = new Map(resources(mod, 'aws_cloudwatch_log_group'));
    for (const [label, group] of groups) {
      if (group.retention_in_days === undefined || group.retention_in_days === null || group.retention_in_days === 0) {
        violations.push(`${mod.dir}: aws_cloudwatch_log_group.${label} has no retention`);
      }
    }
    for (const [label, fn] of resources(mod, 'aws_lambda_function')) {
      const logGroup = single(fn.logging_config)?.log_group;
      const group = [...groups.keys()].find((g) => mentions(logGroup, `aws_cloudwatch_log_group.${g}.`));
      if (!group) violations.push(`${mod.dir}: aws_lambda_function.${label} does not log to a log group of its module`);
      else if (!mentions(fn.depends_on, `aws_cloudwatch_log_group.${group}`)) violations.push(`${mod.dir}: aws_lambda_function.${label} is not created after its log group`);
      if (single(fn.logging_config)?.log_format !== 'JSON') violations.push(`${mod.dir}: aws_lambda_function.${label} does not log JSON`);
    }
  }
  return violations;
};

/** Every table has point-in-time recovery and server-side encryption on. */
export const everyTableHasPitrAndEncryption: Policy = (config) => {
  const violations: string[] = [];
  for (const mod of config.modules.values()) {
    for (const [label, table] of resources(mod, 'aws_dynamodb_table')) {
      if (single(table.point_in_time_recovery)?.enabled !== true) violations.push(`${mod.dir}: aws_dynamodb_table.${label} has no point-in-time recovery`);
      if (single(table.server_side_encryption)?.enabled !== true) violations.push(`${mod.dir}: aws_dynamodb_table.${label} has no server-side encryption`);
    }
  }
  return violations;
};

/** Every EventBridge target has an explicit retry policy and a dead-letter queue. */
export const everyRuleTargetHasRetryAndDlq: Policy = (config) => {
  const violations: string[] = [];
  for (const mod of config.modules.values()) {
    for (const [label, target] of resources(mod, 'aws_cloudwatch_event_target')) {
      const retry = single(target.retry_policy);
      if (!retry || retry.maximum_retry_attempts === undefined || retry.maximum_event_age_in_seconds === undefined) {
        violations.push(`${mod.dir}: aws_cloudwatch_event_target.${label} has no explicit retry policy`);
      }
      if (!single(target.dead_letter_config)?.arn) violations.push(`${mod.dir}: aws_cloudwatch_event_target.${label} has no dead-letter queue`);
    }
  }
  return violations;
};

// ---------------------------------------------------------------------------------------
// SQS event sources

/**
 * Every queue polled by a Lambda event source mapping has a visibility timeout of at least
 * 6 x the consumer's timeout + the batching window (AWS's guidance, so a message is not
 * redelivered while a retried invocation still works on it): the module computes it from
 * those inputs and refuses a smaller override, every caller passes the consumer function's
 * own timeout, and no caller overrides it below the minimum of its topology.
 */
export const queueVisibilityCoversConsumer: Policy = (config) => {
  const violations: string[] = [];
  const queueModules = new Set<string>();
  const formula = /^\$\{6 \* var\.consumer_timeout_seconds \+ var\.batching_window_seconds\}$/;
  for (const mod of config.modules.values()) {
    const mappings = resources(mod, 'aws_lambda_event_source_mapping');
    if (mappings.length === 0) continue;
    queueModules.add(mod.dir);
    const minimum = String(mod.locals.minimum_visibility_timeout ?? '').replace(/\s+/g, ' ');
    if (!formula.test(minimum)) violations.push(`${mod.dir}: local.minimum_visibility_timeout is not 6 * var.consumer_timeout_seconds + var.batching_window_seconds (${minimum || 'missing'})`);
    for (const [label, mapping] of mappings) {
      const queueLabel = /aws_sqs_queue\.([A-Za-z0-9_]+)\.arn/.exec(strings(mapping.event_source_arn).join(' '))?.[1];
      const queue = queueLabel ? mod.resource.aws_sqs_queue?.[queueLabel] : undefined;
      if (!queue) {
        violations.push(`${mod.dir}: aws_lambda_event_source_mapping.${label} polls no queue of its module`);
        continue;
      }
      if (mapping.maximum_batching_window_in_seconds !== '${var.batching_window_seconds}') {
        violations.push(`${mod.dir}: aws_lambda_event_source_mapping.${label} batching window is not var.batching_window_seconds (the one in the formula)`);
      }
      const visibility = strings(queue.visibility_timeout_seconds).join(' ');
      const computed = /local\.minimum_visibility_timeout/.test(visibility) || (/local\.visibility_timeout/.test(visibility) && /local\.minimum_visibility_timeout/.test(String(mod.locals.visibility_timeout ?? '')));
      if (!computed) violations.push(`${mod.dir}: aws_sqs_queue.${queueLabel} visibility timeout is not derived from local.minimum_visibility_timeout`);
      const guarded = strings(queue.lifecycle).some((text) => /local\.visibility_timeout >= local\.minimum_visibility_timeout/.test(text));
      if (!guarded) violations.push(`${mod.dir}: aws_sqs_queue.${queueLabel} has no precondition rejecting a visibility timeout below the minimum`);
    }
  }
  for (const mod of config.modules.values()) {
    for (const [name, call] of Object.entries(mod.module)) {
      if (!queueModules.has(moduleSourceDir(mod, call) ?? '') || call.consumer_function_name === undefined) continue;
      const timeout = strings(call.consumer_timeout_seconds).join(' ');
      const consumer = /module\.function\[([^\]]+)\]/.exec(strings(call.consumer_function_name).join(' '))?.[1];
      if (!consumer || !timeout.includes(`local.functions[${consumer}].timeout_seconds`)) {
        violations.push(`${mod.dir}: module.${name} consumer_timeout_seconds is not the consumer function's own timeout (${timeout || 'missing'})`);
      }
      if (call.batching_window_seconds === undefined) violations.push(`${mod.dir}: module.${name} passes no batching_window_seconds`);
      // With the topology's numbers: an override must still cover 6 x timeout + window.
      const queues = (mod.locals.queues ?? {}) as Record<string, Block>;
      const functions = (mod.locals.functions ?? {}) as Record<string, Block>;
      for (const [key, queue] of Object.entries(queues)) {
        const fn = functions[queue.consumer];
        if (!fn) continue;
        const minimum = 6 * Number(fn.timeout_seconds) + Number(queue.batching_window_seconds ?? 0);
        const override = typeof call.visibility_timeout_seconds === 'number' ? call.visibility_timeout_seconds : typeof queue.visibility_timeout_seconds === 'number' ? queue.visibility_timeout_seconds : undefined;
        if (override !== undefined && override < minimum) violations.push(`${mod.dir}: queue ${key} visibility timeout ${override} s < 6 x ${fn.timeout_seconds} s + ${queue.batching_window_seconds ?? 0} s = ${minimum} s`);
      }
    }
  }
  if (queueModules.size === 0) violations.push('no module maps a queue to a Lambda consumer');
  return violations;
};

export const policies: Record<string, Policy> = {
  everyQueueHasRedriveOrIsDlq,
  everyDlqHasDepthAlarm,
  noWildcardActions,
  everyFunctionHasLogGroupWithRetention,
  everyTableHasPitrAndEncryption,
  everyRuleTargetHasRetryAndDlq,
  queueVisibilityCoversConsumer,
};
