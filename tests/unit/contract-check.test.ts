/** The tests' contract check (tests/support/contract.ts) itself: what it lets through and what it names. */
import { describe, expect, it } from 'vitest';
import { contractProblems, type ObservedResponse } from '../support/contract.ts';

const item = { collection: 'books', id: 'dune', data: { title: 'Dune' }, version: 1, createdAt: '2026-01-31T12:00:00.000Z', updatedAt: '2026-01-31T12:00:00.000Z' };
const answer = (method: string, url: string, status: number, body: unknown, headers: Record<string, string> = {}): ObservedResponse => ({
  method,
  url,
  status,
  headers: { 'content-type': 'application/json', ...headers },
  body: body === undefined ? '' : JSON.stringify(body),
});

describe('contractProblems', () => {
  it('passes answers the document names', () => {
    expect(contractProblems(answer('GET', '/items/books/dune', 200, item, { etag: '"1"' }))).toEqual([]);
    expect(contractProblems(answer('GET', '/items/books?limit=2', 200, { items: [item], nextCursor: null }))).toEqual([]);
    expect(contractProblems(answer('DELETE', '/items/books/dune', 204, undefined))).toEqual([]);
    expect(contractProblems(answer('GET', '/items/books', 401, { message: 'Unauthorized' }))).toEqual([]);
    expect(contractProblems(answer('GET', '/no/such/route', 404, { message: 'Not Found' }))).toEqual([]);
    expect(contractProblems(answer('POST', '/imports', 400, { error: { code: 'VALIDATION_FAILED', message: 'm', details: [{ field: 'body.collection', issue: 'i' }] } }))).toEqual([]);
    expect(contractProblems(answer('OPTIONS', '/items/books', 204, undefined))).toEqual([]);
  });

  it('names a renamed field, an undocumented status, a missing ETag, a wrong error body and an unknown route', () => {
    const { version: _version, ...renamed } = item;
    expect(contractProblems(answer('GET', '/items/books/dune', 200, { ...renamed, rev: 1 }, { etag: '"1"' })).join()).toMatch(/breaks the documented schema/);
    expect(contractProblems(answer('GET', '/items/books/dune', 418, {})).join()).toMatch(/status 418 is not documented/);
    expect(contractProblems(answer('GET', '/items/books/dune', 200, item)).join()).toMatch(/ETag header is missing/);
    expect(contractProblems(answer('PUT', '/items/books/dune', 400, { message: 'bad' })).join()).toMatch(/breaks the documented schema/);
    expect(contractProblems(answer('GET', '/no/such/route', 200, {})).join()).toMatch(/no such operation/);
  });
});
