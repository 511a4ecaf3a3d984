/**
 * Drift between scripts/local/topology.ts (what the local stack provisions) and terraform/
 * (what AWS gets). The composition module declares the topology as literal maps in
 * terraform/modules/event-flows/topology.tf and builds every resource from them; this test
 * compares those maps field by field with topology.ts, and checks that the modules are
 * really built from them.
 */
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as topology from '../../scripts/local/topology.ts';
import { loadTerraform, strings, type Block, type ModuleConfig } from './terraform-config.ts';

const terraformRoot = path.resolve(import.meta.dirname, '../../terraform');
const compositionDir = 'modules/event-flows';

/** The topology as terraform/ declares it, in topology.ts's shape. */
export interface DeclaredTopology {
  functions: Record<string, { description: string; memoryMb: number; timeoutSeconds: number }>;
  tables: Record<string, { hashKey: string; rangeKey: string; ttlAttribute: string; indexes: { name: string; hashKey: string; rangeKey: string }[] }>;
  queues: Record<string, { maxReceiveCount: number; consumer: string; batchSize: number; batchingWindowSeconds: number; maximumConcurrency: number }>;
  buses: string[];
  rules: Record<string, { bus: string; eventPattern: unknown; targetQueue: string }>;
  routes: Record<string, { function: string; auth: string }>;
}

export function declaredTopology(locals: Record<string, Block>): DeclaredTopology {
  const map = <T>(value: Record<string, Block> | undefined, f: (v: Block) => T): Record<string, T> =>
    Object.fromEntries(Object.entries(value ?? {}).map(([k, v]) => [k, f(v)]));
  return {
    functions: map(locals.functions, (f) => ({ description: f.description, memoryMb: f.memory_mb, timeoutSeconds: f.timeout_seconds })),
    tables: map(locals.tables, (t) => ({
      hashKey: t.hash_key,
      rangeKey: t.range_key,
      ttlAttribute: t.ttl_attribute,
      indexes: (t.indexes as Block[]).map((i) => ({ name: i.name, hashKey: i.hash_key, rangeKey: i.range_key })),
    })),
    queues: map(locals.queues, (q) => ({
      maxReceiveCount: q.max_receive_count,
      consumer: q.consumer,
      batchSize: q.batch_size,
      batchingWindowSeconds: q.batching_window_seconds,
      maximumConcurrency: q.maximum_concurrency,
    })),
    buses: locals.buses as unknown as string[],
    rules: map(locals.rules, (r) => ({ bus: r.bus, eventPattern: r.event_pattern, targetQueue: r.target_queue })),
    routes: map(locals.routes, (r) => ({ function: r.function, auth: r.auth })),
  };
}

/** topology.ts in the same shape (plain data, index order kept). */
export function expectedTopology(t: Pick<typeof topology, 'functions' | 'tables' | 'queues' | 'buses' | 'rules' | 'routes'>): DeclaredTopology {
  return JSON.parse(
    JSON.stringify({ functions: t.functions, tables: t.tables, queues: t.queues, buses: t.buses, rules: t.rules, routes: t.routes }),
  ) as DeclaredTopology;
}

/** Differences between two values, as readable paths (empty when equal). */
export function diff(expected: unknown, actual: unknown, at = ''): string[] {
  if (Array.isArray(expected) || Array.isArray(actual)) {
    if (!Array.isArray(expected) || !Array.isArray(actual)) return [`${at}: ${JSON.stringify(expected)} in topology.ts, ${JSON.stringify(actual)} in terraform`];
    const out: string[] = [];
    for (let i = 0; i < Math.max(expected.length, actual.length); i++) out.push(...diff(expected[i], actual[i], `${at}[${i}]`));
    return out;
  }
  if (expected && actual && typeof expected === 'object' && typeof actual === 'object') {
    const keys = new Set([...Object.keys(expected), ...Object.keys(actual)]);
    return [...keys].flatMap((k) => diff((expected as Block)[k], (actual as Block)[k], at ? `${at}.${k}` : k));
  }
  return expected === actual ? [] : [`${at}: ${JSON.stringify(expected)} in topology.ts, ${JSON.stringify(actual)} in terraform`];
}

let composition: ModuleConfig;
let modules: Map<string, ModuleConfig>;
beforeAll(async () => {
  const config = await loadTerraform(terraformRoot);
  modules = config.modules;
  composition = config.modules.get(compositionDir)!;
});

const expression = (value: unknown): string => strings(value).join(' ');

describe('terraform declares the topology of scripts/local/topology.ts', () => {
  const sections = ['functions', 'tables', 'queues', 'buses', 'rules', 'routes'] as const;

  it.each(sections)('%s match field by field', (section) => {
    const declared = declaredTopology(composition.locals)[section];
    const expected = expectedTopology(topology)[section];
    expect(diff(expected, declared)).toEqual([]);
  });

  it('the comparison catches drift (a changed topology.ts is reported)', () => {
    const changed = expectedTopology(topology);
    changed.tables.data!.indexes[1]!.rangeKey = 'modifiedSort';
    changed.queues.import!.maxReceiveCount = 3;
    (changed.rules['analytics-to-processor']!.eventPattern as Block)['detail-type'] = [{ suffix: '_METRICS' }];
    changed.routes['GET /health'] = { function: 'query', auth: 'jwt' };
    changed.routes['DELETE /imports/{importId}'] = { function: 'event-processor', auth: 'jwt' };
    changed.buses.push('audit');
    const differences = sections.flatMap((s) => diff(changed[s], declaredTopology(composition.locals)[s], s));
    expect(differences).toHaveLength(6);
  });

  it('functions get the environment of functionEnvironment() (plus the JWT settings)', () => {
    const expected = Object.keys(
      topology.functionEnvironment({ table: (t) => t, bus: (b) => b, queueUrl: (q) => q, environment: 'test' }),
    ).sort();
    expect(Object.keys(composition.locals.function_environment).sort()).toEqual(expected);
    expect(Object.keys(composition.locals.jwt_environment).sort()).toEqual(['JWT_AUDIENCE', 'JWT_ISSUER']);
    expect(expression(composition.module.function?.environment_variables)).toContain('local.function_environment');
  });
});

