/**
 * The project's infrastructure policies, stated over the JSON of a saved plan
 * (`terraform show -json`): planned values after variables, defaults and module wiring. Each
 * policy returns its violations (empty: it holds), so tests apply it both to the real plans
 * and to plans of deliberately broken copies.
 *
 * Values the provider computes (ARNs, IDs) are unknown in a plan. Where a policy needs to know
 * which resource such a value points to, it follows the configuration's references inside the
 * same module instance (e.g. an event source mapping's `event_source_arn` refers to
 * `aws_sqs_queue.this`), as the plan's `configuration` section records them.
 */

import type { Plan, PlanConfigModule as ConfigModule, PlanStateModule as StateModule } from '../../scripts/terraform-plan.ts';

export type { Plan };
/* eslint-disable @typescript-eslint/no-explicit-any -- planned values have provider-defined shapes */
type Values = Record<string, any>;

export interface PlannedResource {
  address: string;
  /** Module instance, e.g. `module.event_flows.module.queue["import"]` ('' for the root). */
  module: string;
  mode: 'managed' | 'data';
  type: string;
  name: string;
  /** Known planned values (unknown ones are absent or null). */
  values: Values;
  /** Which values are unknown until apply (true where unknown). */
  unknown: Values;
}

/** A plan, indexed: resources (to be created or kept) and data sources, with their configuration's references. */
export class PlanModel {
  readonly resources: PlannedResource[] = [];
  private readonly references = new Map<string, Values>();

  constructor(readonly plan: Plan) {
    for (const change of plan.resource_changes ?? []) {
      if (change.change.actions.includes('delete') && !change.change.actions.includes('create')) continue;
      this.resources.push({
        address: change.address,
        module: change.module_address ?? '',
        mode: change.mode,
        type: change.type,
        name: change.name,
        values: change.change.after ?? {},
        unknown: change.change.after_unknown ?? {},
      });
    }
    // Data sources read while planning are in the prior state, not among the changes.
    const seen = new Set(this.resources.map((r) => r.address));
    const walkState = (mod: StateModule | undefined, address: string): void => {
      for (const resource of mod?.resources ?? []) {
        if (resource.mode !== 'data' || seen.has(resource.address)) continue;
        this.resources.push({ address: resource.address, module: address, mode: 'data', type: resource.type, name: resource.name, values: resource.values, unknown: {} });
      }
      for (const child of mod?.child_modules ?? []) walkState(child, child.address);
    };
    walkState(plan.prior_state?.values?.root_module, '');
    const walkConfig = (mod: ConfigModule | undefined, path: string): void => {
      for (const resource of mod?.resources ?? []) this.references.set(`${path}|${resource.address}`, resource.expressions ?? {});
      for (const [name, call] of Object.entries(mod?.module_calls ?? {})) walkConfig(call.module, path ? `${path}.module.${name}` : `module.${name}`);
    };
    walkConfig(plan.configuration?.root_module, '');
  }

  /** Managed resources of a type. */
  all(type: string): PlannedResource[] {
    return this.resources.filter((r) => r.mode === 'managed' && r.type === type);
  }

  data(type: string): PlannedResource[] {
    return this.resources.filter((r) => r.mode === 'data' && r.type === type);
  }

  /**
   * The resources of `type` in the same module instance that `resource`'s `attribute` refers
   * to in the configuration (`path` walks into nested blocks, e.g. ['dead_letter_config', 'arn']).
   */
  referenced(resource: PlannedResource, path: string[], type: string): PlannedResource[] {
    const modulePath = resource.module.replace(/\[[^\]]*\]/g, '');
    let expression: any = this.references.get(`${modulePath}|${resource.mode === 'data' ? 'data.' : ''}${resource.type}.${resource.name}`);
    for (const key of path) expression = Array.isArray(expression) ? expression[0]?.[key] : expression?.[key];
    const names = new Set(((expression?.references ?? []) as string[]).map((ref) => new RegExp(`^${type}\\.([A-Za-z0-9_-]+)`).exec(ref)?.[1]).filter(Boolean));
    return this.all(type).filter((r) => r.module === resource.module && names.has(r.name));
  }

  /** Whether the planned value at `path` is unknown until apply. */
  static isUnknown(resource: PlannedResource, path: (string | number)[]): boolean {
    let flag: any = resource.unknown;
    for (const key of path) flag = flag?.[key];
    return flag === true;
  }
}

