/**
 * The HTTP API's OpenAPI 3.1 document, built from the constants the functions validate with
 * (name patterns, limits, enums), so a changed limit changes the contract too. The committed
 * copy is docs/openapi.json (`npm run openapi` rewrites it and the client's types); the tests
 * check that it is current, that it names exactly the routes of topology.json, that it lints
 * clean, and (schemathesis, tests/contract/) that the running server keeps to it.
 *
 * The import request bodies are converted from the valibot schemas their handler validates
 * with (@valibot/to-json-schema). The rest is written here: those handlers validate with
 * transforms, custom checks and query strings parsed before validation, which the converter
 * cannot express (it refuses `transform` and `custom`); the fuzzer and the examples test
 * check that those parts agree with the server.
 */
import { toJsonSchema } from '@valibot/to-json-schema';
import type { GenericSchema } from 'valibot';
import { ChunkBody, CreateBody } from '../../functions/import-api/handler.ts';
import { EVENT_CATEGORIES } from '../../functions/shared/analytics/event.ts';
import { DEAD_LETTER_CAUSES } from '../../functions/shared/analytics/dead-letter.ts';
import { IMPORT_STATUSES } from '../../functions/shared/imports/jobs.ts';
import { FAILURES_PAGE_DEFAULT, FAILURES_PAGE_MAX, MAX_CHUNKS_PER_JOB } from '../../functions/shared/imports/limits.ts';
import { FRONT_END_NAMESPACE } from '../../functions/analytics-api/handler.ts';
import { MAX_BEHAVIOUR_DAYS, MAX_FUNNEL_STEPS, MAX_USERS_LISTED } from '../../functions/analytics-api/behaviour.ts';
import { MAX_PATTERNS, MAX_RECOVERY_ROUTES } from '../../functions/analytics-api/insights.ts';
import { TYPE_NAME } from '../../functions/shared/analytics/schema.ts';
import { MAX_DYNAMO_ITEM_BYTES } from '../../functions/shared/dynamo-size.ts';
import { MAX_ITEM_DATA_BYTES } from '../../functions/shared/items/item.ts';
import { NAME_PATTERN } from '../../functions/shared/http/request.ts';
import type { ErrorCode } from '../../functions/shared/http/errors.ts';

type Json = Record<string, unknown>;

/** A request schema converted from the valibot schema its handler validates with (no `$schema`: the document's dialect applies). */
function fromValibot(schema: GenericSchema): Json {
  const { $schema: _dialect, ...converted } = toJsonSchema(schema) as Json;
  return converted;
}

const ERROR_CODES: readonly ErrorCode[] = [
  'BAD_REQUEST',
  'INVALID_JSON',
  'VALIDATION_FAILED',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'PRECONDITION_FAILED',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'SERVICE_UNAVAILABLE',
  'INTERNAL_ERROR',
];

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const responseRef = (name: string) => ({ $ref: `#/components/responses/${name}` });
const json = (schema: Json, example?: unknown) => ({ 'application/json': { schema, ...(example === undefined ? {} : { example }) } });
const dateTime = { type: 'string', format: 'date-time' };
const count = { type: 'integer', minimum: 0 };
const nullableNumber = { type: ['number', 'null'] };

const exampleItem = {
  collection: 'books',
  id: 'dune',
  data: { title: 'Dune', year: 1965 },
  version: 1,
  createdAt: '2026-01-31T12:00:00.000Z',
  updatedAt: '2026-01-31T12:00:00.000Z',
};
const exampleTotals = { count: 120, failures: 3, errorRate: 0.025, duplicatesDropped: 0, duration: { count: 120, mean: 18.2, p50: 12, p95: 55, p99: 90 } };

