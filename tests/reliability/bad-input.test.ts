/**
 * Bad input, property-based, against every route of the local HTTP API (the real handlers
 * behind the local API Gateway with its JWT authorizer):
 *
 * random and malformed JSON, wrong types, huge and deeply nested bodies, odd unicode (lone
 * surrogates, RTL, zero-width, NUL), path and query parameter abuse, DynamoDB expression
 * injection through filter and sort fields, oversized headers.
 *
 * Properties, for every generated request:
 *   1. never a 5xx;
 *   2. a 4xx from our functions has exactly the body {"error":{"code","message","details?"}};
 *      the gateway's own refusals (401 authorizer, 404 no route, 413/431 too large) have theirs;
 *   3. a rejected request writes nothing (the data table is identical before and after);
 *   4. a rejection by a function emits one FAILURE analytics event with an errorType.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routes } from '../../scripts/local/topology.ts';
import {
  captureConsole,
  directClients,
  eventually,
  http,
  isErrorBody,
  metadataOf,
  newTally,
  observeEventBridge,
  publishTally,
  runs,
  timeoutFor,
  startReliabilityStack,
  tableFingerprint,
  type HttpAnswer,
  type ReliabilityStack,
} from '../support/reliability-harness.ts';

const tally = newTally('bad-input');
let local: ReliabilityStack;
let observer: ReturnType<typeof observeEventBridge>;
let clients: ReturnType<typeof directClients>;
let userToken: string;
let adminToken: string;
let quiet: ReturnType<typeof captureConsole>;
let openImportId = '0f5c7a2e-1b3d-4c5e-8f9a-0b1c2d3e4f5a';

beforeAll(async () => {
  quiet = captureConsole();
  local = await startReliabilityStack({ pollQueues: false });
  observer = observeEventBridge();
  clients = directClients(local.emulator);
  userToken = await local.token({ sub: 'fuzz-user', tenant: 'fuzz' });
  adminToken = await local.token({ sub: 'fuzz-admin', tenant: 'fuzz', admin: true });
  // An open import, so the item and commit routes reach their body checks.
  const open = await http(local.baseUrl, 'POST', '/imports', { token: adminToken, body: '{"collection":"things"}' });
  expect(open.status, open.text).toBe(201);
  openImportId = (open.json as { importId: string }).importId;
  // Something to find, page through, patch and filter.
  for (const id of ['a', 'b', 'c']) {
    const put = await http(local.baseUrl, 'PUT', `/items/things/${id}`, { token: userToken, body: JSON.stringify({ colour: 'red', n: 1 }) });
    expect(put.status).toBe(201);
  }
});
afterAll(async () => {
  quiet.restore();
  await local?.stop();
});

// ---------------------------------------------------------------------------------------
// Generators

const oddStrings = fc.constantFrom(
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfffy',
  '\u202eevil\u202c',
  '\u200b\u200c\u200d\ufeff',
  'مرحبا',
  '🧨💥',
  'e\u0301\u0301\u0301',
  '\u2028\u2029',
  "' OR 1=1 --",
  '#pk',
  ':pk',
  'attribute_exists(pk)',
  'data) OR (#pk = :pk',
  '${jndi:ldap://x}',
  '<script>alert(1)</script>',
  '../../etc/passwd',
  '%00',
  'a'.repeat(200),
);

const anyText = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 20 }), oddStrings);

/** Raw (already URL-encoded) path segments: valid names, encoded abuse, and byte sequences that are not UTF-8. */
const pathSegment = fc.oneof(
  { weight: 3, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.-]{1,12}$/) },
  { weight: 3, arbitrary: anyText.map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '\ufffd'))) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('%ED%A0%80', '%C0%AF', '%2F', '..', '.', '%2e%2e', '%00', '%FF%FE', 'a%', '%%', '%u0041', 'x'.repeat(129), '%23pk', 'ITEM%23x', '%20'),
  },
);