export type PlanPolicy = (plan: PlanModel) => string[];

const first = (value: unknown): Values | undefined => (Array.isArray(value) ? (value[0] as Values | undefined) : undefined);
const queueNameOfArn = (arn: unknown): string | undefined => (typeof arn === 'string' ? arn.split(':').at(-1) : undefined);
const parseJson = (text: unknown): Values | undefined => {
  if (typeof text !== 'string') return undefined;
  try {
    return JSON.parse(text) as Values;
  } catch {
    return undefined;
  }
};

/** Queue names that serve as dead-letter queues: the targets of redrive policies and of rule targets' dead_letter_config. */
export function deadLetterQueueNames(plan: PlanModel): Set<string> {
  const names = new Set<string>();
  for (const redrive of plan.all('aws_sqs_queue_redrive_policy')) {
    const name = queueNameOfArn(parseJson(redrive.values.redrive_policy)?.deadLetterTargetArn);
    if (name) names.add(name);
  }
  for (const queue of plan.all('aws_sqs_queue')) {
    const name = queueNameOfArn(parseJson(queue.values.redrive_policy)?.deadLetterTargetArn);
    if (name) names.add(name);
  }
  for (const target of plan.all('aws_cloudwatch_event_target')) {
    const name = queueNameOfArn(first(target.values.dead_letter_config)?.arn);
    if (name) names.add(name);
  }
  return names;
}

/** Every SQS queue has a redrive policy with maxReceiveCount >= 5 to a planned DLQ, or is itself a DLQ. */
export const everyQueueHasRedriveOrIsDlq: PlanPolicy = (plan) => {
  const violations: string[] = [];
  const dlqs = deadLetterQueueNames(plan);
  const queueNames = new Set(plan.all('aws_sqs_queue').map((q) => q.values.name as string));
  const redriveOf = new Map<string, { policy?: Values; address: string }>();
  for (const redrive of plan.all('aws_sqs_queue_redrive_policy')) {
    for (const queue of plan.referenced(redrive, ['queue_url'], 'aws_sqs_queue')) redriveOf.set(queue.address, { policy: parseJson(redrive.values.redrive_policy), address: redrive.address });
  }
  for (const queue of plan.all('aws_sqs_queue')) {
    const name = queue.values.name as string;
    if (dlqs.has(name)) continue;
    const redrive = redriveOf.get(queue.address) ?? (queue.values.redrive_policy ? { policy: parseJson(queue.values.redrive_policy), address: queue.address } : undefined);
    if (!redrive) {
      violations.push(`${queue.address} (${name}) has no redrive policy and is no DLQ`);
      continue;
    }
    if (!redrive.policy) {
      violations.push(`${redrive.address}: the redrive policy of ${name} is not known when planning, so its maxReceiveCount cannot be checked`);
      continue;
    }
    const count = Number(redrive.policy.maxReceiveCount);
    if (!(count >= 5)) violations.push(`${redrive.address}: ${name} moves messages to its DLQ after ${redrive.policy.maxReceiveCount} receives (< 5)`);
    const target = queueNameOfArn(redrive.policy.deadLetterTargetArn);
    if (!target || !queueNames.has(target)) violations.push(`${redrive.address}: ${name}'s deadLetterTargetArn ${String(redrive.policy.deadLetterTargetArn)} is no planned queue`);
  }
  return violations;
};

/** Every queue polled by a function: visibility timeout >= 6 x the function's timeout + the batching window. */
export const queueVisibilityCoversConsumer: PlanPolicy = (plan) => {
  const violations: string[] = [];
  const functions = new Map(plan.all('aws_lambda_function').map((f) => [f.values.function_name as string, f]));
  const mappings = plan.all('aws_lambda_event_source_mapping');
  if (mappings.length === 0) violations.push('no event source mapping in the plan');
  for (const mapping of mappings) {
    const [queue] = plan.referenced(mapping, ['event_source_arn'], 'aws_sqs_queue');
    const fn = functions.get(mapping.values.function_name as string);
    if (!queue || !fn) {
      violations.push(`${mapping.address}: polls no planned queue or invokes no planned function (${String(mapping.values.function_name)})`);
      continue;
    }
    const window = Number(mapping.values.maximum_batching_window_in_seconds ?? 0);
    const minimum = 6 * Number(fn.values.timeout) + window;
    const visibility = Number(queue.values.visibility_timeout_seconds);
    if (!(visibility >= minimum)) {
      violations.push(`${queue.values.name as string}: visibility timeout ${visibility} s < 6 x ${fn.values.timeout as number} s (${fn.values.function_name as string}) + ${window} s = ${minimum} s`);
    }
  }
  return violations;
};