const schemas: Record<string, Json> = {
  Error: {
    type: 'object',
    description: "A function's refusal: `code` is stable and machine-readable; `details[].field` names the field at fault.",
    required: ['error'],
    additionalProperties: false,
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        additionalProperties: false,
        properties: {
          code: { type: 'string', enum: ERROR_CODES },
          message: { type: 'string' },
          details: {
            type: 'array',
            items: {
              type: 'object',
              required: ['issue'],
              additionalProperties: false,
              properties: {
                field: { type: 'string', description: '`body.name`, `query.limit`, `path.id`, `header.if-match`' },
                issue: { type: 'string' },
                value: { type: 'string', description: 'A value to act on verbatim, e.g. the chunkId to send again after a 503.' },
              },
            },
          },
        },
      },
    },
    example: { error: { code: 'VALIDATION_FAILED', message: 'query.limit: must be at most 100', details: [{ field: 'query.limit', issue: 'must be at most 100' }] } },
  },
  GatewayError: {
    type: 'object',
    description: "API Gateway's own refusal, before any function runs (its fixed shape on HTTP APIs).",
    required: ['message'],
    additionalProperties: false,
    properties: { message: { type: 'string' } },
    example: { message: 'Unauthorized' },
  },
  Name: { type: 'string', pattern: NAME_PATTERN.source, example: 'books' },
  ItemData: {
    type: 'object',
    additionalProperties: true,
    description:
      "The item's fields, any JSON object. Numbers within ±2^53-1 and not smaller in magnitude than 1e-130 (send others as strings), " +
      `strings of valid Unicode, at most 32 levels deep, no empty or \`__proto__\` field names, at most ${MAX_ITEM_DATA_BYTES} bytes as JSON.`,
    example: exampleItem.data,
  },
  Item: {
    type: 'object',
    required: ['collection', 'id', 'data', 'version', 'createdAt', 'updatedAt'],
    additionalProperties: false,
    properties: {
      collection: ref('Name'),
      id: ref('Name'),
      data: ref('ItemData'),
      version: { type: 'integer', minimum: 1, description: 'Goes up by one with each write; send it back in `If-Match`.' },
      createdAt: dateTime,
      updatedAt: dateTime,
    },
    example: exampleItem,
  },
  ItemPage: {
    type: 'object',
    required: ['items', 'nextCursor'],
    additionalProperties: false,
    properties: { items: { type: 'array', items: ref('Item') }, nextCursor: { type: ['string', 'null'], description: 'Pass as `cursor` for the next page; null on the last.' } },
    example: { items: [exampleItem], nextCursor: null },
  },
  CollectionStats: {
    type: 'object',
    required: ['collection', 'itemCount', 'lastWriteAt'],
    additionalProperties: false,
    properties: { collection: ref('Name'), itemCount: { type: 'integer' }, lastWriteAt: { type: ['string', 'null'], format: 'date-time' } },
    example: { collection: 'books', itemCount: 42, lastWriteAt: '2026-01-31T12:00:00.000Z' },
  },
  Health: { type: 'object', required: ['status'], additionalProperties: false, properties: { status: { const: 'ok' } }, example: { status: 'ok' } },
  ImportCreate: {
    ...fromValibot(CreateBody),
    description: 'Items are `{id, data}`; each is checked on its own and a bad one is rejected alone (see `rejected`).',
    example: { collection: 'books', items: [{ id: 'dune', data: { title: 'Dune' } }] },
  },
  ImportChunk: {
    ...fromValibot(ChunkBody),
    description: 'Send a chunk again with the same chunkId and items to retry it safely.',
    example: { chunkId: 'part-1', items: [{ id: 'dune', data: { title: 'Dune' } }] },
  },
  ImportStatus: { type: 'string', enum: IMPORT_STATUSES },
  ImportViewStatus: {
    type: 'string',
    enum: [...IMPORT_STATUSES, 'STALLED'],
    description: 'STALLED is never stored: a PROCESSING job without progress for a while (15 minutes by default) reads as STALLED, and as PROCESSING again when it moves.',
  },
  Rejection: {
    type: 'object',
    required: ['index', 'reason'],
    additionalProperties: false,
    properties: { index: count, id: { type: 'string' }, reason: { type: 'string' } },
  },
  ImportCreated: {
    type: 'object',
    required: ['importId', 'status'],
    additionalProperties: false,
    properties: {
      importId: { type: 'string', format: 'uuid' },
      status: ref('ImportStatus'),
      accepted: count,
      rejected: { type: 'array', items: ref('Rejection') },
    },
    example: { importId: '0b6f2c1e-4a5d-4e1b-9a53-2f4d8c7e9a10', status: 'OPEN' },
  },
  ChunkReceipt: {
    type: 'object',
    required: ['chunkId', 'accepted', 'rejected', 'replayed'],
    additionalProperties: false,
    properties: { chunkId: { type: 'string' }, accepted: count, rejected: { type: 'array', items: ref('Rejection') }, replayed: { type: 'boolean' } },
    example: { chunkId: 'part-1', accepted: 1, rejected: [], replayed: false },
  },
  ImportCommitted: {
    type: 'object',
    required: ['importId', 'status'],
    additionalProperties: false,
    properties: { importId: { type: 'string', format: 'uuid' }, status: ref('ImportStatus') },
  },
  ImportJob: {
    type: 'object',
    required: ['importId', 'status', 'collection', 'total', 'processed', 'succeeded', 'failed', 'rejected', 'created', 'replaced', 'createdAt', 'updatedAt', 'completedAt'],
    additionalProperties: false,
    properties: {
      importId: { type: 'string', format: 'uuid' },
      status: ref('ImportViewStatus'),
      statusReason: { type: 'string', description: 'Why the job is STALLED (what it waits for: resend a chunk, redrive, or cancel) or CANCELLED.' },
      collection: ref('Name'),
      total: count,
      processed: count,
      succeeded: count,
      failed: count,
      rejected: count,
      created: count,
      replaced: count,
      createdAt: dateTime,
      updatedAt: dateTime,
      completedAt: { type: ['string', 'null'], format: 'date-time' },
    },
  },
  ImportFailurePage: {
    type: 'object',
    required: ['failures', 'nextCursor'],
    additionalProperties: false,
    properties: {
      failures: {
        type: 'array',
        items: {
          type: 'object',
          required: ['id', 'batchId', 'reason', 'at'],
          additionalProperties: false,
          properties: { id: { type: 'string' }, batchId: { type: 'string' }, reason: { type: 'string' }, at: dateTime },
        },
      },
      nextCursor: { type: ['string', 'null'] },
    },
  },
  Totals: {
    type: 'object',
    required: ['count', 'failures', 'errorRate', 'duplicatesDropped', 'duration'],
    properties: {
      count,
      failures: count,
      errorRate: { type: 'number', minimum: 0, maximum: 1 },
      duplicatesDropped: count,
      duration: {
        type: 'object',
        required: ['count', 'mean', 'p50', 'p95', 'p99'],
        additionalProperties: false,
        description: 'Milliseconds; null when nothing was measured.',
        properties: { count, mean: nullableNumber, p50: nullableNumber, p95: nullableNumber, p99: nullableNumber },
      },
    },
  },
  Category: { type: 'string', enum: EVENT_CATEGORIES },
  AnalyticsSummary: {
    type: 'object',
    required: ['tenant', 'from', 'to', 'filters', 'totals', 'byEventType', 'byCategory', 'byErrorType'],
    additionalProperties: false,
    properties: {
      tenant: { type: 'string' },
      from: dateTime,
      to: dateTime,
      filters: { type: 'object', additionalProperties: false, properties: { eventType: { type: 'string' }, category: ref('Category') } },
      totals: ref('Totals'),
      byEventType: { type: 'array', items: { allOf: [ref('Totals'), { type: 'object', required: ['eventType'], properties: { eventType: { type: 'string' } } }] } },
      byCategory: { type: 'array', items: { allOf: [ref('Totals'), { type: 'object', required: ['category'], properties: { category: ref('Category') } }] } },
      byErrorType: {
        type: 'array',
        items: { type: 'object', required: ['errorType', 'count'], additionalProperties: false, properties: { errorType: { type: 'string' }, count } },
      },
    },
    example: {
      tenant: 'acme',
      from: '2026-01-30T12:00:00.000Z',
      to: '2026-01-31T12:00:00.000Z',
      filters: {},
      totals: exampleTotals,
      byEventType: [{ eventType: 'ITEM_GET_ANALYTICS', ...exampleTotals }],
      byCategory: [{ category: 'QUERY', ...exampleTotals }],
      byErrorType: [{ errorType: 'NOT_FOUND', count: 3 }],
    },
  },
  Timeseries: {
    type: 'object',
    required: ['tenant', 'metric', 'interval', 'from', 'to', 'points'],
    additionalProperties: false,
    properties: {
      tenant: { type: 'string' },
      metric: { type: 'string', enum: ['count', 'errors', 'p95'] },
      interval: { type: 'string', enum: ['minute', 'hour'] },
      from: dateTime,
      to: dateTime,
      points: {
        type: 'array',
        items: { type: 'object', required: ['t', 'value'], additionalProperties: false, properties: { t: dateTime, value: nullableNumber } },
      },
    },
    example: { tenant: 'acme', metric: 'count', interval: 'hour', from: '2026-01-31T10:00:00.000Z', to: '2026-01-31T12:00:00.000Z', points: [{ t: '2026-01-31T10:00:00.000Z', value: 40 }, { t: '2026-01-31T11:00:00.000Z', value: 80 }] },
  },
  UserEvents: {
    type: 'object',
    required: ['events', 'nextCursor'],
    additionalProperties: false,
    properties: {
      events: {
        type: 'array',
        description: 'Stored analytics events (the AnalyticsEvent of the spec) with their enrichment: eventId, tenant, receivedAt, processingLagMs, environment, day, hour.',
        items: { type: 'object', required: ['eventType', 'detail'], additionalProperties: true, properties: { eventType: { type: 'string' }, detail: { type: 'object', additionalProperties: true } } },
      },
      nextCursor: { type: ['string', 'null'] },
    },
  },
  FrontEndEvent: {
    type: 'object',
    required: ['action', 'type'],
    additionalProperties: false,
    properties: {
      action: { type: 'string', pattern: '^[A-Z][A-Z0-9_]{0,63}$' },
      type: {
        type: 'string',
        pattern: '^[A-Z][A-Z0-9_]{0,63}$',
        description: `Must not end with \`_ANALYTICS\` (it is added). Stored in the front-end namespace, \`${FRONT_END_NAMESPACE}<type>\`, apart from the server's types: read it back with \`eventType=${FRONT_END_NAMESPACE}<type>\`.`,
      },
      properties: { type: 'object', additionalProperties: true, description: 'At most 8 KB as JSON; the rules of item data apply.' },
      timestamp: { ...dateTime, description: 'At most 7 days old and 5 minutes ahead.' },
      traceId: { type: 'string', pattern: '^[A-Za-z0-9-]{1,128}$' },
    },
  },
  EventBatch: {
    type: 'object',
    required: ['events'],
    additionalProperties: false,
    properties: { events: { type: 'array', minItems: 1, maxItems: 100, items: ref('FrontEndEvent') } },
    example: { events: [{ action: 'CLICK', type: 'CHECKOUT_STARTED', properties: { cart: 3 } }] },
  },
  /** The fields every range read answers with (range.ts `rangeAnswer`): the range after widening to whole units, and the Queries it cost. */
  RangeAnswer: {
    type: 'object',
    required: ['tenant', 'from', 'to', 'reads'],
    properties: { tenant: { type: 'string' }, from: dateTime, to: dateTime, reads: { ...count, description: 'DynamoDB Queries the answer cost.' } },
  },
  Distribution: {
    type: 'object',
    required: ['p50', 'p95', 'p99'],
    additionalProperties: false,
    description: 'Null when nothing was measured.',
    properties: { p50: nullableNumber, p95: nullableNumber, p99: nullableNumber },
  },
  AnalyticsPerformance: {
    allOf: [ref('RangeAnswer')],
    type: 'object',
    required: ['functions'],
    properties: {
      functions: {
        type: 'array',
        description: 'Per function, most invocations first (the range widened to whole hours).',
        items: {
          type: 'object',
          required: ['functionName', 'invocations', 'coldStarts', 'warmInvocations', 'coldStartRate', 'initDurationMs', 'memory'],
          additionalProperties: false,
          properties: {
            functionName: { type: 'string' },
            invocations: count,
            coldStarts: count,
            warmInvocations: { type: 'integer' },
            coldStartRate: { type: 'number', minimum: 0 },
            initDurationMs: ref('Distribution'),
            memory: {
              type: 'object',
              required: ['limitMB', 'measured', 'rssMB', 'heapUsedMB', 'rssP95PercentOfLimit'],
              additionalProperties: false,
              properties: { limitMB: { type: 'number', minimum: 0 }, measured: count, rssMB: ref('Distribution'), heapUsedMB: ref('Distribution'), rssP95PercentOfLimit: nullableNumber },
            },
          },
        },
      },
    },
  },
  AnalyticsErrors: {
    allOf: [ref('RangeAnswer')],
    type: 'object',
    required: ['resolution', 'patterns', 'recovery', 'deadLetters'],
    properties: {
      resolution: { type: 'string', enum: ['minute'] },
      patterns: {
        type: 'array',
        description: 'Event type and error type pairs, most failures first.',
        items: {
          type: 'object',
          required: ['eventType', 'errorType', 'count', 'firstSeen', 'lastSeen', 'trend', 'hourly', 'samples'],
          additionalProperties: false,
          properties: {
            eventType: { type: 'string' },
            errorType: { type: 'string' },
            count,
            firstSeen: { type: ['string', 'null'], format: 'date-time' },
            lastSeen: { type: ['string', 'null'], format: 'date-time' },
            trend: {
              type: 'object',
              required: ['firstHalf', 'secondHalf', 'direction'],
              additionalProperties: false,
              properties: { firstHalf: { type: 'integer' }, secondHalf: { type: 'integer' }, direction: { type: 'string', enum: ['rising', 'falling', 'flat'] } },
            },
            hourly: { type: 'array', items: { type: 'object', required: ['t', 'count'], additionalProperties: false, properties: { t: dateTime, count } } },
            samples: {
              type: 'array',
              maxItems: 5,
              items: { type: 'object', required: ['requestId', 'timestamp'], properties: { requestId: { type: 'string' }, traceId: { type: 'string' }, timestamp: { type: 'string' } } },
            },
          },
        },
      },
      recovery: {
        type: 'array',
        maxItems: MAX_RECOVERY_ROUTES,
        description: 'Per failing event type: its first failure and the first success after it.',
        items: {
          type: 'object',
          required: ['eventType', 'failures', 'firstFailure', 'recoveredAt', 'recoveryMs'],
          additionalProperties: false,
          properties: {
            eventType: { type: 'string' },
            failures: count,
            firstFailure: { type: ['string', 'null'], format: 'date-time' },
            recoveredAt: { type: ['string', 'null'], format: 'date-time' },
            recoveryMs: { type: ['integer', 'null'] },
          },
        },
      },
      deadLetters: {
        type: 'object',
        description:
          'Events of the range (by their own timestamp) that went to the analytics DLQ, were redriven and were stored, each counted once however often it was redriven; `recoveryMs` is from its first failure to stored.',
        required: ['stored', 'byCause', 'recoveryMs', 'byEventType'],
        additionalProperties: false,
        properties: {
          stored: count,
          byCause: { type: 'object', required: [...DEAD_LETTER_CAUSES], additionalProperties: false, properties: Object.fromEntries(DEAD_LETTER_CAUSES.map((cause) => [cause, count])) },
          recoveryMs: ref('RecoveryTime'),
          byEventType: {
            type: 'array',
            description: 'Most events first.',
            items: { type: 'object', required: ['eventType', 'stored', 'recoveryMs'], additionalProperties: false, properties: { eventType: { type: 'string' }, stored: count, recoveryMs: ref('RecoveryTime') } },
          },
        },
      },
    },
  },
  RecoveryTime: {
    type: 'object',
    required: ['mean', 'p50', 'p95', 'p99'],
    additionalProperties: false,
    description: 'Milliseconds; mean exact, percentiles within 2 %; null when nothing was redriven.',
    properties: { mean: nullableNumber, p50: nullableNumber, p95: nullableNumber, p99: nullableNumber },
  },
  AnalyticsHealth: {
    allOf: [ref('RangeAnswer')],
    type: 'object',
    required: ['totals', 'processingLagMs', 'queues', 'throughputPerMinute'],
    properties: {
      totals: {
        type: 'object',
        required: ['count', 'failures', 'errorRate', 'peakPerMinute'],
        additionalProperties: false,
        properties: { count, failures: count, errorRate: { type: 'number', minimum: 0, maximum: 1 }, peakPerMinute: count },
      },
      processingLagMs: { type: 'object', required: ['p50', 'p95'], additionalProperties: false, properties: { p50: nullableNumber, p95: nullableNumber } },
      queues: {
        type: 'array',
        description: "The whole system's queues (not the tenant's): depths only; null with `error` when SQS did not answer.",
        items: {
          type: 'object',
          required: ['queue', 'visible', 'inFlight', 'delayed'],
          additionalProperties: false,
          properties: {
            queue: { type: 'string' },
            visible: { type: ['integer', 'null'] },
            inFlight: { type: ['integer', 'null'] },
            delayed: { type: ['integer', 'null'] },
            error: { type: 'string' },
          },
        },
      },
      throughputPerMinute: {
        type: 'array',
        items: { type: 'object', required: ['t', 'count', 'failures'], additionalProperties: false, properties: { t: dateTime, count, failures: count } },
      },
    },
  },
  AnalyticsImports: {
    allOf: [ref('RangeAnswer')],
    type: 'object',
    required: ['imports'],
    properties: {
      imports: {
        type: 'array',
        description: 'Each import with events in the range, newest first.',
        items: {
          type: 'object',
          required: ['importId', 'counts', 'status'],
          additionalProperties: false,
          properties: {
            importId: { type: 'string' },
            collection: { type: 'string' },
            startedAt: { type: 'string' },
            counts: { type: 'object', description: "Sums over the import's events (events, accepted, rejected, batches, ...).", additionalProperties: { type: 'number' } },
            outcome: { type: 'object', description: "IMPORT_COMPLETED's final status and counts.", additionalProperties: true },
            status: { type: 'string', description: '`IN_PROGRESS` until the import completes.' },
          },
        },
      },
    },
  },
  AnalyticsFeatures: {
    allOf: [ref('RangeAnswer')],
    type: 'object',
    required: ['days'],
    properties: {
      days: {
        type: 'array',
        items: {
          type: 'object',
          required: ['day', 'types'],
          additionalProperties: false,
          properties: {
            day: { type: 'string', format: 'date' },
            types: {
              type: 'array',
              items: { type: 'object', required: ['eventType', 'events', 'users'], additionalProperties: false, properties: { eventType: { type: 'string' }, events: count, users: count } },
            },
          },
        },
      },
    },
  },
  AnalyticsSessions: {
    allOf: [ref('RangeAnswer')],
    type: 'object',
    required: ['gapMinutes', 'totals', 'perDay', 'users'],
    properties: {
      gapMinutes: { type: 'integer', minimum: 1, maximum: 1440 },
      totals: {
        type: 'object',
        required: ['sessions', 'users', 'durationMinutes', 'eventsPerSession'],
        additionalProperties: false,
        properties: {
          sessions: count,
          users: count,
          durationMinutes: ref('Spread'),
          eventsPerSession: ref('Spread'),
        },
      },
      perDay: { type: 'array', items: { type: 'object', required: ['day', 'sessions'], additionalProperties: false, properties: { day: { type: 'string', format: 'date' }, sessions: count } } },
      users: {
        type: 'array',
        maxItems: MAX_USERS_LISTED,
        description: `Most sessions first, at most ${MAX_USERS_LISTED}; \`sessionList\` only when asked for one \`userId\`.`,
        items: {
          type: 'object',
          required: ['userId', 'sessions', 'events', 'meanDurationMinutes'],
          additionalProperties: false,
          properties: {
            userId: { type: 'string' },
            sessions: count,
            events: count,
            meanDurationMinutes: { type: 'number', minimum: 0 },
            sessionList: {
              type: 'array',
              items: {
                type: 'object',
                required: ['start', 'end', 'durationMinutes', 'events'],
                additionalProperties: false,
                properties: { start: dateTime, end: dateTime, durationMinutes: count, events: count },
              },
            },
          },
        },
      },
    },
  },
  Spread: { type: 'object', required: ['p50', 'p95', 'max'], additionalProperties: false, description: 'Null when there is nothing.', properties: { p50: nullableNumber, p95: nullableNumber, max: nullableNumber } },
  AnalyticsFunnel: {
    allOf: [ref('RangeAnswer')],
    type: 'object',
    required: ['windowMinutes', 'steps'],
    properties: {
      windowMinutes: { type: 'integer', minimum: 1, maximum: 7 * 1440 },
      steps: {
        type: 'array',
        items: {
          type: 'object',
          required: ['eventType', 'users', 'conversionFromPrevious', 'conversionFromFirst', 'medianMinutesFromPrevious'],
          additionalProperties: false,
          properties: {
            eventType: { type: 'string', description: 'With the `_ANALYTICS` suffix.' },
            users: count,
            conversionFromPrevious: { type: 'number', minimum: 0, maximum: 1 },
            conversionFromFirst: { type: 'number', minimum: 0, maximum: 1 },
            medianMinutesFromPrevious: { type: ['integer', 'null'] },
          },
        },
      },
    },
  },
  EventsAccepted: { type: 'object', required: ['accepted'], additionalProperties: false, properties: { accepted: count }, example: { accepted: 1 } },
};

