/**
 * What a plan must contain for the topology of terraform/modules/event-flows/topology.json
 * (the one the local stack also provisions, through scripts/local/topology.ts): each function,
 * table, queue, bus, rule and route with its settings, and nothing the topology does not
 * declare. Returns the differences (empty: the plan builds exactly the topology).
 */
import { canonicalJson } from '../../functions/shared/analytics/keys.ts';
import * as topology from '../../scripts/local/topology.ts';
import { PlanModel } from './plan-policies.ts';

export function topologyDifferences(plan: PlanModel): string[] {
  const out: string[] = [];
  const environment = plan.plan.variables?.environment?.value as string;
  const name = (key: string) => `event-flows-${environment}-${key}`;
  const byName = (type: string, attribute = 'name') => new Map(plan.all(type).map((r) => [r.values[attribute] as string, r]));
  const expectSame = (what: string, expected: unknown, actual: unknown) => {
    if (JSON.stringify(expected) !== JSON.stringify(actual)) out.push(`${what}: topology ${JSON.stringify(expected)}, plan ${JSON.stringify(actual)}`);
  };
  const expectKeys = (what: string, expected: string[], actual: Iterable<string>) => expectSame(`${what} (names)`, [...expected].sort(), [...actual].sort());

  const functions = byName('aws_lambda_function', 'function_name');
  expectKeys('functions', Object.keys(topology.functions).map(name), functions.keys());
  const environmentNames = Object.keys(topology.functionEnvironment({ table: String, bus: String, queueUrl: String, environment }));
  for (const [key, declared] of Object.entries(topology.functions)) {
    const fn = functions.get(name(key));
    if (!fn) continue;
    expectSame(`function ${key} memory, timeout, description`, [declared.memoryMb, declared.timeoutSeconds, declared.description], [fn.values.memory_size, fn.values.timeout, fn.values.description]);
    // Variables whose value is unknown until apply (queue URLs) are listed in after_unknown only.
    const variables = new Set([...Object.keys(fn.values.environment?.[0]?.variables ?? {}), ...Object.keys(fn.unknown.environment?.[0]?.variables ?? {})]);
    const missing = environmentNames.filter((v) => !variables.has(v));
    if (missing.length > 0) out.push(`function ${key} lacks the environment variables ${missing.join(', ')} (functionEnvironment() in scripts/local/topology.ts)`);
  }

  const tables = byName('aws_dynamodb_table');
  expectKeys('tables', Object.keys(topology.tables).map(name), tables.keys());
  for (const [key, declared] of Object.entries(topology.tables)) {
    const table = tables.get(name(key));
    if (!table) continue;
    expectSame(`table ${key} keys and TTL`, [declared.hashKey, declared.rangeKey, declared.ttlAttribute], [table.values.hash_key, table.values.range_key, table.values.ttl?.[0]?.attribute_name]);
    const indexes = ((table.values.global_secondary_index ?? []) as { name: string; key_schema: { attribute_name: string; key_type: string }[]; projection_type: string }[])
      .map((i) => ({
        name: i.name,
        hashKey: i.key_schema.find((k) => k.key_type === 'HASH')?.attribute_name,
        rangeKey: i.key_schema.find((k) => k.key_type === 'RANGE')?.attribute_name,
        projection: i.projection_type,
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
    expectSame(`table ${key} indexes`, [...declared.indexes].sort((a, b) => a.name.localeCompare(b.name)), indexes);
  }

  const queues = byName('aws_sqs_queue');
  const ruleDlqs = topology.ruleTargetQueues().map((q) => name(`${q}-delivery-dlq`));
  expectKeys('queues', [...Object.keys(topology.queues).flatMap((q) => [name(q), name(`${q}-dlq`)]), ...ruleDlqs], queues.keys());
  const mappings = plan.all('aws_lambda_event_source_mapping');
  const redrives = plan.all('aws_sqs_queue_redrive_policy');
  // An environment may raise a consumer's concurrency (queue_consumer_concurrency in its tfvars).
  const concurrencyOverrides = (plan.plan.variables?.queue_consumer_concurrency?.value ?? {}) as Record<string, number>;
  for (const [key, declared] of Object.entries(topology.queues)) {
    const queue = queues.get(name(key));
    if (!queue) continue;
    const mapping = mappings.find((m) => plan.referenced(m, ['event_source_arn'], 'aws_sqs_queue').includes(queue));
    expectSame(
      `queue ${key} consumer, batch size, batching window, maximum concurrency`,
      [name(declared.consumer), declared.batchSize, declared.batchingWindowSeconds, concurrencyOverrides[key] ?? declared.maximumConcurrency],
      [mapping?.values.function_name, mapping?.values.batch_size, mapping?.values.maximum_batching_window_in_seconds, mapping?.values.scaling_config?.[0]?.maximum_concurrency],
    );
    const redrive = redrives.find((r) => plan.referenced(r, ['queue_url'], 'aws_sqs_queue').includes(queue));
    const policy = typeof redrive?.values.redrive_policy === 'string' ? (JSON.parse(redrive.values.redrive_policy) as { maxReceiveCount?: number; deadLetterTargetArn?: string }) : undefined;
    expectSame(`queue ${key} redrive (maxReceiveCount, DLQ)`, [declared.maxReceiveCount, name(`${key}-dlq`)], [policy?.maxReceiveCount, policy?.deadLetterTargetArn?.split(':').at(-1)]);
  }

  expectKeys('buses', topology.buses.map(name), byName('aws_cloudwatch_event_bus').keys());
  // Archives: exactly the buses topology.json archives, each with its pattern.
  const archives = plan.all('aws_cloudwatch_event_archive');
  expectKeys('archives (buses)', Object.keys(topology.archives), archives.map((a) => /event_bus\["([^"]+)"\]/.exec(a.module)?.[1] ?? a.module));
  for (const [bus, declared] of Object.entries(topology.archives)) {
    const archive = archives.find((a) => a.module.includes(`event_bus["${bus}"]`));
    if (archive) expectSame(`archive of ${bus} event pattern`, canonicalJson(declared.eventPattern), canonicalJson(JSON.parse(String(archive.values.event_pattern))));
  }

  const rules = byName('aws_cloudwatch_event_rule');
  // `${own_account}` in a pattern is the account Terraform plans in.
  const account = String(plan.data('aws_caller_identity')[0]?.values.account_id);
  expectKeys('rules', Object.keys(topology.rules).map(name), rules.keys());
  const targets = plan.all('aws_cloudwatch_event_target');
  for (const [key, declared] of Object.entries(topology.rules)) {
    const rule = rules.get(name(key));
    if (!rule) continue;
    // jsonencode sorts keys: compare the patterns key order aside.
    expectSame(`rule ${key} bus and event pattern`, [name(declared.bus), canonicalJson(topology.eventPatternFor(declared, account))], [rule.values.event_bus_name, canonicalJson(JSON.parse(String(rule.values.event_pattern)))]);
    const target = targets.find((t) => t.values.rule === name(key));
    expectSame(`rule ${key} target queue and delivery DLQ`, [name(declared.targetQueue), name(`${declared.targetQueue}-delivery-dlq`)], [target?.values.target_id, target?.values.dead_letter_config?.[0]?.arn?.split(':').at(-1)]);
  }

  const api = plan.all('aws_apigatewayv2_api')[0];
  const corsConfiguration = api?.values.cors_configuration?.[0] as Record<string, unknown> | undefined;
  const sorted = (list: unknown) => (Array.isArray(list) ? [...(list as string[])].sort() : list);
  expectSame(
    'API CORS (methods, request headers, exposed headers, max age)',
    [sorted(topology.cors.allowMethods), sorted(topology.cors.allowHeaders), sorted(topology.cors.exposeHeaders), topology.cors.maxAgeSeconds],
    [sorted(corsConfiguration?.allow_methods), sorted(corsConfiguration?.allow_headers), sorted(corsConfiguration?.expose_headers), corsConfiguration?.max_age],
  );

  const routes = byName('aws_apigatewayv2_route', 'route_key');
  const routeSettings = (plan.all('aws_apigatewayv2_stage')[0]?.values.route_settings ?? []) as { route_key: string; throttling_burst_limit: number; throttling_rate_limit: number }[];
  expectKeys('routes', Object.keys(topology.routes), routes.keys());
  const integrations = plan.all('aws_apigatewayv2_integration');
  for (const [key, declared] of Object.entries(topology.routes)) {
    const route = routes.get(key);
    if (!route) continue;
    expectSame(`route ${key} authorization`, declared.auth === 'jwt' ? 'JWT' : 'NONE', route.values.authorization_type);
    expectSame(`route ${key} authorization scopes`, declared.scopes ?? null, route.values.authorization_scopes ?? null);
    const settings = routeSettings.find((r) => r.route_key === key);
    expectSame(
      `route ${key} throttle (burst, rate)`,
      declared.throttle ? [declared.throttle.burstLimit, declared.throttle.rateLimit] : null,
      settings ? [settings.throttling_burst_limit, settings.throttling_rate_limit] : null,
    );
    // The integration a route targets is keyed by its function (aws_apigatewayv2_integration.this["query"]).
    const integration = integrations.find((i) => i.address.endsWith(`.aws_apigatewayv2_integration.this["${declared.function}"]`));
    if (!integration) out.push(`route ${key}: no integration for the function ${declared.function}`);
  }
  return out;
}
