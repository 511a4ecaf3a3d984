import { describe, expect, it } from 'vitest';
import { ApiError, toApiError } from '../../functions/shared/http/errors.ts';
import { ifMatchVersion, jsonObjectBody, queryParameters } from '../../functions/shared/http/request.ts';
import { callerOf, tenantClaimOf } from '../../functions/shared/http/caller.ts';
import { apiEvent } from '../support/invoke.ts';

const event = (extra: Parameters<typeof apiEvent>[0] extends infer T ? Partial<T> : never) => apiEvent({ routeKey: 'PUT /x', path: '/x', ...extra });

describe('If-Match', () => {
  it.each([
    ['"3"', 3],
    ['3', 3],
    ['W/"12"', 12],
  ])('reads %s as version %d', (value, version) => {
    expect(ifMatchVersion(event({ headers: { 'if-match': value } }))).toBe(version);
  });

  it('is undefined when absent and a 400 when malformed', () => {
    expect(ifMatchVersion(event({}))).toBeUndefined();
    expect(() => ifMatchVersion(event({ headers: { 'if-match': '*' } }))).toThrow(expect.objectContaining({ statusCode: 400 }));
  });
});

describe('JSON bodies', () => {
  it('accepts an object and reads base64-encoded bodies', () => {
    const encoded = { ...event({}), body: Buffer.from('{"a":1}').toString('base64'), isBase64Encoded: true };
    expect(jsonObjectBody(encoded, 100)).toEqual({ a: 1 });
  });

  it('answers 413 past the limit (counted in bytes, not characters) and 415 for other media types', () => {
    expect(() => jsonObjectBody(event({ body: `{"a":"${'é'.repeat(60)}"}` }), 100)).toThrow(expect.objectContaining({ statusCode: 413 }));
    expect(() => jsonObjectBody(event({ body: '{}', headers: { 'content-type': 'text/plain' } }), 100)).toThrow(expect.objectContaining({ statusCode: 415 }));
  });
});

describe('query parameters', () => {
  it('rejects unknown parameters by name and allows known prefixes', () => {
    expect(queryParameters(event({ query: { limit: '1', 'filter.a': 'b' } }), ['limit'], ['filter.'])).toEqual({ limit: '1', 'filter.a': 'b' });
    try {
      queryParameters(event({ query: { limt: '1' } }), ['limit']);
      expect.unreachable();
    } catch (error) {
      expect((error as ApiError).details).toEqual([{ field: 'query.limt', issue: 'unknown query parameter' }]);
    }
  });
});

describe('unexpected errors', () => {
  it('maps an unreachable or throttling data store to 503 and anything else to 500', () => {
    expect(toApiError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })).statusCode).toBe(503);
    expect(toApiError(Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException' })).statusCode).toBe(503);
    expect(toApiError(Object.assign(new Error('boom'), { $metadata: { httpStatusCode: 500 } })).statusCode).toBe(503);
    expect(toApiError(new TypeError('bug')).statusCode).toBe(500);
  });
});

describe('caller tenant', () => {
  const withTenant = (tenant: string) => event({ claims: { sub: 'u1', tenant } });
  it('accepts tenant names that start with a letter or a digit', () => {
    expect(callerOf(withTenant('acme')).tenant).toBe('acme');
    expect(callerOf(withTenant('9lives.co_uk-1')).tenant).toBe('9lives.co_uk-1');
  });

  // `_system` and `_account-<id>` are analytics namespaces (functions/analytics/tenant.ts): no token may open them.
  it.each(['_system', '_account-999988887777', '_account-unknown', '', 'a b'])('refuses the tenant %j with 403', (tenant) => {
    expect(() => callerOf(withTenant(tenant))).toThrow(expect.objectContaining({ statusCode: 403 }));
    expect(tenantClaimOf(withTenant(tenant))).toBeUndefined();
  });
});
