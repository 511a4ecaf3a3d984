/**
 * Structured JSON logs (Lambda's JSON log format reads them as is), redacted on the way out.
 * Metrics use CloudWatch Embedded Metric Format, which is a log line too: no API call.
 */
import { config } from './config.ts';
import { redact } from './redact.ts';

type Level = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

function write(level: Level, message: string, fields: Record<string, unknown>): void {
  const extraKeys = config.redactFields().split(',').filter(Boolean);
  const line = JSON.stringify(redact({ level, timestamp: new Date().toISOString(), message, ...fields }, { extraKeys }));
  if (level === 'ERROR' || level === 'WARN') console.error(line);
  else if (level !== 'DEBUG' || process.env.LOG_LEVEL === 'DEBUG') console.log(line);
}

export const log = {
  debug: (message: string, fields: Record<string, unknown> = {}) => write('DEBUG', message, fields),
  info: (message: string, fields: Record<string, unknown> = {}) => write('INFO', message, fields),
  warn: (message: string, fields: Record<string, unknown> = {}) => write('WARN', message, fields),
  error: (message: string, fields: Record<string, unknown> = {}) => write('ERROR', message, fields),
};

export const METRICS_NAMESPACE = 'EventFlows';

/** Emits one count metric in Embedded Metric Format. */
export function countMetric(name: string, value: number, dimensions: Record<string, string> = {}): void {
  console.log(
    JSON.stringify({
      _aws: {
        Timestamp: Date.now(),
        CloudWatchMetrics: [{ Namespace: METRICS_NAMESPACE, Dimensions: [Object.keys(dimensions)], Metrics: [{ Name: name, Unit: 'Count' }] }],
      },
      ...dimensions,
      [name]: value,
    }),
  );
}