/** Whether an alarm's actions are the SNS topic of its module (the topic's ARN is unknown until apply). */
function notifiesTopic(plan: PlanModel, alarm: PlannedResource): boolean {
  const actions = alarm.values.alarm_actions as unknown[] | undefined;
  return (actions?.length ?? 0) > 0 && plan.referenced(alarm, ['alarm_actions'], 'aws_sns_topic').length > 0;
}

/** Every DLQ has a depth alarm (> 0 messages) and an oldest-message-age alarm, both sending to the SNS topic. */
export const everyDlqHasDepthAndAgeAlarms: PlanPolicy = (plan) => {
  const violations: string[] = [];
  const alarms = plan.all('aws_cloudwatch_metric_alarm').filter((a) => a.values.namespace === 'AWS/SQS');
  const dlqs = deadLetterQueueNames(plan);
  if (dlqs.size === 0) violations.push('the plan has no DLQ');
  for (const dlq of dlqs) {
    const on = (metric: string) => alarms.filter((a) => a.values.metric_name === metric && a.values.dimensions?.QueueName === dlq);
    const depth = on('ApproximateNumberOfMessagesVisible').filter((a) => a.values.comparison_operator === 'GreaterThanThreshold' && a.values.threshold === 0);
    const age = on('ApproximateAgeOfOldestMessage').filter((a) => a.values.comparison_operator === 'GreaterThanThreshold');
    if (depth.length === 0) violations.push(`DLQ ${dlq} has no depth > 0 alarm`);
    if (age.length === 0) violations.push(`DLQ ${dlq} has no oldest-message-age alarm`);
    for (const alarm of [...depth, ...age]) if (!notifiesTopic(plan, alarm)) violations.push(`${alarm.address} does not send to the SNS topic`);
  }
  return violations;
};

/** Every route except GET /health passes a JWT authorizer. */
export const everyRouteButHealthUsesJwt: PlanPolicy = (plan) => {
  const violations: string[] = [];
  const routes = plan.all('aws_apigatewayv2_route');
  if (routes.length === 0) violations.push('the plan has no route');
  for (const route of routes) {
    const key = route.values.route_key as string;
    if (key === 'GET /health') continue;
    const authorizers = plan.referenced(route, ['authorizer_id'], 'aws_apigatewayv2_authorizer');
    if (route.values.authorization_type !== 'JWT') violations.push(`route ${key}: authorization_type ${String(route.values.authorization_type)}, not JWT`);
    else if (!authorizers.some((a) => a.values.authorizer_type === 'JWT')) violations.push(`route ${key}: no JWT authorizer attached`);
  }
  return violations;
};

/** Every function runs on arm64 and logs to a planned log group with a retention. */
export const everyFunctionIsArm64WithLogRetention: PlanPolicy = (plan) => {
  const violations: string[] = [];
  const groups = new Map(plan.all('aws_cloudwatch_log_group').map((g) => [g.values.name as string, g]));
  const functions = plan.all('aws_lambda_function');
  if (functions.length === 0) violations.push('the plan has no function');
  for (const fn of functions) {
    const name = fn.values.function_name as string;
    if (JSON.stringify(fn.values.architectures) !== '["arm64"]') violations.push(`function ${name}: architectures ${JSON.stringify(fn.values.architectures)}, not ["arm64"]`);
    const groupName = first(fn.values.logging_config)?.log_group as string | undefined;
    const group = groupName ? groups.get(groupName) : undefined;
    if (!group) violations.push(`function ${name}: logs to ${groupName ?? 'no log group'}, which the plan does not create`);
    else if (!(Number(group.values.retention_in_days) > 0)) violations.push(`function ${name}: its log group ${groupName} keeps logs forever (no retention)`);
  }
  return violations;
};

