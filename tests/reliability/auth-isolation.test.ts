/**
 * Authentication and isolation, through the local HTTP API with its JWT authorizer:
 *
 *   1. missing, expired, not-yet-valid, wrong-issuer, wrong-audience, wrong-signature and
 *      `alg: none` tokens, and generated tamperings of a valid token, are 401 with API
 *      Gateway's `{"message":"Unauthorized"}` on every route that needs a token;
 *   2. a generated mix of tenants and users never reads, lists, changes or deletes another
 *      tenant's items (checked against a model, and on the table itself);
 *   3. imports and analytics stay within the caller's tenant; non-admins get 403 on the
 *      import routes and the analytics read routes.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokenOptions } from '../../scripts/local/jwt.ts';
import { routes } from '../../scripts/local/topology.ts';
import {
  captureConsole,
  directClients,
  eventually,
  http,
  newTally,
  publishTally,
  runs,
  scanAll,
  startReliabilityStack,
  timeoutFor,
  type ReliabilityStack,
} from '../support/reliability-harness.ts';

const tally = newTally('auth-isolation');
let local: ReliabilityStack;
let clients: ReturnType<typeof directClients>;
let quiet: ReturnType<typeof captureConsole>;

beforeAll(async () => {
  quiet = captureConsole();
  local = await startReliabilityStack({ pollQueues: true });
  clients = directClients(local.emulator);
});
afterAll(async () => {
  quiet.restore();
  await local?.stop();
});

const protectedRoutes = Object.entries(routes).filter(([, r]) => r.auth === 'jwt').map(([key]) => key);
const concretePath = (routeKey: string) =>
  routeKey
    .split(' ')[1]!
    .replace('{collection}', 'books')
    .replace('{id}', 'dune')
    .replace('{importId}', '0f5c7a2e-1b3d-4c5e-8f9a-0b1c2d3e4f5a')
    .replace('{userId}', 'alice');

const BROKEN: Array<NonNullable<TokenOptions['broken']>> = ['expired', 'not-yet-valid', 'wrong-issuer', 'wrong-audience', 'wrong-signature', 'alg-none'];

async function expectUnauthorized(routeKey: string, authorization: string | undefined, label: string): Promise<void> {
  const [method] = routeKey.split(' ') as [string];
  tally.casesTried++;
  tally.requestsMade++;
  const answer = await http(local.baseUrl, method, concretePath(routeKey), {
    headers: authorization === undefined ? {} : { authorization },
    ...(method === 'GET' || method === 'DELETE' ? {} : { body: '{"collection":"books","items":[],"events":[]}' }),
  });
  if (answer.status !== 401) tally.unauthorisedSucceeded++;
  expect(answer.status, `${label} on ${routeKey} answered ${answer.status} ${answer.text.slice(0, 200)}`).toBe(401);
  expect(answer.json).toEqual({ message: 'Unauthorized' });
}

describe('the JWT authorizer', () => {
  it('refuses missing, expired, not-yet-valid, wrong-issuer, wrong-audience, wrong-signature and alg:none tokens on every route', async () => {
    for (const routeKey of protectedRoutes) {
      await expectUnauthorized(routeKey, undefined, 'no Authorization header');
      await expectUnauthorized(routeKey, 'Bearer', 'an empty bearer');
      await expectUnauthorized(routeKey, `Basic ${Buffer.from('alice:secret').toString('base64')}`, 'Basic credentials');
      for (const broken of BROKEN) {
        await expectUnauthorized(routeKey, `Bearer ${await local.token({ broken, admin: true })}`, `a ${broken} token`);
      }
    }
  }, 60_000);

  it('refuses every tampering of a valid admin token (payload, header or signature changed, parts dropped)', async () => {
    const valid = await local.token({ admin: true });
    const [header, payload, signature] = valid.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    const tampering = fc.oneof(
      // Another tenant, sub or scope written into the payload without re-signing.
      fc.record({ tenant: fc.constantFrom('evil', 'acme2', ''), sub: fc.constantFrom('root', 'alice'), scope: fc.constantFrom('admin', 'items admin') }, { requiredKeys: [] }).map(
        (changes) => `${header}.${Buffer.from(JSON.stringify({ ...claims, ...changes, tenant: changes.tenant ?? 'evil' })).toString('base64url')}.${signature}`,
      ),
      // One character of the signature flipped.
      fc.nat({ max: signature.length - 2 }).map((i) => `${header}.${payload}.${signature.slice(0, i)}${signature[i] === 'A' ? 'B' : 'A'}${signature.slice(i + 1)}`),
      // Header switched to HS256 / none, signature kept or dropped.
      fc.constantFrom('HS256', 'none', 'RS512', 'ES256').chain((alg) =>
        fc.constantFrom(signature, '').map((sig) => `${Buffer.from(JSON.stringify({ alg, typ: 'JWT' })).toString('base64url')}.${payload}.${sig}`),
      ),
      // Structure broken.
      fc.constantFrom(`${header}.${payload}`, `${header}..${signature}`, `.${payload}.${signature}`, `${valid}.x`, valid.replaceAll('.', '..'), `${valid} `.repeat(2)),
    );
    await fc.assert(
      fc.asyncProperty(tampering, fc.constantFrom(...protectedRoutes), async (token, routeKey) => {
        await expectUnauthorized(routeKey, `Bearer ${token}`, 'a tampered token');
      }),
      { numRuns: runs(40, 600) },
    );
  }, timeoutFor(40));
});

// ---------------------------------------------------------------------------------------

interface Actor {
  tenant: string;
  user: string;
}
type Op =
  | { kind: 'put'; actor: Actor; collection: string; id: string; n: number }
  | { kind: 'patch'; actor: Actor; collection: string; id: string; n: number }
  | { kind: 'delete'; actor: Actor; collection: string; id: string }
  | { kind: 'get'; actor: Actor; collection: string; id: string }
  | { kind: 'list'; actor: Actor; collection: string }
  | { kind: 'stats'; actor: Actor; collection: string };

describe('tenant isolation of items', () => {
  it('a generated mix of tenants and users never reads, lists, changes or deletes another tenant’s data', async () => {
    const actor = fc.record({ tenant: fc.constantFrom('t-red', 't-blue', 't-green'), user: fc.constantFrom('ann', 'bob', 'cy') });
    const collection = fc.constantFrom('shared', 'notes');
    const id = fc.constantFrom('one', 'two', 'three');
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('put' as const), actor, collection, id, n: fc.nat(1000) }),
      fc.record({ kind: fc.constant('patch' as const), actor, collection, id, n: fc.nat(1000) }),
      fc.record({ kind: fc.constant('delete' as const), actor, collection, id }),
      fc.record({ kind: fc.constant('get' as const), actor, collection, id }),
      fc.record({ kind: fc.constant('list' as const), actor, collection }),
      fc.record({ kind: fc.constant('stats' as const), actor, collection }),
    );
    const tokens = new Map<string, string>();
    const tokenOf = async (a: Actor) => {
      const key = `${a.tenant}/${a.user}`;
      if (!tokens.has(key)) tokens.set(key, await local.token({ sub: a.user, tenant: a.tenant }));
      return tokens.get(key)!;
    };
    let round = 0;

    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 25 }), async (ops) => {
        // Each run gets its own collections, so the model starts empty.
        const run = `r${round++}`;
        const model = new Map<string, { owner: string; n: number }>(); // `${tenant}/${collection}/${id}`
        tally.casesTried++;
        for (const o of ops) {
          const c = `${run}-${o.collection}`;
          const token = await tokenOf(o.actor);
          const key = (id: string) => `${o.actor.tenant}/${c}/${id}`;
          tally.requestsMade++;
          const leaks = (text: string) => [...text.matchAll(/"owner":"([^"]+)"/g)].some((m) => m[1] !== o.actor.tenant);
          switch (o.kind) {
            case 'put': {
              const answer = await http(local.baseUrl, 'PUT', `/items/${c}/${o.id}`, { token, body: JSON.stringify({ owner: o.actor.tenant, n: o.n }) });
              expect(answer.status).toBe(model.has(key(o.id)) ? 200 : 201);
              model.set(key(o.id), { owner: o.actor.tenant, n: o.n });
              break;
            }
            case 'patch': {
              const answer = await http(local.baseUrl, 'PATCH', `/items/${c}/${o.id}`, { token, body: JSON.stringify({ n: o.n }) });
              const existing = model.get(key(o.id));
              if (!existing && answer.status !== 404) tally.unauthorisedSucceeded++;
              expect(answer.status).toBe(existing ? 200 : 404);
              if (existing) existing.n = o.n;
              if (leaks(answer.text)) tally.unauthorisedSucceeded++;
              break;
            }
            case 'delete': {
              const answer = await http(local.baseUrl, 'DELETE', `/items/${c}/${o.id}`, { token });
              if (!model.has(key(o.id)) && answer.status !== 404) tally.unauthorisedSucceeded++;
              expect(answer.status).toBe(model.has(key(o.id)) ? 204 : 404);
              model.delete(key(o.id));
              break;
            }
            case 'get': {
              const answer = await http(local.baseUrl, 'GET', `/items/${c}/${o.id}`, { token });
              const expected = model.get(key(o.id));
              if (leaks(answer.text)) tally.unauthorisedSucceeded++;
              expect(answer.status).toBe(expected ? 200 : 404);
              if (expected) expect((answer.json as { data: unknown }).data).toEqual(expected);
              break;
            }
            case 'list': {
              const answer = await http(local.baseUrl, 'GET', `/items/${c}?limit=100`, { token });
              expect(answer.status).toBe(200);
              if (leaks(answer.text)) tally.unauthorisedSucceeded++;
              const ids = (answer.json as { items: Array<{ id: string }> }).items.map((i) => i.id).sort();
              const expected = [...model.keys()].filter((k) => k.startsWith(`${o.actor.tenant}/${c}/`)).map((k) => k.split('/')[2]!).sort();
              expect(ids).toEqual(expected);
              break;
            }
            case 'stats': {
              const answer = await http(local.baseUrl, 'GET', `/collections/${c}/stats`, { token });
              expect(answer.status).toBe(200);
              // The count follows asynchronously (app-events function); it can never exceed what this tenant wrote.
              const owned = [...model.keys()].filter((k) => k.startsWith(`${o.actor.tenant}/${c}/`)).length;
              const written = ops.filter((x) => x.kind === 'put' && x.actor.tenant === o.actor.tenant).length;
              expect((answer.json as { itemCount: number }).itemCount).toBeLessThanOrEqual(Math.max(owned, written));
              break;
            }
          }
        }
        expect(tally.unauthorisedSucceeded).toBe(0);
      }),
      { numRuns: runs(8, 120) },
    );

    // On the table itself: every item record lives under its owner's tenant.
    const records = await scanAll(clients.dynamo, local.stack.tableName('data'));
    const misplaced = records.filter((r) => String(r.sk).startsWith('ITEM#') && (r.data as { owner?: string } | undefined)?.owner && !String(r.pk).startsWith(`TENANT#${(r.data as { owner: string }).owner}#`));
    tally.unauthorisedSucceeded += misplaced.length;
    expect(misplaced).toEqual([]);
  }, timeoutFor(8, 3000));
});

// ---------------------------------------------------------------------------------------

describe('imports and analytics stay within the tenant; non-admins are refused', () => {
  const importRoutes = protectedRoutes.filter((r) => r.includes('/imports'));
  const adminAnalyticsRoutes = protectedRoutes.filter((r) => r.startsWith('GET /analytics'));

  // The API refuses them before any function runs (the routes' authorization scopes, as API
  // Gateway's JWT authorizer does), with API Gateway's own body; the functions check again.
  it('non-admins get 403 from the API itself on every import route and every analytics read route', async () => {
    const token = await local.token({ sub: 'plain', tenant: 't-red' });
    for (const routeKey of [...importRoutes, ...adminAnalyticsRoutes]) {
      const [method] = routeKey.split(' ') as [string];
      tally.casesTried++;
      tally.requestsMade++;
      const answer = await http(local.baseUrl, method, concretePath(routeKey), { token, ...(method === 'POST' ? { body: '{"collection":"books","items":[{"id":"x","data":{}}]}' } : {}) });
      if (answer.status < 300) tally.unauthorisedSucceeded++;
      expect(answer.status, `${routeKey}: ${answer.text.slice(0, 200)}`).toBe(403);
      expect(answer.json).toEqual({ message: 'Forbidden' });
    }
    // POST /events is open to any signed-in user.
    const events = await http(local.baseUrl, 'POST', '/events', { token, body: JSON.stringify({ events: [{ action: 'CLICK', type: 'BUTTON_CLICK' }] }) });
    expect(events.status).toBe(202);
  });

  it('an admin imports only into their own tenant and cannot see, extend or commit another tenant’s import', async () => {
    const red = await local.token({ sub: 'root', tenant: 't-red', admin: true });
    const blue = await local.token({ sub: 'root', tenant: 't-blue', admin: true });
    tally.requestsMade += 2;
    const created = await http(local.baseUrl, 'POST', '/imports', { token: red, body: JSON.stringify({ collection: 'imported', items: [{ id: 'i1', data: { owner: 't-red' } }, { id: 'i2', data: { owner: 't-red' } }] }) });
    expect(created.status, created.text).toBe(201);
    const importId = (created.json as { importId: string }).importId;
    const open = await http(local.baseUrl, 'POST', '/imports', { token: red, body: JSON.stringify({ collection: 'imported-open' }) });
    const openId = (open.json as { importId: string }).importId;

    for (const [method, path, body] of [
      ['GET', `/imports/${importId}`, undefined],
      ['GET', `/imports/${importId}/failures`, undefined],
      ['POST', `/imports/${openId}/items`, JSON.stringify({ items: [{ id: 'evil', data: { owner: 't-blue' } }] })],
      ['POST', `/imports/${openId}/commit`, undefined],
    ] as const) {
      tally.casesTried++;
      tally.requestsMade++;
      const answer = await http(local.baseUrl, method, path, { token: blue, ...(body ? { body } : {}) });
      if (answer.status < 300) tally.unauthorisedSucceeded++;
      expect(answer.status, `${method} ${path} by another tenant's admin: ${answer.text.slice(0, 200)}`).toBe(404);
    }

    // The worker stores the items, under t-red only.
    const stored = await eventually(async () => {
      const answer = await http(local.baseUrl, 'GET', '/items/imported?limit=100', { token: red });
      return (answer.json as { items?: unknown[] } | undefined)?.items?.length === 2;
    }, 20_000, 200);
    expect(stored, 'the import was not stored').toBe(true);
    const blueView = await http(local.baseUrl, 'GET', '/items/imported?limit=100', { token: blue });
    expect((blueView.json as { items: unknown[] }).items).toEqual([]);
    const records = await scanAll(clients.dynamo, local.stack.tableName('data'));
    const evil = records.filter((r) => (r.data as { owner?: string } | undefined)?.owner === 't-blue' && String(r.pk).includes('imported'));
    expect(evil).toEqual([]);
  }, 40_000);

  it('an admin reads analytics of their own tenant only', async () => {
    const greenUser = await local.token({ sub: 'gus', tenant: 't-green' });
    const greenAdmin = await local.token({ sub: 'root', tenant: 't-green', admin: true });
    const blueAdmin = await local.token({ sub: 'root', tenant: 't-blue', admin: true });
    for (let i = 0; i < 3; i++) {
      tally.requestsMade++;
      await http(local.baseUrl, 'PUT', `/items/green/g${i}`, { token: greenUser, body: '{"owner":"t-green"}' });
    }
    // The analytics processor stores them (queue → function → table); the owner's admin sees them.
    const seenByOwner = await eventually(async () => {
      tally.requestsMade++;
      const answer = await http(local.baseUrl, 'GET', '/analytics/users/gus/events', { token: greenAdmin });
      return ((answer.json as { events?: unknown[] } | undefined)?.events?.length ?? 0) >= 3;
    }, 25_000, 500);
    expect(seenByOwner, 'the owner tenant’s admin never saw the events (the check below would prove nothing)').toBe(true);
    tally.casesTried++;
    tally.requestsMade++;
    const other = await http(local.baseUrl, 'GET', '/analytics/users/gus/events', { token: blueAdmin });
    expect(other.status).toBe(200);
    const leaked = (other.json as { events: unknown[] }).events.length;
    tally.unauthorisedSucceeded += leaked;
    expect(leaked).toBe(0);
  }, 40_000);

  it('publishes the tally', (context) => {
    quiet.restore();
    publishTally(context, tally);
  });
});
