/**
 * Every EMF metric of the application that counts lost or rejected events (names with
 * Undelivered, Lost or Rejected, in namespace EventFlows) has an alarm (> 0 in 5 minutes,
 * actions to the SNS topic) on exactly the dimensions the code emits. The metrics are read
 * from functions/ (countMetric(...) and countMetrics(...) calls, which add the Environment
 * dimension, and literal EMF blocks); a synthetic metric and a broken copy of terraform/
 * show the check can fail.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as topology from '../../scripts/local/topology.ts';
import { loadTerraform, type Block, type TerraformConfig } from './terraform-config.ts';

const repo = path.resolve(import.meta.dirname, '../..');
const terraformRoot = path.join(repo, 'terraform');
const LOSS = /Undelivered|Lost|Rejected/;

/** A metric the code emits: its name and each dimension, with the literal value or null when computed. */
interface EmittedMetric {
  name: string;
  dimensions: Record<string, string | null>;
  file: string;
}

async function sources(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const full = path.join(entry.parentPath, entry.name);
    out.set(path.relative(repo, full), await readFile(full, 'utf8'));
  }
  return out;
}

/** The metrics in countMetric(name, value, { Dim: value }) and countMetrics({ Name: value }, { Dim: value }) calls and in literal EMF `Metrics: [{ Name }]` blocks. */
export function emittedMetrics(files: Map<string, string>): EmittedMetric[] {
  const metrics: EmittedMetric[] = [];
  const dimensionsOf = (text: string): Record<string, string | null> =>
    Object.fromEntries([...text.matchAll(/(\w+):\s*([^,}]+)/g)].map((m) => [m[1]!, /^'([^']*)'$/.exec(m[2]!.trim())?.[1] ?? null]));
  for (const [file, text] of files) {
    // countMetric(s) add the environment (functions/shared/log.ts ENVIRONMENT_DIMENSION), a computed value.
    const withEnvironment = (dimensions: Record<string, string | null>) => ({ Environment: null, ...dimensions });
    for (const m of text.matchAll(/countMetric\(\s*'(\w+)'\s*,[^,]+(?:,\s*\{([^}]*)\})?\s*\)/g)) {
      metrics.push({ name: m[1]!, dimensions: withEnvironment(dimensionsOf(m[2] ?? '')), file });
    }
    for (const m of text.matchAll(/countMetrics\(\s*\{([^}]*)\}\s*(?:,\s*\{([^}]*)\})?\s*,?\s*\)/g)) {
      for (const name of m[1]!.matchAll(/(\w+):/g)) metrics.push({ name: name[1]!, dimensions: withEnvironment(dimensionsOf(m[2] ?? '')), file });
    }
    for (const block of text.matchAll(/Dimensions:\s*\[\[([^\]]*)\]\],\s*Metrics:\s*\[([\s\S]*?)\]/g)) {
      const keys = [...block[1]!.matchAll(/'(\w+)'/g)].map((k) => k[1]!);
      // The dimension values are the top-level fields of the same log line (Function: 'analytics').
      const dimensions = Object.fromEntries(keys.map((k) => [k, new RegExp(`\\b${k}:\\s*'([^']*)'`).exec(text)?.[1] ?? null]));
      for (const name of block[2]!.matchAll(/Name:\s*'(\w+)'/g)) metrics.push({ name: name[1]!, dimensions, file });
    }
  }
  return metrics;
}