/** No IAM statement anywhere (policy documents, inline policies) allows a wildcard action. */
export const noWildcardActions: PlanPolicy = (plan) => {
  const violations: string[] = [];
  const check = (where: string, actions: unknown): void => {
    for (const action of [actions].flat()) if (typeof action === 'string' && action.includes('*')) violations.push(`${where} allows the wildcard action "${action}"`);
  };
  for (const document of plan.data('aws_iam_policy_document')) {
    // A wildcard in a Deny only takes access away (the static site's deny of non-TLS access covers s3:*).
    for (const statement of ((document.values.statement ?? []) as Values[]).filter((st) => st.effect !== 'Deny')) {
      check(`${document.address} statement ${statement.sid ?? ''}`, statement.actions);
      check(`${document.address} statement ${statement.sid ?? ''} (not_actions)`, statement.not_actions);
    }
  }
  // Inline JSON policies that are known when planning.
  for (const resource of plan.resources.filter((r) => r.mode === 'managed')) {
    for (const attribute of ['policy', 'assume_role_policy']) {
      const document = parseJson(resource.values[attribute]);
      for (const statement of ([document?.Statement ?? []].flat() as Values[]).filter((st) => st.Effect !== 'Deny')) check(`${resource.address} ${attribute}`, statement.Action);
    }
  }
  return violations;
};

/** Every DynamoDB table has point-in-time recovery and TTL on. */
export const everyTableHasPitrAndTtl: PlanPolicy = (plan) => {
  const violations: string[] = [];
  const tables = plan.all('aws_dynamodb_table');
  if (tables.length === 0) violations.push('the plan has no table');
  for (const table of tables) {
    const name = table.values.name as string;
    if (first(table.values.point_in_time_recovery)?.enabled !== true) violations.push(`table ${name} has no point-in-time recovery`);
    const ttl = first(table.values.ttl);
    if (ttl?.enabled !== true || !ttl.attribute_name) violations.push(`table ${name} has no TTL`);
  }
  return violations;
};

/** Every EventBridge rule target has an explicit retry policy and a dead-letter queue the plan creates. */
export const everyRuleTargetHasRetryAndDlq: PlanPolicy = (plan) => {
  const violations: string[] = [];
  const queueNames = new Set(plan.all('aws_sqs_queue').map((q) => q.values.name as string));
  const targets = plan.all('aws_cloudwatch_event_target');
  if (targets.length === 0) violations.push('the plan has no rule target');
  for (const target of targets) {
    const retry = first(target.values.retry_policy);
    if (typeof retry?.maximum_retry_attempts !== 'number' || typeof retry.maximum_event_age_in_seconds !== 'number') violations.push(`${target.address} has no explicit retry policy`);
    const dlq = queueNameOfArn(first(target.values.dead_letter_config)?.arn);
    if (!dlq || !queueNames.has(dlq)) violations.push(`${target.address} has no dead-letter queue the plan creates (${String(first(target.values.dead_letter_config)?.arn)})`);
  }
  return violations;
};

/**
 * Archives keep only what may outlive an erasure request: never the analytics bus (personal
 * data, 30/90-day retention by category, other accounts' events), always with an event
 * pattern, and for at most 90 days (docs/SECURITY.md, "Erasure requests").
 */
export const archivesAreSelectiveAndBounded: PlanPolicy = (plan) => {
  const violations: string[] = [];
  for (const archive of plan.all('aws_cloudwatch_event_archive')) {
    if (archive.module.includes('event_bus["analytics"]')) violations.push(`${archive.address} archives the analytics bus`);
    if (!archive.values.event_pattern) violations.push(`${archive.address} archives every event (no event_pattern)`);
    const days = archive.values.retention_days as number | undefined;
    if (typeof days !== 'number' || days < 1 || days > 90) violations.push(`${archive.address} keeps events ${String(days)} days (1 to 90 allowed; 0 is forever)`);
  }
  return violations;
};

/**
 * A user pool the plan creates can issue tokens the API accepts (docs/AUTH.md): its
 * pre-token-generation trigger (V2, which needs the Essentials tier) is the auth-triggers
 * function, which also handles pre/post authentication and post confirmation and may be
 * invoked by the pool; app clients let users write no attribute but e-mail and name.
 */
