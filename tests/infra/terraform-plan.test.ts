/**
 * The real `terraform` (on PATH) over a throw-away copy of terraform/, for each environment of
 * the one root (its `<env>.tfvars`): init -backend=false, validate, then plan -refresh=false
 * -var-file=<env>.tfvars with the S3 backend swapped for a local one, and show -json. One plan per environment; every policy (plan-policies.ts) and the
 * topology check (plan-topology.ts) read it. Each policy is also shown to fail on an edited
 * copy of the dev plan. OpenTofu runs the same steps where `npm run tofu:setup` built it.
 * No AWS credentials are used: see scripts/terraform-plan.ts for where the AWS provider comes from.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PlanModel, planPolicies, type Plan } from './plan-policies.ts';
import { topologyDifferences } from './plan-topology.ts';
import { copyProject, ensureDashboardBuild, ensureFunctionZips, environmentNames, openTofu, planEnvironment, removeCopy, terraform, toolEnvironment, type EnvironmentRun } from '../../scripts/terraform-plan.ts';

const environments = ['dev', 'prod'] as const;

/** A line in the test run's output even when the tests pass (console output is shown only for failures). */
const notice = (line: string) => process.stderr.write(`tests/infra/terraform-plan.test.ts: ${line}\n`);
const runs = new Map<string, EnvironmentRun>();
const copies: string[] = [];

/** The planned environment, or a failure that shows what the tool said. */
function planOf(environment: string): PlanModel {
  const run = runs.get(environment);
  if (!run?.plan) throw new Error(`no plan for ${environment}: ${run?.failure ? `${run.failure.step} failed:\n${run.failure.output}` : 'not run'}`);
  return new PlanModel(run.plan);
}

beforeAll(async () => {
  const started = Date.now();
  const env = await toolEnvironment();
  await ensureFunctionZips();
  await ensureDashboardBuild();
  const tool = terraform();
  // One copy per environment: both plan at once, and the root's .terraform/ serves one at a time.
  await Promise.all(
    environments.map(async (environment) => {
      const copy = await copyProject();
      copies.push(copy);
      runs.set(environment, await planEnvironment(tool, copy, environment, env));
    }),
  );
  for (const [environment, run] of runs) {
    const resources = run.plan?.resource_changes?.filter((r) => r.mode === 'managed').length;
    notice(`${environment}: ${run.steps.map((s) => `${s.step} ${s.seconds.toFixed(1)} s`).join(', ')}; ${resources ?? 'no'} resources planned`);
  }
  notice(`terraform over dev and prod: ${((Date.now() - started) / 1000).toFixed(1)} s wall-clock`);
}, 600_000);

afterAll(async () => {
  await Promise.all(copies.map(removeCopy));
});

it('plans every environment of the root (each <env>.tfvars)', () => {
  expect(environmentNames()).toEqual([...environments]);
});

describe.each(environments)('terraform: %s', (environment) => {
  it('init, validate, plan against an empty state and show -json succeed', () => {
    const run = runs.get(environment)!;
    expect(run.failure ? `${run.failure.step} failed:\n${run.failure.output}` : 'ok').toBe('ok');
    expect(run.steps.map((s) => s.step)).toEqual(['terraform init -backend=false', 'terraform validate', 'terraform init (local backend)', 'terraform plan', 'terraform show -json']);
    expect(run.steps.find((s) => s.step === 'terraform validate')?.output).toContain('The configuration is valid');
    const plan = planOf(environment);
    expect(plan.plan.variables?.environment?.value).toBe(environment);
    expect(plan.all('aws_lambda_function').length).toBeGreaterThan(0);
    expect(plan.plan.resource_changes!.every((r) => r.change.actions.join() === (r.mode === 'data' ? 'read' : 'create'))).toBe(true);
  });

  it.each(Object.keys(planPolicies))('policy %s holds', (policy) => {
    expect(planPolicies[policy]!(planOf(environment))).toEqual([]);
  });

  it('builds exactly the topology of topology.json (what the local stack provisions)', () => {
    expect(topologyDifferences(planOf(environment))).toEqual([]);
  });
});

/** A copy of the dev plan with one planned value changed, to show that a policy can fail. */
interface PlanBreak {
  policy: string;
  description: string;
  edit: (plan: Plan) => void;
}

const changes = (plan: Plan, type: string) => plan.resource_changes!.filter((r) => r.type === type && r.mode === 'managed');
const only = <T>(items: T[], what: string): T => {
  if (items.length === 0) throw new Error(`the plan has no ${what}`);
  return items[0]!;
};

