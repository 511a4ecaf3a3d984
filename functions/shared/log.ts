/**
 * Structured JSON logs, redacted on the way out, and metrics in CloudWatch Embedded Metric
 * Format (a log line too: no API call).
 *
 * Every line is written straight to stdout, one JSON object per line, never through
 * console.*: the Lambda Node.js runtime patches console. With the function's log format
 * JSON it wraps each console line as the `message` string of its own JSON object (our
 * JSON encoded twice, EMF blocks no longer top level, so CloudWatch extracts no metric,
 * and the level taken from the console method); with the Text format it prefixes the line
 * with a timestamp and request id. A line written to stdout directly reaches CloudWatch
 * as it is under both formats: a top-level JSON object with our `level`, which Lambda's
 * JSON format reads for its log-level filtering.
 */
import { config } from './config.ts';
import { redact } from './redact.ts';

type Level = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

/** Lambda's application log levels (AWS_LAMBDA_LOG_LEVEL), lowest first. */
const LEVEL_RANK: Record<string, number> = { TRACE: 0, DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4, FATAL: 5 };

/** The lowest level written: Lambda's application log level, else LOG_LEVEL, else INFO. */
function minimumRank(): number {
  const name = (process.env.AWS_LAMBDA_LOG_LEVEL || process.env.LOG_LEVEL || 'INFO').toUpperCase();
  return LEVEL_RANK[name] ?? LEVEL_RANK.INFO!;
}

function writeLine(record: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(record)}\n`);
}

function write(level: Level, message: string, fields: Record<string, unknown>): void {
  if (LEVEL_RANK[level]! < minimumRank()) return;
  const extraKeys = config.redactFields().split(',').filter(Boolean);
  writeLine(redact({ timestamp: new Date().toISOString(), level, message, ...fields }, { extraKeys }) as Record<string, unknown>);
}

export const log = {
  debug: (message: string, fields: Record<string, unknown> = {}) => write('DEBUG', message, fields),
  info: (message: string, fields: Record<string, unknown> = {}) => write('INFO', message, fields),
  warn: (message: string, fields: Record<string, unknown> = {}) => write('WARN', message, fields),
  error: (message: string, fields: Record<string, unknown> = {}) => write('ERROR', message, fields),
};

export const METRICS_NAMESPACE = 'EventFlows';

/**
 * Every metric also carries the deployment's environment (ENVIRONMENT: dev, prod, ...), so
 * two environments in one account and region never add up in one metric or alarm.
 */
export const ENVIRONMENT_DIMENSION = 'Environment';

/**
 * Emits count metrics in one EMF line: `counts` maps metric names to values, all with the
 * given dimensions plus the environment.
 */
export function countMetrics(counts: Record<string, number>, dimensions: Record<string, string> = {}): void {
  const allDimensions = { [ENVIRONMENT_DIMENSION]: config.environment(), ...dimensions };
  writeLine({
    _aws: {
      Timestamp: Date.now(),
      CloudWatchMetrics: [
        {
          Namespace: METRICS_NAMESPACE,
          Dimensions: [Object.keys(allDimensions)],
          Metrics: Object.keys(counts).map((name) => ({ Name: name, Unit: 'Count' })),
        },
      ],
    },
    level: 'INFO',
    ...allDimensions,
    ...counts,
  });
}

/** Emits one count metric (see countMetrics). */
export function countMetric(name: string, value: number, dimensions: Record<string, string> = {}): void {
  countMetrics({ [name]: value }, dimensions);
}