const errorOrGateway = { oneOf: [ref('Error'), ref('GatewayError')] };

const responses: Record<string, Json> = {
  BadRequest: { description: 'Malformed input: a parameter, header or body the route refuses.', content: json(ref('Error')) },
  Unauthorized: {
    description: 'The gateway refused the token (missing, expired, wrong issuer, audience or signature).',
    headers: { 'WWW-Authenticate': { schema: { type: 'string' } } },
    content: json(ref('GatewayError'), { message: 'Unauthorized' }),
  },
  Forbidden: { description: 'The token has no valid tenant claim (a function).', content: json(ref('Error')) },
  AdminForbidden: {
    description: "The token has no `admin` scope (the gateway's route authorization scopes: `{\"message\":\"Forbidden\"}`), or no valid tenant claim (a function).",
    content: json(errorOrGateway, { message: 'Forbidden' }),
  },
  TooManyRequests: { description: "Over the route's throttle (the gateway).", content: json(ref('GatewayError'), { message: 'Too Many Requests' }) },
  NotFound: { description: 'No such resource for this tenant (a function), or no route for the path (the gateway).', content: json(errorOrGateway) },
  Conflict: {
    description:
      'The request conflicts with what is stored: a chunkId sent again with other items, a chunk for a job that was committed or cancelled, ' +
      `a chunk past the ${MAX_CHUNKS_PER_JOB} a job takes, a cancel of a finished job.`,
    content: json(ref('Error')),
  },
  PreconditionFailed: { description: '`If-Match` names another version than the stored one.', content: json(ref('Error')) },
  PayloadTooLarge: {
    description:
      `Over the route's limit (a function: the message gives the figure, e.g. an item over ${MAX_DYNAMO_ITEM_BYTES} bytes as DynamoDB counts it) ` +
      "or over the gateway's 10 MB (the gateway).",
    content: json(errorOrGateway),
  },
  UnsupportedMediaType: { description: 'The body is not application/json.', content: json(ref('Error')) },
  RequestHeaderFieldsTooLarge: {
    description:
      "The gateway's own refusal: the request line and headers together are over its limit (10,240 bytes on API Gateway); no body. " +
      'Long query values (cursors are at most 2,048 characters) count towards it.',
  },
  ServiceUnavailable: {
    description:
      'The data store or queue is busy or down; retry after the given seconds. A chunk recorded but not fully queued names its chunkId in ' +
      '`details[].value`: send the same items again with it.',
    headers: { 'Retry-After': { schema: { type: 'string' }, description: 'Seconds to wait.' } },
    content: json(errorOrGateway),
  },
};