const queryKey = fc.oneof(
  fc.constantFrom('limit', 'cursor', 'sort', 'order', 'filter.colour', 'filter.n', 'filter.', 'filter.#pk', 'filter.data.x', 'filter.a b', 'token', 'filter.' + 'x'.repeat(80), 'LIMIT', ''),
  fc.string({ maxLength: 12 }).map((s) => `filter.${s}`),
  fc.string({ maxLength: 12 }),
);
const queryValue = fc.oneof(
  fc.constantFrom('', '0', '-1', '1e3', '101', '25', 'NaN', 'null', 'true', 'desc', 'asc', 'id', 'createdAt', '#pk', 'createdAt) OR (#pk', ':pk', 'eyJ2IjoxfQ', 'x'.repeat(3000)),
  anyText,
);
const queryString = fc
  .array(fc.tuple(queryKey, queryValue), { maxLength: 6 })
  .map((pairs) => pairs.map(([k, v]) => `${encodeURIComponent(k.replace(/[\ud800-\udfff]/g, '\ufffd'))}=${encodeURIComponent(v.replace(/[\ud800-\udfff]/g, '\ufffd'))}`).join('&'));

function nested(depth: number, kind: 'array' | 'object'): string {
  return kind === 'array' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

const body = fc.oneof(
  { weight: 3, arbitrary: fc.json({ maxDepth: 4 }) },
  { weight: 2, arbitrary: fc.json({ maxDepth: 3 }).map((j) => j.slice(0, Math.max(0, j.length - 1))) },
  { weight: 4, arbitrary: fc.dictionary(anyText, fc.oneof(anyText, fc.integer(), fc.double(), fc.boolean(), fc.constant(null)), { minKeys: 1, maxKeys: 5 }).map((o) => JSON.stringify(o)) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', 'null', '[]', '"x"', '42', 'true', '{', '}', '{"a":}', "{'a':1}", '{"a":1}{"b":2}', '\u0000', '{"\\ud800":"\\udc00"}', '{"a":"\\u0000"}', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}') },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 20, max: 3000 }), fc.constantFrom<'array' | 'object'>('array', 'object')).map(([d, k]) => nested(d, k)) },
  { weight: 1, arbitrary: fc.integer({ min: 340, max: 1200 }).map((kb) => JSON.stringify({ text: 'x'.repeat(kb * 1024) })) },
  { weight: 1, arbitrary: fc.array(fc.record({ id: anyText, data: fc.anything() }), { maxLength: 30 }).map((items) => JSON.stringify({ collection: 'things', items })) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

const headerSet = fc.record(
  {
    'if-match': fc.oneof(fc.constantFrom('"1"', '*', 'W/"x"', '"99999999999999999999"', '', '"-1"'), anyText.map((s) => s.replace(/[^\x20-\x7e]/g, ''))),
    'content-type': fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream', 'application/json; charset=utf-16', 'multipart/form-data; boundary=x'),
    'x-padding': fc.integer({ min: 1, max: 20 }).map((kb) => 'p'.repeat(kb * 1024)),
    'x-amzn-trace-id': fc.constantFrom('Root=1-abc', 'Root=', ';;;', 'Root=' + 'r'.repeat(500)),
  },
  { requiredKeys: [] },
);

interface Case {
  routeKey: string;
  path: string;
  query: string;
  body: string | undefined;
  headers: Record<string, string>;
  auth: 'user' | 'admin' | 'none';
}

const routeKeys = Object.keys(routes);
const requestCase: fc.Arbitrary<Case> = fc
  .record({
    routeKey: fc.constantFrom(...routeKeys),
    segments: fc.array(pathSegment, { minLength: 3, maxLength: 3 }),
    useUuid: fc.boolean(),
    query: queryString,
    body,
    headers: headerSet,
    auth: fc.constantFrom<Case['auth']>('user', 'user', 'admin', 'admin', 'none'),
  })
  .map(({ routeKey, segments, useUuid, query, body, headers, auth }) => {
    const [, template] = routeKey.split(' ') as [string, string];
    let i = 0;
    const path = template.replace(/\{[^}]+\}/g, (param) => (param === '{importId}' && useUuid ? '0f5c7a2e-1b3d-4c5e-8f9a-0b1c2d3e4f5a' : segments[i++ % segments.length]!));
    return { routeKey, path, query, body, headers, auth };
  });

