/** Reading a request's path, query, headers and body, with a 4xx for anything malformed. */
import * as v from 'valibot';
import { ApiError, payloadTooLarge, validationFailed, type ErrorDetail } from './errors.ts';
import type { ApiEvent } from './http-function.ts';

export const NAME_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;

export function pathParameter(event: ApiEvent, name: string, pattern: RegExp = NAME_PATTERN): string {
  const value = event.pathParameters?.[name];
  if (value === undefined || !pattern.test(value)) {
    throw validationFailed([{ field: `path.${name}`, issue: `must match ${pattern.source}` }]);
  }
  return value;
}

/** Turns valibot issues into error details that name the field at fault. */
export function issuesToDetails(issues: readonly v.BaseIssue<unknown>[], prefix: string): ErrorDetail[] {
  return issues.map((issue) => {
    const path = issue.path?.map((segment) => String(segment.key)).join('.');
    return { field: path ? `${prefix}.${path}` : prefix, issue: issue.message };
  });
}

/** Validates input with a valibot schema, or answers 400 naming each field at fault. */
export function parseWith<const S extends v.GenericSchema>(schema: S, input: unknown, prefix: string): v.InferOutput<S> {
  const result = v.safeParse(schema, input);
  if (!result.success) throw validationFailed(issuesToDetails(result.issues, prefix));
  return result.output;
}

/**
 * The query string as a plain object; a parameter that is neither in `allowed` nor starts
 * with one of `allowedPrefixes` is a 400, so a typo never silently changes a result.
 */
export function queryParameters(event: ApiEvent, allowed: readonly string[], allowedPrefixes: readonly string[] = []): Record<string, string> {
  const query = event.queryStringParameters ?? {};
  const unknown = Object.keys(query).filter((key) => !allowed.includes(key) && !allowedPrefixes.some((prefix) => key.startsWith(prefix)));
  if (unknown.length > 0) {
    throw validationFailed(unknown.map((key) => ({ field: `query.${key}`, issue: 'unknown query parameter' })));
  }
  return Object.fromEntries(Object.entries(query).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/**
 * API Gateway joins a repeated query parameter's values with commas (`?a=x&a=y` arrives as
 * `a: "x,y"`): for a parameter whose value may itself hold commas (a list, a user id), that
 * would read as one value, so a repeat of one of `names` is a 400.
 */
export function refuseRepeated(event: ApiEvent, names: readonly string[]): void {
  const keys = [...new URLSearchParams(event.rawQueryString ?? '').keys()];
  const repeated = names.filter((name) => keys.filter((key) => key === name).length > 1);
  if (repeated.length > 0) throw validationFailed(repeated.map((name) => ({ field: `query.${name}`, issue: 'must be given once' })));
}

export function header(event: ApiEvent, name: string): string | undefined {
  return event.headers?.[name.toLowerCase()];
}

/** The raw body as bytes, whether API Gateway base64-encoded it or not. */
export function rawBody(event: ApiEvent): Buffer {
  if (!event.body) return Buffer.alloc(0);
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
}

/** Parses a JSON body that must be an object, within `maxBytes`. */
export function jsonObjectBody(event: ApiEvent, maxBytes: number): Record<string, unknown> {
  const value = jsonBody(event, maxBytes);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw validationFailed([{ field: 'body', issue: 'must be a JSON object' }]);
  }
  return value as Record<string, unknown>;
}

export function jsonBody(event: ApiEvent, maxBytes: number): unknown {
  const contentType = header(event, 'content-type');
  if (contentType && !/^application\/([\w.+-]*\+)?json\b/i.test(contentType)) {
    throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'the body must be application/json');
  }
  const bytes = rawBody(event);
  if (bytes.length > maxBytes) throw payloadTooLarge(`the body is ${bytes.length} bytes; at most ${maxBytes} are accepted`);
  if (bytes.length === 0) throw validationFailed([{ field: 'body', issue: 'a JSON body is required' }]);
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch (error) {
    throw new ApiError(400, 'INVALID_JSON', `the body is not valid JSON: ${(error as Error).message}`, [{ field: 'body', issue: 'invalid JSON' }]);
  }
}

/** `If-Match: "3"` (or `3`, or `W/"3"`) → 3; absent → undefined. */
export function ifMatchVersion(event: ApiEvent): number | undefined {
  const value = header(event, 'if-match');
  if (value === undefined) return undefined;
  const match = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(value);
  if (!match) throw validationFailed([{ field: 'header.if-match', issue: 'must be an item version, e.g. "3"' }]);
  return Number(match[1]);
}