export const cognitoPoolIssuesTenantTokens: PlanPolicy = (plan) => {
  const violations: string[] = [];
  const triggers = plan.all('aws_lambda_function').find((f) => String(f.values.function_name).endsWith('-auth-triggers'));
  for (const pool of plan.all('aws_cognito_user_pool')) {
    const config = first(pool.values.lambda_config);
    const preToken = first(config?.pre_token_generation_config);
    const arnOk = (arn: unknown) => typeof arn === 'string' && triggers !== undefined && arn.endsWith(`:function:${String(triggers.values.function_name)}`);
    if (!arnOk(preToken?.lambda_arn) || preToken?.lambda_version !== 'V2_0') violations.push(`${pool.address} has no V2 pre-token-generation trigger on the auth-triggers function`);
    for (const trigger of ['pre_authentication', 'post_authentication', 'post_confirmation']) if (!arnOk(config?.[trigger])) violations.push(`${pool.address} has no ${trigger} trigger on the auth-triggers function`);
    if (pool.values.user_pool_tier !== 'ESSENTIALS' && pool.values.user_pool_tier !== 'PLUS') violations.push(`${pool.address} is on the ${String(pool.values.user_pool_tier)} tier: V2 triggers cannot customise access tokens`);
    if (!plan.all('aws_lambda_permission').some((p) => p.values.principal === 'cognito-idp.amazonaws.com' && p.values.function_name === triggers?.values.function_name)) violations.push(`no permission lets ${pool.address} invoke the auth-triggers function`);
  }
  for (const client of plan.all('aws_cognito_user_pool_client')) {
    const writable = (client.values.write_attributes ?? []) as string[];
    const extra = writable.filter((a) => a !== 'email' && a !== 'name');
    if (writable.length === 0 || extra.length > 0) violations.push(`${client.address} lets users write ${writable.length === 0 ? 'every attribute' : extra.join(', ')}`);
    // A browser signs in with the authorization code and PKCE: no implicit flow (tokens in the URL), no secret it could not keep.
    const flows = (client.values.allowed_oauth_flows ?? []) as string[];
    if (flows.some((flow) => flow !== 'code')) violations.push(`${client.address} allows the OAuth flows ${flows.join(', ')}; only code (with PKCE)`);
    if (flows.length > 0 && client.values.generate_secret === true) violations.push(`${client.address} has a client secret, which a browser cannot keep`);
  }
  return violations;
};

/**
 * Static sites (modules/static-site, the analytics dashboard): every bucket blocks public
 * access (all four flags), has ACLs off, is encrypted and versioned, and its policy admits
 * one reader, CloudFront (`s3:GetObject`, conditioned on the distribution's ARN), and
 * denies non-TLS access; every distribution reads its origins through an origin access
 * control that signs every request (no legacy origin access identity), sends viewers to
 * HTTPS, and adds the security headers (HSTS, CSP).
 */
/** The first block at each step of `path` in a resource's planned values (`rule[0].apply_...[0]`). */
const nested = (resource: PlannedResource | undefined, path: string[]): Values | undefined => path.reduce<Values | undefined>((values, key) => first(values?.[key]), resource?.values);