// ---------------------------------------------------------------------------------------

// 403: a route's authorization scopes (admin routes) refuse a token without them (API Gateway's own body).
const GATEWAY_REFUSALS = new Set([401, 403, 404, 413, 431]);

function isGatewayRefusal(answer: HttpAnswer): boolean {
  if (answer.status === 431) return true; // Node's HTTP parser: header fields too large, no body.
  const json = answer.json as Record<string, unknown> | undefined;
  return GATEWAY_REFUSALS.has(answer.status) && json !== undefined && Object.keys(json).length === 1 && typeof json.message === 'string';
}

async function send(c: Case): Promise<HttpAnswer> {
  const [method] = c.routeKey.split(' ') as [string];
  const token = c.auth === 'none' ? undefined : c.auth === 'admin' ? adminToken : userToken;
  tally.requestsMade++;
  try {
    return await http(local.baseUrl, method, `${c.path}${c.query ? `?${c.query}` : ''}`, {
      ...(token ? { token } : {}),
      ...(c.body !== undefined && method !== 'GET' ? { body: c.body } : {}),
      headers: c.headers,
    });
  } catch (error) {
    // Node refuses a too-large header block by closing the socket after a 431; fetch may see only the reset.
    if (Buffer.byteLength(JSON.stringify(c.headers)) > 16 * 1024) return { status: 431, headers: new Headers(), text: '', json: undefined, ms: 0 };
    throw error;
  }
}

// Bugs found here (BUG-1..4: numbers DynamoDB cannot store, empty field names, lone
// surrogates, nesting past 32 levels; BUG-7: `__proto__`/`constructor` fields) are fixed;
// each keeps a regression test below, and their cases are generated like any other.
// BUG-8 (import items with lone surrogates, or data the write path refuses) is fixed the same
// way: import items get the write path's checks.

/** Answers per route and status: shows how deep the generated cases reach. */
const statusCounts: Record<string, Record<number, number>> = {};

/** A request each route accepts (or answers 404 for a missing resource). */
function validRequest(routeKey: string): Case {
  const [method, template] = routeKey.split(' ') as [string, string];
  const path = template.replace('{collection}', 'things').replace('{id}', 'a').replace('{importId}', openImportId).replace('{userId}', 'fuzz-user');
  const bodies: Record<string, string> = {
    'PUT /items/{collection}/{id}': '{"colour":"red","n":1}',
    'PATCH /items/{collection}/{id}': '{"n":2}',
    'POST /imports': '{"collection":"things"}',
    'POST /imports/{importId}/items': '{"items":[{"id":"a","data":{"n":1}}]}',
    'POST /events': '{"events":[{"action":"CLICK","type":"BUTTON_CLICK"}]}',
  };
  const admin = routeKey.includes('/imports') || routeKey.startsWith('GET /analytics');
  return { routeKey, path, query: '', body: method === 'GET' || method === 'DELETE' ? undefined : bodies[routeKey], headers: {}, auth: admin ? 'admin' : 'user' };
}

const skippedRoutes = () => routeKeys.filter((key) => local.skipped.includes(routes[key as keyof typeof routes].function));