const etag = { ETag: { description: 'The item\'s version, quoted: send it back as `If-Match`.', schema: { type: 'string', pattern: '^"\\d+"$' } } };

const parameters: Record<string, Json> = {
  collection: { name: 'collection', in: 'path', required: true, schema: ref('Name') },
  id: { name: 'id', in: 'path', required: true, schema: ref('Name') },
  importId: { name: 'importId', in: 'path', required: true, schema: { type: 'string', format: 'uuid', pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' } },
  userId: { name: 'userId', in: 'path', required: true, schema: { type: 'string', pattern: '^[^#\\s/]{1,256}$' } },
  ifMatch: {
    name: 'If-Match',
    in: 'header',
    required: false,
    description: 'Write only if the stored version is this one (`"3"`, `3` or `W/"3"`); 412 otherwise.',
    schema: { type: 'string', pattern: '^\\s*(W/)?"?\\d{1,15}"?\\s*$' },
  },
  from: { name: 'from', in: 'query', description: 'Start of the range (inclusive); ranges span at most 92 days and `from` < `to`.', schema: dateTime },
  to: { name: 'to', in: 'query', description: 'End of the range (exclusive); default now.', schema: dateTime },
  eventType: { name: 'eventType', in: 'query', description: 'With or without the `_ANALYTICS` suffix.', schema: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,128}$' } },
  category: { name: 'category', in: 'query', schema: ref('Category') },
  cursor: { name: 'cursor', in: 'query', description: 'The `nextCursor` of the previous page (opaque, base64url).', schema: { type: 'string', pattern: '^[A-Za-z0-9_-]*$', maxLength: 2048 } },
};
const param = (name: string) => ({ $ref: `#/components/parameters/${name}` });

type Responses = Record<string, Json>;
const jwtFailures: Responses = {
  '401': responseRef('Unauthorized'),
  '403': responseRef('Forbidden'),
  '431': responseRef('RequestHeaderFieldsTooLarge'),
  '503': responseRef('ServiceUnavailable'),
};
/** Routes behind the gateway's `admin` authorization scope (topology.json's `scopes`). */
const adminOnly = { security: [{ bearerAuth: ['admin'] }] };
const adminFailures: Responses = { ...jwtFailures, '403': responseRef('AdminForbidden') };
const bodyFailures: Responses = { '400': responseRef('BadRequest'), '413': responseRef('PayloadTooLarge'), '415': responseRef('UnsupportedMediaType') };

interface Operation {
  summary: string;
  description?: string;
  tags: string[];
  parameters?: Json[];
  requestBody?: Json;
  responses: Responses;
  security?: Json[];
}

function operation(id: string, op: Operation): Json {
  return { operationId: id, ...op };
}

const itemBody = { required: true, content: json(ref('ItemData'), { title: 'Dune', year: 1965 }) };

/** Route key (`GET /items/{collection}`) → operation; the same keys as topology.json's routes. */
export const operations: Record<string, Json> = {
  'GET /health': operation('getHealth', {
    summary: 'Liveness check',
    tags: ['system'],
    security: [],
    responses: { '200': { description: 'Up.', content: json(ref('Health')) }, '429': responseRef('TooManyRequests') },
  }),
  'GET /items/{collection}': operation('listItems', {
    summary: "A page of a collection's items",
    description: 'Pages are filled even when filters skip items. Unknown query parameters are a 400.',
    tags: ['items'],
    parameters: [
      param('collection'),
      { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 25 } },
      param('cursor'),
      { name: 'sort', in: 'query', schema: { type: 'string', enum: ['id', 'createdAt', 'updatedAt'], default: 'id' } },
      { name: 'order', in: 'query', schema: { type: 'string', enum: ['asc', 'desc'], default: 'asc' } },
      {
        name: 'filters',
        in: 'query',
        description: 'Equality filters on top-level data fields, `filter.<field>=<value>` (at most 10).',
        style: 'form',
        explode: true,
        schema: { type: 'object', maxProperties: 10, propertyNames: { pattern: '^filter\\.[A-Za-z0-9_.-]{1,64}$' }, additionalProperties: { type: 'string' } },
        example: { 'filter.year': '1965' },
      },
    ],
    responses: { '200': { description: 'A page.', content: json(ref('ItemPage')) }, '400': responseRef('BadRequest'), ...jwtFailures, '404': responseRef('NotFound') },
  }),
  'GET /items/{collection}/{id}': operation('getItem', {
    summary: 'One item',
    tags: ['items'],
    parameters: [param('collection'), param('id')],
    responses: { '200': { description: 'The item.', headers: etag, content: json(ref('Item')) }, '400': responseRef('BadRequest'), ...jwtFailures, '404': responseRef('NotFound') },
  }),
  'GET /collections/{collection}/stats': operation('getCollectionStats', {
    summary: "A collection's item count and last write",
    tags: ['items'],
    parameters: [param('collection')],
    responses: { '200': { description: 'The stats (zeros for an unknown collection).', content: json(ref('CollectionStats')) }, '400': responseRef('BadRequest'), ...jwtFailures, '404': responseRef('NotFound') },
  }),
  'PUT /items/{collection}/{id}': operation('putItem', {
    summary: 'Create or replace an item',
    tags: ['items'],
    parameters: [param('collection'), param('id'), param('ifMatch')],
    requestBody: itemBody,
    responses: {
      '200': { description: 'Replaced.', headers: etag, content: json(ref('Item')) },
      '201': { description: 'Created.', headers: etag, content: json(ref('Item')) },
      ...bodyFailures,
      ...jwtFailures,
      '404': responseRef('NotFound'),
      '412': responseRef('PreconditionFailed'),
    },
  }),
  'PATCH /items/{collection}/{id}': operation('patchItem', {
    summary: "Merge fields into an item's data",
    description: 'A shallow merge into `data`; a field set to null is removed.',
    tags: ['items'],
    parameters: [param('collection'), param('id'), param('ifMatch')],
    requestBody: { required: true, content: json(ref('ItemData'), { year: 1966, subtitle: null }) },
    responses: {
      '200': { description: 'The merged item.', headers: etag, content: json(ref('Item')) },
      ...bodyFailures,
      ...jwtFailures,
      '404': responseRef('NotFound'),
      '412': responseRef('PreconditionFailed'),
    },
  }),
  'DELETE /items/{collection}/{id}': operation('deleteItem', {
    summary: 'Delete an item',
    tags: ['items'],
    parameters: [param('collection'), param('id'), param('ifMatch')],
    responses: { '204': { description: 'Deleted.' }, '400': responseRef('BadRequest'), ...jwtFailures, '404': responseRef('NotFound'), '412': responseRef('PreconditionFailed') },
  }),
  'POST /imports': operation('createImport', {
    summary: 'Start an import job (admin)',
    description: 'Without `items`, an OPEN job to add chunks to; with `items`, one chunk committed at once.',
    tags: ['imports'],
    ...adminOnly,
    requestBody: { required: true, content: json(ref('ImportCreate')) },
    responses: { '201': { description: 'The job.', content: json(ref('ImportCreated')) }, ...bodyFailures, ...adminFailures, '404': responseRef('NotFound') },
  }),
  'POST /imports/{importId}/items': operation('addImportItems', {
    summary: 'Add a chunk of items to an import (admin)',
    tags: ['imports'],
    ...adminOnly,
    parameters: [param('importId')],
    requestBody: { required: true, content: json(ref('ImportChunk')) },
    responses: {
      '202': { description: 'Accepted (or replayed: sent before with the same chunkId and items).', content: json(ref('ChunkReceipt')) },
      ...bodyFailures,
      ...adminFailures,
      '404': responseRef('NotFound'),
      '409': responseRef('Conflict'),
    },
  }),
  'POST /imports/{importId}/commit': operation('commitImport', {
    summary: 'No more chunks (admin)',
    tags: ['imports'],
    ...adminOnly,
    parameters: [param('importId')],
    responses: { '202': { description: 'Committed.', content: json(ref('ImportCommitted')) }, '400': responseRef('BadRequest'), ...adminFailures, '404': responseRef('NotFound') },
  }),
  'POST /imports/{importId}/cancel': operation('cancelImport', {
    summary: 'Stop an import that has not finished (admin)',
    description:
      'The job becomes CANCELLED: no chunk is taken after it and queued batches are skipped; items written before stay written. ' +
      'Repeating it is harmless (the same answer); a job that has finished is a 409.',
    tags: ['imports'],
    ...adminOnly,
    parameters: [param('importId')],
    responses: {
      '202': { description: 'Cancelled: the job as it is now.', content: json(ref('ImportJob')) },
      '400': responseRef('BadRequest'),
      ...adminFailures,
      '404': responseRef('NotFound'),
      '409': responseRef('Conflict'),
    },
  }),
  'GET /imports/{importId}': operation('getImport', {
    summary: "An import's status and counters (admin)",
    tags: ['imports'],
    ...adminOnly,
    parameters: [param('importId')],
    responses: { '200': { description: 'The job.', content: json(ref('ImportJob')) }, '400': responseRef('BadRequest'), ...adminFailures, '404': responseRef('NotFound') },
  }),
  'GET /imports/{importId}/failures': operation('listImportFailures', {
    summary: 'Items an import could not write (admin)',
    tags: ['imports'],
    ...adminOnly,
    parameters: [param('importId'), { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: FAILURES_PAGE_MAX, default: FAILURES_PAGE_DEFAULT } }, param('cursor')],
    responses: { '200': { description: 'A page of failures.', content: json(ref('ImportFailurePage')) }, '400': responseRef('BadRequest'), ...adminFailures, '404': responseRef('NotFound') },
  }),
  'GET /analytics/summary': operation('getAnalyticsSummary', {
    summary: "The tenant's analytics over a time range (admin)",
    tags: ['analytics'],
    ...adminOnly,
    parameters: [param('from'), param('to'), param('eventType'), param('category')],
    responses: { '200': { description: 'Totals and breakdowns.', content: json(ref('AnalyticsSummary')) }, '400': responseRef('BadRequest'), ...adminFailures },
  }),
  'GET /analytics/timeseries': operation('getAnalyticsTimeseries', {
    summary: 'One metric per minute or hour (admin)',
    description: 'At most 1,500 points a request.',
    tags: ['analytics'],
    ...adminOnly,
    parameters: [
      { name: 'metric', in: 'query', schema: { type: 'string', enum: ['count', 'errors', 'p95'], default: 'count' } },
      { name: 'interval', in: 'query', schema: { type: 'string', enum: ['minute', 'hour'], default: 'hour' } },
      param('from'),
      param('to'),
      param('eventType'),
      param('category'),
    ],
    responses: { '200': { description: 'The series.', content: json(ref('Timeseries')) }, '400': responseRef('BadRequest'), ...adminFailures },
  }),
  'GET /analytics/users/{userId}/events': operation('listUserEvents', {
    summary: "A user's analytics events, newest first (admin)",
    tags: ['analytics'],
    ...adminOnly,
    parameters: [param('userId'), param('from'), param('to'), param('cursor'), { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } }],
    responses: { '200': { description: 'A page of events.', content: json(ref('UserEvents')) }, '400': responseRef('BadRequest'), ...adminFailures, '404': responseRef('NotFound') },
  }),
  'GET /analytics/performance': operation('getAnalyticsPerformance', {
    summary: 'Per function: cold starts, init duration, memory against its limit (admin)',
    tags: ['analytics'],
    ...adminOnly,
    parameters: [param('from'), param('to')],
    responses: { '200': { description: 'The functions, most invocations first.', content: json(ref('AnalyticsPerformance')) }, '400': responseRef('BadRequest'), ...adminFailures },
  }),
  'GET /analytics/errors': operation('getAnalyticsErrors', {
    summary: 'Error patterns, recovery per route, and events recovered from the DLQ (admin)',
    tags: ['analytics'],
    ...adminOnly,
    parameters: [param('from'), param('to'), { name: 'limit', in: 'query', description: 'Patterns to answer.', schema: { type: 'integer', minimum: 1, maximum: MAX_PATTERNS, default: 10 } }],
    responses: { '200': { description: 'Patterns and recovery.', content: json(ref('AnalyticsErrors')) }, '400': responseRef('BadRequest'), ...adminFailures },
  }),
  'GET /analytics/health': operation('getAnalyticsHealth', {
    summary: 'Throughput per minute, processing lag, error rate and queue depths (admin)',
    description: 'The range defaults to the last hour and spans at most 1 day.',
    tags: ['analytics'],
    ...adminOnly,
    parameters: [param('from'), param('to')],
    responses: { '200': { description: 'Health over the range.', content: json(ref('AnalyticsHealth')) }, '400': responseRef('BadRequest'), ...adminFailures },
  }),
  'GET /analytics/imports': operation('getAnalyticsImports', {
    summary: "Each import's progress from its analytics events (admin)",
    description: 'The range defaults to the last 7 days.',
    tags: ['analytics'],
    ...adminOnly,
    parameters: [param('from'), param('to')],
    responses: { '200': { description: 'The imports, newest first.', content: json(ref('AnalyticsImports')) }, '400': responseRef('BadRequest'), ...adminFailures },
  }),
  'GET /analytics/features': operation('getAnalyticsFeatures', {
    summary: 'Events and distinct users per event type per day (admin)',
    description: `The range defaults to the last 7 days and spans at most ${MAX_BEHAVIOUR_DAYS} days.`,
    tags: ['analytics'],
    ...adminOnly,
    parameters: [param('from'), param('to')],
    responses: { '200': { description: 'Usage per day.', content: json(ref('AnalyticsFeatures')) }, '400': responseRef('BadRequest'), ...adminFailures },
  }),
  'GET /analytics/sessions': operation('getAnalyticsSessions', {
    summary: "Users' sessions: a gap over `gapMinutes` ends one (admin)",
    description: `The range defaults to the last 7 days and spans at most ${MAX_BEHAVIOUR_DAYS} days.`,
    tags: ['analytics'],
    ...adminOnly,
    parameters: [
      param('from'),
      param('to'),
      { name: 'gapMinutes', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1440, default: 30 } },
      { name: 'userId', in: 'query', description: 'One user only, with their sessions listed.', schema: { type: 'string', pattern: '^[^#\\s]{1,256}$' } },
    ],
    responses: { '200': { description: 'Sessions.', content: json(ref('AnalyticsSessions')) }, '400': responseRef('BadRequest'), ...adminFailures },
  }),
  'GET /analytics/funnels': operation('getAnalyticsFunnel', {
    summary: 'Users reaching each step in order within the window (admin)',
    description: `The range defaults to the last 7 days and spans at most ${MAX_BEHAVIOUR_DAYS} days.`,
    tags: ['analytics'],
    ...adminOnly,
    parameters: [
      {
        name: 'steps',
        in: 'query',
        required: true,
        description: `2 to ${MAX_FUNNEL_STEPS} event types, comma-separated, with or without the \`_ANALYTICS\` suffix.`,
        schema: { type: 'string', pattern: `^${TYPE_NAME.source.slice(1, -1)}(,${TYPE_NAME.source.slice(1, -1)}){1,${MAX_FUNNEL_STEPS - 1}}$` },
        example: 'SIGN_UP,ITEM_PUT',
      },
      { name: 'window', in: 'query', description: 'A number and a unit (m, h, d), at least 1m and at most 7d.', schema: { type: 'string', pattern: '^\\d{1,4}(m|h|d)$', default: '1h' } },
      param('from'),
      param('to'),
    ],
    responses: { '200': { description: 'Each step.', content: json(ref('AnalyticsFunnel')) }, '400': responseRef('BadRequest'), ...adminFailures },
  }),
  'POST /events': operation('postEvents', {
    summary: 'Front-end analytics events (any signed-in user)',
    description: 'All or nothing: a batch with one bad event is refused whole, naming each.',
    tags: ['analytics'],
    requestBody: { required: true, content: json(ref('EventBatch')) },
    responses: { '202': { description: 'Accepted for processing.', content: json(ref('EventsAccepted')) }, ...bodyFailures, ...jwtFailures, '429': responseRef('TooManyRequests') },
  }),
};

