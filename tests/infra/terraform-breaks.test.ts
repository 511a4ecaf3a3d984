/**
 * Proof that the terraform checks can fail: each test copies terraform/, breaks one thing,
 * and runs the same steps as terraform-plan.test.ts on the dev environment — the real
 * terraform must report it (validate or plan), or the plan policies must. The copies run two
 * at a time (each is a few seconds of terraform on one or two cores; more at once would only
 * starve the rest of the suite on a 2-core machine).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { PlanModel, planPolicies } from './plan-policies.ts';
import { copyProject, editFile, ensureDashboardBuild, ensureFunctionZips, planEnvironment, removeCopy, terraform, toolEnvironment, type EnvironmentRun } from '../../scripts/terraform-plan.ts';

let env: NodeJS.ProcessEnv;
beforeAll(async () => {
  env = await toolEnvironment();
  await ensureFunctionZips();
  await ensureDashboardBuild();
}, 600_000);

function replaceOnce(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`nothing to replace: ${from}`);
  return text.replace(from, to);
}

/** Lets at most `slots` calls run at once. */
function limiter(slots: number): <T>(work: () => Promise<T>) => Promise<T> {
  const waiting: (() => void)[] = [];
  return async (work) => {
    if (slots > 0) slots--;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else slots++;
    }
  };
}
const twoAtATime = limiter(2);

/** Plans dev on a copy of terraform/ with `file` edited. */
function planBroken(file: string, edit: (text: string) => string): Promise<EnvironmentRun> {
  return twoAtATime(async () => {
    const root = await copyProject();
    try {
      await editFile(root, file, edit);
      return await planEnvironment(terraform(), root, 'dev', env);
    } finally {
      await removeCopy(root);
    }
  });
}

const failedStep = (run: EnvironmentRun) => (run.failure ? `${run.failure.step}: ${run.failure.output}` : `no step failed (${run.steps.map((s) => s.step).join(', ')})`);

describe('terraform reports a broken copy of terraform/', { timeout: 300_000 }, () => {
  it.concurrent('a misspelt argument fails validate', async () => {
    const run = await planBroken('modules/queue/main.tf', (t) => replaceOnce(t, 'visibility_timeout_seconds = local.visibility_timeout', 'visibility_timeout_second = local.visibility_timeout'));
    expect(failedStep(run)).toMatch(/^terraform validate: [\s\S]*Unsupported argument[\s\S]*visibility_timeout_second/);
  });

  it.concurrent('a wrong value type fails validate', async () => {
    const run = await planBroken('modules/table/main.tf', (t) => replaceOnce(t, 'point_in_time_recovery {\n    enabled = true', 'point_in_time_recovery {\n    enabled = ["yes"]'));
    expect(failedStep(run)).toMatch(/^terraform validate: [\s\S]*Incorrect attribute value type/);
  });

  it.concurrent('a dependency cycle (the event bus naming its target queue through module.queue) fails validate', async () => {
    const run = await planBroken('modules/event-flows/main.tf', (t) =>
      replaceOnce(t, 'target_queue_name = "${local.prefix}-${rule.target_queue}"', 'target_queue_name = module.queue[rule.target_queue].queue_name'),
    );
    expect(failedStep(run)).toMatch(/^terraform validate: [\s\S]*Error: Cycle: /);
  });

  it.concurrent('a null-unsafe validation (|| with a null operand, as found before) fails validate', async () => {
    const run = await planBroken('modules/queue/variables.tf', (t) =>
      replaceOnce(t, 'var.visibility_timeout_seconds == null ? true : var.visibility_timeout_seconds >= 0', 'var.visibility_timeout_seconds == null || var.visibility_timeout_seconds >= 0'),
    );
    expect(failedStep(run)).toMatch(/^terraform validate: [\s\S]*argument must not be null/);
  });

  // The alarms are one map-driven resource now: a key set unknown on a first plan is what a count was.
  it.concurrent('an alarm key set unknown on a first plan (as a count was, found before) fails plan', async () => {
    const run = await planBroken('modules/alarms/main.tf', (t) => replaceOnce(t, 'for api in var.http_api == null ? [] : [var.http_api]', 'for api in var.http_api.id == null ? [] : [var.http_api]'));
    expect(failedStep(run)).toMatch(/^terraform plan: [\s\S]*Invalid for_each argument/);
  });

  it.concurrent('a consumer-concurrency override naming no queue (a typo lookup() would ignore) fails the check-block policy', async () => {
    const run = await planBroken('environments/dev.tfvars', (t) => `${t}\nqueue_consumer_concurrency = { analytic = 30 }\n`);
    expect(run.failure, failedStep(run)).toBeUndefined();
    expect(planPolicies.everyCheckBlockPasses!(new PlanModel(run.plan!))).toEqual([
      'module.event_flows.check.queue_consumer_concurrency_names_queues: fail (queue_consumer_concurrency names queues the topology does not have: analytic (known: analytics, app-events, import).)',
    ]);
  });

  it.concurrent('table_warm_throughput reaches the named table and index, and a misspelt key fails the check-block policy', async () => {
    const warm = (write: number) => `{ read_units_per_second = 12000, write_units_per_second = ${write} }`;
    const run = await planBroken('environments/dev.tfvars', (t) => `${t}\ntable_warm_throughput = { analytics = ${warm(130000)}, "analytics/byUser" = ${warm(20000)}, "data/byUser" = ${warm(5000)} }\n`);
    expect(run.failure, failedStep(run)).toBeUndefined();
    const plan = new PlanModel(run.plan!);
    const analytics = plan.all('aws_dynamodb_table').find((t) => t.values.name === 'event-flows-dev-analytics');
    expect(analytics?.values.warm_throughput).toEqual([{ read_units_per_second: 12000, write_units_per_second: 130000 }]);
    expect(analytics?.values.global_secondary_index.map((i: { warm_throughput: unknown }) => i.warm_throughput)).toEqual([[{ read_units_per_second: 12000, write_units_per_second: 20000 }]]);
    expect(planPolicies.everyCheckBlockPasses!(plan)).toEqual([
      'module.event_flows.check.table_warm_throughput_names_tables: fail (table_warm_throughput names tables or indexes the topology does not have: data/byUser (known: analytics, data, analytics/byUser, data/byCreatedAt, data/byUpdatedAt).)',
    ]);
  });

  it.concurrent('a consumer concurrency below Lambda\'s minimum of 2 fails plan', async () => {
    const run = await planBroken('environments/dev.tfvars', (t) => `${t}\nqueue_consumer_concurrency = { analytics = 1 }\n`);
    expect(failedStep(run)).toMatch(/^terraform plan: [\s\S]*queue_consumer_concurrency values must be whole numbers between 2 and 1000/);
  });

  it.concurrent('a DLQ without its alarms (the delivery DLQs not passed to the alarms module) fails the policy on the plan', async () => {
    const run = await planBroken('modules/event-flows/main.tf', (t) => replaceOnce(t, 'flatten([for key, bus in module.event_bus : values(bus.delivery_dlq_names)]),', ''));
    expect(run.failure, failedStep(run)).toBeUndefined();
    const violations = planPolicies.everyDlqHasDepthAndAgeAlarms!(new PlanModel(run.plan!));
    expect(violations).toContain('DLQ event-flows-dev-app-events-delivery-dlq has no depth > 0 alarm');
    expect(violations).toContain('DLQ event-flows-dev-analytics-delivery-dlq has no oldest-message-age alarm');
  });
});