describe('bad input never breaks the API', () => {
  it('every route: no 5xx, the error body shape, nothing written on rejection, a FAILURE analytics event', async () => {
    const liveRoutes = routeKeys.filter((key) => !skippedRoutes().includes(key));
    // Mostly a valid request for a live route with one part broken (so the handler's deeper
    // checks are reached), sometimes everything random at once.
    const nearlyValid = (routeKey: string) => fc.tuple(requestCase, fc.constantFrom('body', 'body', 'body', 'body', 'path', 'query', 'headers', 'auth')).map(([random, broken]): Case => {
      const valid = validRequest(routeKey);
      const [, template] = routeKey.split(' ') as [string, string];
      const segments = random.path.split('/').slice(2);
      let i = 0;
      const randomPath = template.replace(/\{[^}]+\}/g, () => segments[i++ % Math.max(1, segments.length)] ?? 'x');
      return {
        ...valid,
        ...(broken === 'body' ? { body: random.body } : {}),
        ...(broken === 'path' ? { path: randomPath } : {}),
        ...(broken === 'query' ? { query: random.query } : {}),
        ...(broken === 'headers' ? { headers: random.headers } : {}),
        ...(broken === 'auth' ? { auth: random.auth } : {}),
      };
    });
    // Each live route gets its own share of cases.
    for (const liveRoute of liveRoutes) await fc.assert(
      fc.asyncProperty(fc.oneof({ weight: 3, arbitrary: nearlyValid(liveRoute) }, { weight: 1, arbitrary: requestCase }), async (c) => {
        if (skippedRoutes().includes(c.routeKey)) return; // its function does not exist yet (501); reported below
        tally.casesTried++;
        const before = await tableFingerprint(clients.dynamo, local.stack.tableName('data'));
        const answer = await send(c);
        const perRoute = (statusCounts[c.routeKey] ??= {});
        perRoute[answer.status] = (perRoute[answer.status] ?? 0) + 1;
        expect(answer.status, `5xx for ${c.routeKey} ${answer.text.slice(0, 300)}`).toBeLessThan(500);
        if (answer.status < 400) return;
        const after = await tableFingerprint(clients.dynamo, local.stack.tableName('data'));
        expect(after === before, `a rejected request (${answer.status}) changed the data table`).toBe(true);
        if (isGatewayRefusal(answer) && !isErrorBody(answer.json)) return;
        expect(isErrorBody(answer.json), `error body shape for ${answer.status}: ${answer.text.slice(0, 300)}`).toBe(true);
        const requestId = answer.headers.get('apigw-requestid') ?? '';
        const seen = await eventually(() => observer.analyticsFor(requestId).length > 0, 5000);
        expect(seen, `no analytics event for rejected request ${requestId}`).toBe(true);
        const events = observer.analyticsFor(requestId);
        expect(events).toHaveLength(1);
        expect(metadataOf(events[0]!)).toMatchObject({ status: 'FAILURE', errorType: expect.stringMatching(/^[A-Z_]+$/) });
      }),
      { numRuns: runs(20, 150) },
    );
  }, Math.max(30_000, runs(20, 150) * routeKeys.length * 200 + 20_000));

  it('DynamoDB expression syntax in filter and sort fields is data or a 400, never an expression', async () => {
    const injections = fc.constantFrom('#pk', ':pk', 'pk', 'sk', 'data.#pk', 'colour) OR (attribute_exists(pk)', 'colour OR 1=1', 'size(pk) > :v', '#data.#f0', ':f0v0', 'colour, pk');
    await fc.assert(
      fc.asyncProperty(injections, fc.oneof(fc.constant('red'), injections), fc.constantFrom('filter', 'sort'), async (field, value, where) => {
        tally.casesTried++;
        const query = where === 'filter' ? `filter.${encodeURIComponent(field)}=${encodeURIComponent(value)}` : `sort=${encodeURIComponent(field)}`;
        tally.requestsMade++;
        const answer = await http(local.baseUrl, 'GET', `/items/things?${query}`, { token: userToken });
        expect(answer.status === 200 || answer.status === 400, `${query} → ${answer.status}`).toBe(true);
        if (answer.status === 400) expect(isErrorBody(answer.json)).toBe(true);
        else {
          // Only items whose data really has that field with that value: here, none.
          const items = (answer.json as { items: Array<{ data: Record<string, unknown> }> }).items;
          for (const item of items) expect(item.data[field]).toBe(value);
        }
      }),
      { numRuns: runs(30, 200) },
    );
  }, timeoutFor(30));

  // Found by this suite, fixed in 0fe2e71 (items/validate.ts): each was a 5xx, BUG-2 after a write.
  it.each([
    ['BUG-1 a number beyond Number.MAX_SAFE_INTEGER', '{"n":1e16}'],
    ['BUG-1 a number smaller in magnitude than 1e-130', '{"n":5e-324}'],
    ['BUG-2 an empty field name', '{"a":{"":1}}'],
    ['BUG-3 a lone surrogate', '{"a":"\\ud800"}'],
    ['BUG-4 data nested 40 levels deep', nested(40, 'object')],
  ])('PUT with %s is a 400 naming the field, and writes nothing', async (_name, body) => {
    const before = await tableFingerprint(clients.dynamo, local.stack.tableName('data'));
    tally.requestsMade++;
    tally.casesTried++;
    const answer = await http(local.baseUrl, 'PUT', '/items/bugs/fixed', { token: userToken, body });
    expect(answer.status, answer.text).toBe(400);
    expect(isErrorBody(answer.json)).toBe(true);
    expect((answer.json as { error: { details: Array<{ field?: string }> } }).error.details[0]?.field).toMatch(/^body/);
    expect(await tableFingerprint(clients.dynamo, local.stack.tableName('data'))).toBe(before);
  });

  // BUG-7: field names that are special on JavaScript objects break the write path:
  // PUT {"__proto__":{"x":1}} (also nested, and PATCH {"a":{"__proto__":1}}) → the request the SDK sends
  // is not what was meant; the emulator answers 500 and the API 503 SERVICE_UNAVAILABLE;
  // PUT {"constructor":{"prototype":{"x":1}}} → lib-dynamodb marshall() throws "Unsupported type
  // passed: [object Object]. Pass options.convertClassInstanceToMap=true" → 500 INTERNAL_ERROR.
  // Both are valid JSON objects. Expected: stored as ordinary fields (or a 400 naming the field).
  // Fixed: `__proto__` is a 400 (reserved field name), `constructor` is stored as a field.
  it('BUG-7: PUT with a "__proto__" or "constructor" field is not a 5xx', async () => {
    tally.requestsMade += 2;
    const proto = await http(local.baseUrl, 'PUT', '/items/bugs/proto', { token: userToken, body: '{"__proto__":{"x":1}}' });
    const ctor = await http(local.baseUrl, 'PUT', '/items/bugs/ctor', { token: userToken, body: '{"constructor":{"prototype":{"x":1}}}' });
    expect([proto.status < 500, ctor.status < 500]).toEqual([true, true]);
  });

  // BUG-8 (fixed): the import API does not apply the item-data checks the write API got in
  // 0fe2e71 (functions/shared/items/validate.ts) to import items:
  //  a) POST /imports {"collection":"things","items":[{"id":"x\udfffy","data":{}}]} — an item id with
  //     a lone surrogate: the job record is written first, then writing the chunk (its rejection
  //     record carries the id) fails in DynamoDB: 503 SERVICE_UNAVAILABLE (AWS: ValidationException
  //     → 500) and an OPEN job is left behind (a write on a rejected request);
  //  b) POST /imports {"collection":"things","items":[{"id":"ok","data":{"a":"\ud800"}}]} — 201 with
  //     accepted: 1, an item DynamoDB can never store (the worker retries it into the DLQ).
  // Expected: such items in `rejected` with a reason (or a 400), nothing written for (a).
  it('BUG-8: import items with lone surrogates are rejected up front, never a 5xx', async () => {
    const badId = '{"collection":"bug8","items":[{"id":"x\\udfffy","data":{}}]}';
    const badData = '{"collection":"bug8","items":[{"id":"ok","data":{"a":"\\ud800"}}]}';
    tally.requestsMade += 2;
    const first = await http(local.baseUrl, 'POST', '/imports', { token: adminToken, body: badId });
    const second = await http(local.baseUrl, 'POST', '/imports', { token: adminToken, body: badData });
    expect(first.status, first.text).toBeLessThan(500);
    expect((second.json as { accepted?: number }).accepted ?? 0, second.text).toBe(0);
  });

  it('reports routes it could not test yet (functions not written) and publishes the tally', (context) => {
    quiet.restore();
    const skipped = skippedRoutes();
    console.log(`bad-input: answers per route and status: ${JSON.stringify(statusCounts)}`);
    if (skipped.length > 0) console.log(`bad-input: routes not tested because their function does not exist yet: ${skipped.join(', ')}`);
    expect(skipped.length).toBeLessThan(routeKeys.length);
    publishTally(context, tally);
  });
});