const planBreaks: PlanBreak[] = [
  {
    policy: 'everyCheckBlockPasses',
    description: 'a check block failed',
    edit: (plan) => {
      plan.checks = [...(plan.checks ?? []), { address: { kind: 'check', to_display: 'module.event_flows.check.example' }, status: 'fail', instances: [{ problems: [{ message: 'example' }] }] }];
    },
  },
  {
    policy: 'everyQueueHasRedriveOrIsDlq',
    description: 'a redrive policy allows only 3 receives',
    edit: (plan) => {
      const redrive = only(changes(plan, 'aws_sqs_queue_redrive_policy'), 'redrive policy').change.after!;
      redrive.redrive_policy = JSON.stringify({ ...JSON.parse(redrive.redrive_policy as string), maxReceiveCount: 3 });
    },
  },
  {
    policy: 'everyQueueHasRedriveOrIsDlq',
    description: 'a source queue loses its redrive policy',
    edit: (plan) => {
      const redrive = only(changes(plan, 'aws_sqs_queue_redrive_policy'), 'redrive policy');
      plan.resource_changes = plan.resource_changes!.filter((r) => r !== redrive);
    },
  },
  {
    policy: 'queueVisibilityCoversConsumer',
    description: 'a polled queue has a 60 s visibility timeout',
    edit: (plan) => {
      for (const queue of changes(plan, 'aws_sqs_queue')) if (queue.module_address?.includes('queue["import"]') && queue.name === 'this') queue.change.after!.visibility_timeout_seconds = 60;
    },
  },
  {
    policy: 'everyDlqHasDepthAndAgeAlarms',
    description: 'the age alarm of a DLQ is gone',
    edit: (plan) => {
      plan.resource_changes = plan.resource_changes!.filter((r) => !(r.type === 'aws_cloudwatch_metric_alarm' && String(r.index).endsWith('-import-dlq-oldest-message-age')));
    },
  },
  {
    policy: 'everyRouteButHealthUsesJwt',
    description: 'a route has no authorization',
    edit: (plan) => {
      only(changes(plan, 'aws_apigatewayv2_route').filter((r) => r.index === 'POST /imports'), 'POST /imports route').change.after!.authorization_type = 'NONE';
    },
  },
  {
    policy: 'everyFunctionIsArm64WithLogRetention',
    description: 'a function runs on x86_64',
    edit: (plan) => {
      only(changes(plan, 'aws_lambda_function'), 'function').change.after!.architectures = ['x86_64'];
    },
  },
  {
    policy: 'everyFunctionIsArm64WithLogRetention',
    description: 'a function log group keeps logs forever',
    edit: (plan) => {
      only(changes(plan, 'aws_cloudwatch_log_group'), 'log group').change.after!.retention_in_days = 0;
    },
  },
  {
    policy: 'noWildcardActions',
    description: 'a function policy statement allows dynamodb:*',
    edit: (plan) => {
      const document = only(plan.resource_changes!.filter((r) => r.mode === 'data' && r.type === 'aws_iam_policy_document' && r.address.includes('function["query"]')), 'function policy document');
      (document.change.after!.statement as { actions: string[] }[])[0]!.actions.push('dynamodb:*');
    },
  },
  {
    policy: 'noWildcardActions',
    description: "the dashboard bucket's Allow statement grants s3:* (a Deny may use a wildcard, an Allow may not)",
    edit: (plan) => {
      const document = only(plan.resource_changes!.filter((r) => r.type === 'aws_iam_policy_document' && r.address.includes('module.dashboard')), 'dashboard bucket policy');
      (document.change.after!.statement as { effect: string; actions: string[] }[]).find((st) => st.effect === 'Allow')!.actions = ['s3:*'];
    },
  },
  {
    policy: 'everyTableHasPitrAndTtl',
    description: 'a table has TTL off',
    edit: (plan) => {
      only(changes(plan, 'aws_dynamodb_table'), 'table').change.after!.ttl = [{ attribute_name: 'expiresAt', enabled: false }];
    },
  },
  {
    policy: 'everyTableHasPitrAndTtl',
    description: 'a table has point-in-time recovery off',
    edit: (plan) => {
      only(changes(plan, 'aws_dynamodb_table'), 'table').change.after!.point_in_time_recovery = [{ enabled: false }];
    },
  },
  {
    policy: 'everyRuleTargetHasRetryAndDlq',
    description: 'a rule target has no retry policy',
    edit: (plan) => {
      only(changes(plan, 'aws_cloudwatch_event_target'), 'rule target').change.after!.retry_policy = [];
    },
  },
  {
    policy: 'everyRuleTargetHasRetryAndDlq',
    description: 'a rule target has no dead-letter queue',
    edit: (plan) => {
      only(changes(plan, 'aws_cloudwatch_event_target'), 'rule target').change.after!.dead_letter_config = [];
    },
  },
  {
    policy: 'archivesAreSelectiveAndBounded',
    description: 'the archive has no event pattern',
    edit: (plan) => {
      only(changes(plan, 'aws_cloudwatch_event_archive'), 'archive').change.after!.event_pattern = null;
    },
  },
  {
    policy: 'archivesAreSelectiveAndBounded',
    description: 'the analytics bus is archived too',
    edit: (plan) => {
      const archive = only(changes(plan, 'aws_cloudwatch_event_archive'), 'archive');
      plan.resource_changes!.push({ ...structuredClone(archive), address: archive.address.replace('event_bus["app"]', 'event_bus["analytics"]'), module_address: archive.module_address!.replace('event_bus["app"]', 'event_bus["analytics"]') });
    },
  },
  {
    policy: 'cognitoPoolIssuesTenantTokens',
    description: 'the user pool has no triggers',
    edit: (plan) => {
      only(changes(plan, 'aws_cognito_user_pool'), 'user pool').change.after!.lambda_config = [];
    },
  },
  {
    policy: 'cognitoPoolIssuesTenantTokens',
    description: 'users may write custom:tenant',
    edit: (plan) => {
      (only(changes(plan, 'aws_cognito_user_pool_client'), 'app client').change.after!.write_attributes as string[]).push('custom:tenant');
    },
  },
  {
    policy: 'cognitoPoolIssuesTenantTokens',
    description: 'the app client allows the implicit flow',
    edit: (plan) => {
      only(changes(plan, 'aws_cognito_user_pool_client'), 'app client').change.after!.allowed_oauth_flows = ['code', 'implicit'];
    },
  },
  {
    policy: 'staticSitesArePrivateBehindOac',
    description: "the dashboard bucket's public access block lets public policies through",
    edit: (plan) => {
      only(changes(plan, 'aws_s3_bucket_public_access_block'), 'public access block').change.after!.restrict_public_buckets = false;
    },
  },
  {
    policy: 'staticSitesArePrivateBehindOac',
    description: 'the bucket policy admits everyone',
    edit: (plan) => {
      const document = only(plan.resource_changes!.filter((r) => r.type === 'aws_iam_policy_document' && r.address.includes('module.dashboard')), 'dashboard bucket policy');
      (document.change.after!.statement as Array<{ principals: unknown }>)[0]!.principals = [{ type: 'AWS', identifiers: ['*'] }];
    },
  },
  {
    policy: 'staticSitesArePrivateBehindOac',
    description: 'the distribution serves plain HTTP',
    edit: (plan) => {
      only(changes(plan, 'aws_cloudfront_distribution'), 'distribution').change.after!.default_cache_behavior[0].viewer_protocol_policy = 'allow-all';
    },
  },
  {
    policy: 'staticSitesArePrivateBehindOac',
    description: 'the origin access control signs no requests',
    edit: (plan) => {
      only(changes(plan, 'aws_cloudfront_origin_access_control'), 'origin access control').change.after!.signing_behavior = 'never';
    },
  },
];