export function openApiDocument(): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const [routeKey, op] of Object.entries(operations)) {
    const [method, path] = routeKey.split(' ') as [string, string];
    (paths[path] ??= {})[method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Event Flows API',
      version: '0.1.0',
      description:
        'Items, collection stats, bulk imports and analytics. Every route but /health needs a bearer JWT whose `tenant` claim scopes all data; ' +
        "imports and analytics reads need the `admin` scope. Functions answer errors as `{\"error\":{code,message,details?}}`; the gateway's own " +
        'refusals (401, 403 without the admin scope on an admin route, 404 for an unknown route, 413 over 10 MB, 429 over a throttle) are `{"message"}`.',
      license: { name: 'UNLICENSED', identifier: 'UNLICENSED' },
    },
    servers: [{ url: '/', description: "The API's base URL: the api_url Terraform output, or the URL npm start prints." }],
    security: [{ bearerAuth: [] }],
    tags: [
      { name: 'system', description: 'Health' },
      { name: 'items', description: 'Items and collection stats' },
      { name: 'imports', description: 'Bulk import (admin)' },
      { name: 'analytics', description: 'Analytics reads (admin) and front-end events' },
    ],
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'API Gateway JWT authorizer; locally `npm run -s token`.' },
      },
      schemas,
      responses,
      parameters,
    },
  };
}
