/**
 * docs/openapi.json against the code: current with its builder, the same routes as the one
 * topology (both ways), the same authentication per route, served by the local gateway, and
 * the client's types generated from it.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpApi, type HttpApi } from '../../scripts/local/http-api.ts';
import { generateSigningKeys } from '../../scripts/local/jwt.ts';
import { routes } from '../../scripts/local/topology.ts';
import { clientTypesFile, clientTypesFor, documentFile, documentText } from '../../scripts/openapi/write.ts';

type Operation = { security?: unknown[]; responses: Record<string, unknown> };
const committed = JSON.parse(readFileSync(documentFile, 'utf8')) as { paths: Record<string, Record<string, Operation>> };

/** Route keys (`GET /items/{collection}`) of a document's operations. */
function routeKeysOf(document: typeof committed): string[] {
  return Object.entries(document.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`));
}

describe('docs/openapi.json', () => {
  it('is what scripts/openapi/document.ts builds (run `npm run openapi` after changing it)', () => {
    expect(readFileSync(documentFile, 'utf8')).toBe(documentText());
  });

  it('names exactly the routes of topology.json', () => {
    const documented = routeKeysOf(committed).sort();
    const declared = Object.keys(routes).sort();
    expect({ missingFromDocument: declared.filter((r) => !documented.includes(r)), notInTopology: documented.filter((r) => !declared.includes(r)) }).toEqual({
      missingFromDocument: [],
      notInTopology: [],
    });
  });

  it("asks for the bearer token exactly where the gateway's authorizer does", () => {
    for (const [routeKey, target] of Object.entries(routes)) {
      const [method, path] = routeKey.split(' ') as [string, string];
      const op = committed.paths[path]![method.toLowerCase()]!;
      const open = Array.isArray(op.security) && op.security.length === 0;
      expect({ routeKey, open }).toEqual({ routeKey, open: target.auth === 'none' });
      if (target.auth === 'jwt') expect(op.responses, routeKey).toHaveProperty('401');
    }
  });

  it("asks for the admin scope exactly where the gateway's route authorization scopes do", () => {
    const scopesOf = (op: Operation) => ((op.security ?? []) as Array<Record<string, string[]>>).flatMap((requirement) => requirement.bearerAuth ?? []);
    const documented = Object.entries(routes).map(([routeKey]) => {
      const [method, path] = routeKey.split(' ') as [string, string];
      return [routeKey, scopesOf(committed.paths[path]![method.toLowerCase()]!)];
    });
    expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(Object.entries(routes).map(([routeKey, target]) => [routeKey, [...(target.scopes ?? [])]])));
  });

  it("the typed client's types are generated from it (run `npm run openapi`)", () => {
    expect(readFileSync(clientTypesFile, 'utf8')).toBe(clientTypesFor(documentFile));
  });
});

describe('GET /openapi.json on the local gateway', () => {
  let api: HttpApi;
  let baseUrl: string;
  beforeAll(async () => {
    const keys = await generateSigningKeys();
    api = createHttpApi({
      routes: { 'GET /items/{collection}': { function: 'none', auth: 'jwt' } },
      functionFor: () => undefined,
      authorizer: { publicKey: keys.publicKey, issuer: 'i', audience: 'a' },
      openApiDocument: readFileSync(documentFile, 'utf8'),
      log: () => undefined,
    });
    baseUrl = await api.listen(0);
  });
  afterAll(() => api.close());

  it('serves the committed document without a token', async () => {
    const response = await fetch(`${baseUrl}/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toEqual(committed);
  });
});