describe('each plan policy fails on an edited copy of the dev plan', () => {
  it('every policy has at least one break', () => {
    for (const policy of Object.keys(planPolicies)) expect(planBreaks.some((b) => b.policy === policy), policy).toBe(true);
  });

  it.each(planBreaks.map((b) => [b.policy, b.description, b] as const))('%s fails when %s', (policy, description, planBreak) => {
    const plan = structuredClone(runs.get('dev')!.plan) as Plan;
    expect(plan, 'the dev plan').toBeDefined();
    planBreak.edit(plan);
    expect(planPolicies[policy]!(new PlanModel(plan)).length, `${policy} on a plan where ${description}`).toBeGreaterThan(0);
  });

  it('the topology check fails on a plan whose function has another timeout', () => {
    const plan = structuredClone(runs.get('dev')!.plan) as Plan;
    only(changes(plan, 'aws_lambda_function'), 'function').change.after!.timeout = 899;
    expect(topologyDifferences(new PlanModel(plan)).join('\n')).toMatch(/timeout.*899/);
  });
});

const tofu = openTofu();
if (!tofu) notice('OpenTofu is not built here: its two plan tests are SKIPPED (npm run tofu:setup -- --tofu-only builds it)');

describe('OpenTofu', () => {
  it.skipIf(!tofu).each(environments)(`%s: init, validate, plan and show -json succeed (${tofu ? tofu.binary : 'SKIPPED: no tofu; npm run tofu:setup -- --tofu-only builds it'})`, async (environment) => {
    const root = await copyProject();
    try {
      const run = await planEnvironment(tofu!, root, environment, await toolEnvironment());
      expect(run.failure ? `${run.failure.step} failed:\n${run.failure.output}` : 'ok').toBe('ok');
      for (const policy of Object.values(planPolicies)) expect(policy(new PlanModel(run.plan!))).toEqual([]);
    } finally {
      await removeCopy(root);
    }
  }, 300_000);
});