describe('the modules are built from those maps', () => {
  it('tables: one per local.tables entry with its keys, TTL attribute and indexes', () => {
    const call = composition.module.table!;
    expect(call.for_each).toBe('${local.tables}');
    expect(call.hash_key).toBe('${each.value.hash_key}');
    expect(call.range_key).toBe('${each.value.range_key}');
    expect(call.ttl_attribute).toBe('${each.value.ttl_attribute}');
    const indexes = expression(call.global_secondary_indexes);
    for (const field of ['index.name', 'index.hash_key', 'index.range_key', 'each.value.indexes']) expect(indexes).toContain(field);
    const table = modules.get('modules/table')!.resource.aws_dynamodb_table!.this!;
    expect(table.hash_key).toBe('${var.hash_key}');
    expect(table.range_key).toBe('${var.range_key}');
    expect(table.ttl[0].attribute_name).toBe('${var.ttl_attribute}');
    expect(expression(table.dynamic.global_secondary_index)).toContain('var.global_secondary_indexes');
  });

  it('queues: one per local.queues entry with its redrive count, consumer and batching', () => {
    const call = composition.module.queue!;
    expect(call.for_each).toBe('${local.queues}');
    expect(call.max_receive_count).toBe('${each.value.max_receive_count}');
    expect(expression(call.consumer_function_name)).toContain('module.function[each.value.consumer]');
    expect(expression(call.consumer_timeout_seconds)).toContain('local.functions[each.value.consumer].timeout_seconds');
    expect(call.batch_size).toBe('${each.value.batch_size}');
    expect(call.batching_window_seconds).toBe('${each.value.batching_window_seconds}');
    expect(call.maximum_concurrency).toBe('${each.value.maximum_concurrency}');
    const queue = modules.get('modules/queue')!;
    expect(queue.resource.aws_sqs_queue!.dlq!.name).toBe('${var.name}-dlq');
    const mapping = queue.resource.aws_lambda_event_source_mapping!.this!;
    expect(mapping.batch_size).toBe('${var.batch_size}');
    expect(mapping.maximum_batching_window_in_seconds).toBe('${var.batching_window_seconds}');
    expect(mapping.scaling_config[0].maximum_concurrency).toBe('${var.maximum_concurrency}');
    expect(mapping.function_response_types).toEqual(['ReportBatchItemFailures']);
    expect(expression(queue.resource.aws_sqs_queue_redrive_policy!.this!.redrive_policy)).toContain('var.max_receive_count');
  });

  it('buses and rules: one bus per local.buses entry, each rule on its bus, with its pattern, targeting its queue', () => {
    const call = composition.module.event_bus!;
    expect(expression(call.for_each)).toContain('local.buses');
    const rules = expression(call.rules);
    for (const field of ['local.rules', 'rule.bus == each.key', 'jsonencode(rule.event_pattern)', 'module.queue[rule.target_queue].queue_arn', 'rule.target_queue']) {
      expect(rules).toContain(field);
    }
    const bus = modules.get('modules/event-bus')!;
    expect(bus.resource.aws_cloudwatch_event_rule!.this!.event_pattern).toBe('${each.value.event_pattern}');
    expect(bus.resource.aws_cloudwatch_event_target!.this!.arn).toBe('${each.value.target_queue_arn}');
    // Delivery failures go to `<queue>-delivery-dlq`, as topology.ts says.
    expect(bus.resource.aws_sqs_queue!.delivery_dlq!.name).toBe('${each.value.target_queue_name}-delivery-dlq');
  });

  it('routes: the API gets local.routes, with the function and auth of each', () => {
    expect(composition.module.http_api!.routes).toBe('${local.routes}');
    const route = modules.get('modules/http-api')!.resource.aws_apigatewayv2_route!.this!;
    expect(route.for_each).toBe('${var.routes}');
    expect(route.route_key).toBe('${each.key}');
    expect(expression(route.target)).toContain('aws_apigatewayv2_integration.this[each.value.function]');
    expect(expression(route.authorization_type)).toContain('each.value.auth == "jwt" ? "JWT" : "NONE"');
    expect(expression(route.authorizer_id)).toContain('aws_apigatewayv2_authorizer.jwt.id');
  });

  it('functions: one per local.functions entry with its memory and timeout', () => {
    const call = composition.module.function!;
    expect(call.for_each).toBe('${local.functions}');
    expect(call.memory_mb).toBe('${each.value.memory_mb}');
    expect(call.timeout_seconds).toBe('${each.value.timeout_seconds}');
    expect(Object.keys(composition.locals.function_policies).sort()).toEqual(Object.keys(topology.functions).sort());
  });
});