export const staticSitesArePrivateBehindOac: PlanPolicy = (plan) => {
  const violations: string[] = [];
  const inModule = (type: string, of: PlannedResource) => plan.resources.filter((r) => r.type === type && r.module === of.module);
  for (const bucket of plan.all('aws_s3_bucket')) {
    const block = inModule('aws_s3_bucket_public_access_block', bucket)[0];
    const flags = ['block_public_acls', 'block_public_policy', 'ignore_public_acls', 'restrict_public_buckets'];
    const open = flags.filter((flag) => block?.values[flag] !== true);
    if (open.length > 0) violations.push(`${bucket.address}: public access not blocked (${open.join(', ')})`);
    if (nested(inModule('aws_s3_bucket_ownership_controls', bucket)[0], ['rule'])?.object_ownership !== 'BucketOwnerEnforced') violations.push(`${bucket.address}: ACLs are not disabled (object ownership BucketOwnerEnforced)`);
    const encryption = nested(inModule('aws_s3_bucket_server_side_encryption_configuration', bucket)[0], ['rule', 'apply_server_side_encryption_by_default']);
    if (!encryption?.sse_algorithm) violations.push(`${bucket.address}: no default encryption`);
    if (nested(inModule('aws_s3_bucket_versioning', bucket)[0], ['versioning_configuration'])?.status !== 'Enabled') violations.push(`${bucket.address}: not versioned`);
    if (inModule('aws_s3_bucket_policy', bucket).length !== 1) violations.push(`${bucket.address}: no bucket policy`);
    const document = inModule('aws_iam_policy_document', bucket).find((d) => d.mode === 'data');
    const statements = (document?.values.statement ?? []) as Values[];
    for (const statement of statements.filter((st) => st.effect === 'Allow')) {
      const principals = (statement.principals ?? []) as Values[];
      const cloudFrontOnly = principals.length === 1 && principals[0]!.type === 'Service' && JSON.stringify(principals[0]!.identifiers) === '["cloudfront.amazonaws.com"]';
      const conditioned = ((statement.condition ?? []) as Values[]).some((c) => c.variable === 'AWS:SourceArn' && c.test === 'StringEquals');
      if (!cloudFrontOnly || !conditioned || JSON.stringify(statement.actions) !== '["s3:GetObject"]') {
        violations.push(`${bucket.address}: the policy allows ${JSON.stringify(statement.actions)} to ${JSON.stringify(principals)}, not s3:GetObject to CloudFront for one distribution (AWS:SourceArn)`);
      }
    }
    if (document && plan.referenced(document, ['statement', 'condition', 'values'], 'aws_cloudfront_distribution').length !== 1) violations.push(`${bucket.address}: the policy's AWS:SourceArn is not this module's distribution`);
    const tls = statements.some((st) => st.effect === 'Deny' && ((st.condition ?? []) as Values[]).some((c) => c.variable === 'aws:SecureTransport' && JSON.stringify(c.values) === '["false"]'));
    if (!document || !tls) violations.push(`${bucket.address}: the policy does not deny non-TLS access`);
  }
  for (const oac of plan.all('aws_cloudfront_origin_access_control')) {
    if (oac.values.signing_behavior !== 'always' || oac.values.signing_protocol !== 'sigv4' || oac.values.origin_access_control_origin_type !== 's3') violations.push(`${oac.address}: does not sign every request to S3 with SigV4`);
  }
  for (const distribution of plan.all('aws_cloudfront_distribution')) {
    for (const origin of (distribution.values.origin ?? []) as Values[]) {
      if (((origin.s3_origin_config ?? []) as unknown[]).length > 0) violations.push(`${distribution.address}: origin ${String(origin.origin_id)} uses a legacy origin access identity`);
    }
    if (plan.referenced(distribution, ['origin', 'origin_access_control_id'], 'aws_cloudfront_origin_access_control').length !== 1) violations.push(`${distribution.address}: its origin is not read through this module's origin access control`);
    const behaviours = [first(distribution.values.default_cache_behavior), ...((distribution.values.ordered_cache_behavior ?? []) as Values[])];
    for (const behaviour of behaviours) {
      if (behaviour?.viewer_protocol_policy !== 'redirect-to-https' && behaviour?.viewer_protocol_policy !== 'https-only') violations.push(`${distribution.address}: a cache behaviour allows plain HTTP (${String(behaviour?.viewer_protocol_policy)})`);
    }
    const headers = plan.referenced(distribution, ['default_cache_behavior', 'response_headers_policy_id'], 'aws_cloudfront_response_headers_policy')[0];
    const security = first(headers?.values.security_headers_config);
    if (!first(security?.strict_transport_security) || !first(security?.content_security_policy)) violations.push(`${distribution.address}: no response headers policy with HSTS and a Content-Security-Policy`);
  }
  return violations;
};

/** A failing `check` block is only a warning to `terraform plan`; here it fails (e.g. a tfvars override naming a queue that does not exist). */
const everyCheckBlockPasses: PlanPolicy = (plan) =>
  (plan.plan.checks ?? [])
    .filter((check) => check.address.kind === 'check' && check.status !== 'pass')
    .flatMap((check) => {
      const problems = (check.instances ?? []).flatMap((instance) => instance.problems ?? []).map((problem) => problem.message);
      return [`${check.address.to_display}: ${check.status}${problems.length > 0 ? ` (${problems.join('; ')})` : ''}`];
    });

export const planPolicies: Record<string, PlanPolicy> = {
  everyCheckBlockPasses,
  everyQueueHasRedriveOrIsDlq,
  queueVisibilityCoversConsumer,
  everyDlqHasDepthAndAgeAlarms,
  everyRouteButHealthUsesJwt,
  everyFunctionIsArm64WithLogRetention,
  noWildcardActions,
  everyTableHasPitrAndTtl,
  everyRuleTargetHasRetryAndDlq,
  archivesAreSelectiveAndBounded,
  cognitoPoolIssuesTenantTokens,
  staticSitesArePrivateBehindOac,
};