/** What is wrong with the alarms on the loss metrics, given the code's metrics and terraform/. */
export function lossMetricAlarmViolations(metrics: EmittedMetric[], config: TerraformConfig, namespace: string): string[] {
  const violations: string[] = [];
  const composition = config.modules.get('modules/event-flows')!;
  const alarms = config.modules.get('modules/alarms')!;
  const alarm = alarms.resource.aws_cloudwatch_metric_alarm?.application_metric;
  if (!alarm) return ['modules/alarms: no aws_cloudwatch_metric_alarm.application_metric'];
  const expectations: [string, unknown, unknown][] = [
    ['namespace', alarm.namespace, '${var.application_metrics_namespace}'],
    ['dimensions', alarm.dimensions, '${merge(var.application_metric_dimensions, each.value.dimensions)}'],
    ['namespace default', alarms.variable.application_metrics_namespace?.default, namespace],
    ['statistic', alarm.statistic, 'Sum'],
    ['period', alarm.period, 300],
    ['comparison_operator', alarm.comparison_operator, 'GreaterThanThreshold'],
    ['threshold', alarm.threshold, 0],
    ['alarm_actions', alarm.alarm_actions, ['${aws_sns_topic.alarms.arn}']],
  ];
  for (const [what, actual, expected] of expectations) if (JSON.stringify(actual) !== JSON.stringify(expected)) violations.push(`modules/alarms: application_metric ${what} is ${JSON.stringify(actual)}, not ${JSON.stringify(expected)}`);

  // Every alarm's dimensions: the common ones (the environment), then its own.
  const common = (composition.module.alarms?.application_metric_dimensions ?? {}) as Record<string, unknown>;
  const configured = Object.entries((composition.module.alarms?.application_metric_alarms ?? {}) as Record<string, Block>).map(
    ([key, a]) => [key, { ...a, dimensions: { ...common, ...((a.dimensions ?? {}) as Record<string, unknown>) } }] as [string, Block],
  );
  const dimensionValue = (value: unknown): string => String(value);
  for (const metric of metrics.filter((m) => LOSS.test(m.name))) {
    // A computed EventBus dimension is the bus name: one alarm per bus; a computed Environment is
    // the deployment's environment; literal values alarm as they are.
    const variants: Record<string, string>[] = [{}];
    for (const [key, value] of Object.entries(metric.dimensions)) {
      const computed: Record<string, string[]> = { EventBus: topology.buses.map((b) => `\${module.event_bus["${b}"].bus_name}`), Environment: ['${var.environment}'] };
      const options = value !== null ? [value] : (computed[key] ?? []);
      if (options.length === 0) violations.push(`${metric.file}: ${metric.name} has a computed ${key} dimension this test cannot name`);
      variants.splice(0, variants.length, ...variants.flatMap((v) => options.map((o) => ({ ...v, [key]: o }))));
    }
    for (const dims of variants) {
      const found = configured.some(
        ([, a]) =>
          a.metric_name === metric.name &&
          JSON.stringify(Object.entries((a.dimensions ?? {}) as Record<string, unknown>).map(([k, v]) => [k, dimensionValue(v)]).sort()) === JSON.stringify(Object.entries(dims).sort()),
      );
      if (!found) violations.push(`${metric.file}: ${metric.name} ${JSON.stringify(dims)} has no alarm in module.alarms application_metric_alarms`);
    }
  }
  return violations;
}

let files: Map<string, string>;
let config: TerraformConfig;
let namespace: string;
beforeAll(async () => {
  files = await sources(path.join(repo, 'functions'));
  config = await loadTerraform(terraformRoot);
  namespace = /METRICS_NAMESPACE = '(\w+)'/.exec(files.get('functions/shared/log.ts') ?? '')?.[1] ?? '';
});

describe('alarms on the application metrics that count lost or rejected events', () => {
  it('finds the metrics in the code', () => {
    expect(namespace).toBe('EventFlows');
    const names = [...new Set(emittedMetrics(files).map((m) => m.name))].sort();
    for (const name of ['UndeliveredEvents', 'LostToLogEvents', 'AnalyticsEventsRejected']) expect(names).toContain(name);
  });

  it('every one has an alarm > 0 over 5 minutes to the SNS topic, on the dimensions the code emits', () => {
    expect(lossMetricAlarmViolations(emittedMetrics(files), config, namespace)).toEqual([]);
  });

  it('fails for a new loss metric without an alarm (synthetic source)', () => {
    const synthetic = new Map(files).set('functions/import/synthetic.ts', "countMetric('ImportItemsLost', lost, { Function: 'import' });");
    expect(lossMetricAlarmViolations(emittedMetrics(synthetic), config, namespace)).toEqual([
      'functions/import/synthetic.ts: ImportItemsLost {"Environment":"${var.environment}","Function":"import"} has no alarm in module.alarms application_metric_alarms',
    ]);
  });

  it('fails when the composition drops an alarm (LostToLogEvents on the app bus)', () => {
    const composition = config.modules.get('modules/event-flows')!;
    const alarmsCall = composition.module.alarms!;
    const { ['app-lost-to-log-events']: dropped, ...rest } = alarmsCall.application_metric_alarms as Record<string, Block>;
    expect(dropped).toBeDefined();
    const broken: TerraformConfig = {
      ...config,
      modules: new Map(config.modules).set('modules/event-flows', { ...composition, module: { ...composition.module, alarms: { ...alarmsCall, application_metric_alarms: rest } } }),
    };
    expect(lossMetricAlarmViolations(emittedMetrics(files), broken, namespace)).toEqual([
      'functions/shared/events/publisher.ts: LostToLogEvents {"Environment":"${var.environment}","EventBus":"${module.event_bus[\\"app\\"].bus_name}"} has no alarm in module.alarms application_metric_alarms',
    ]);
  });
});
