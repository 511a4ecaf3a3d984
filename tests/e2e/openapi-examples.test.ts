/**
 * The document's examples are requests the server accepts: every request-body and
 * parameter example in docs/openapi.json, sent to the local stack, gets its operation's
 * success status. The fuzzer checks that what the document calls invalid is refused; this is
 * the other direction, on the values a reader copies first.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../support/local-stack.ts';

type Json = Record<string, any>; // any: the document, walked by key
const document = JSON.parse(readFileSync(join(import.meta.dirname, '../../docs/openapi.json'), 'utf8')) as Json;
const schemaOf = (schema: Json): Json => (schema.$ref ? document.components.schemas[schema.$ref.split('/').pop()] : schema);

let local: LocalStack;
let headers: Record<string, string>;
beforeAll(async () => {
  local = await startLocalStack({ pollQueues: false });
  headers = { authorization: `Bearer ${await local.token({ admin: true })}`, 'content-type': 'application/json' };
});
afterAll(() => local.stop());

/** Path parameters: the item of the examples, and an import created for the chunk example. */
async function pathFor(template: string): Promise<string> {
  let path = template.replace('{collection}', 'books').replace('{id}', 'dune').replace('{userId}', 'alice');
  if (path.includes('{importId}')) {
    const created = await fetch(`${local.baseUrl}/imports`, { method: 'POST', headers, body: JSON.stringify({ collection: 'books' }) });
    path = path.replace('{importId}', ((await created.json()) as { importId: string }).importId);
  }
  return path;
}

// PUT first, so that PATCH finds the item its example changes.
const order = ['put', 'patch', 'post', 'get'];
const examples = Object.entries(document.paths as Record<string, Record<string, Json>>)
  .flatMap(([template, methods]) => Object.entries(methods).map(([method, operation]) => ({ template, method, operation })))
  .filter(({ operation }) => operation.requestBody || (operation.parameters ?? []).some((p: Json) => p.example !== undefined))
  .sort((a, b) => order.indexOf(a.method) - order.indexOf(b.method));

describe('the examples of docs/openapi.json', () => {
  it('are many enough to mean something', () => {
    expect(examples.map((e) => `${e.method.toUpperCase()} ${e.template}`).length).toBeGreaterThanOrEqual(5);
  });

  it.each(examples.map((e) => [`${e.method.toUpperCase()} ${e.template}`, e] as const))('%s is accepted', async (_name, { template, method, operation }) => {
    const content = operation.requestBody?.content?.['application/json'];
    const body = content ? (content.example ?? schemaOf(content.schema).example) : undefined;
    if (operation.requestBody) expect(body, 'a request body without an example').toBeDefined();
    const query = new URLSearchParams();
    for (const parameter of operation.parameters ?? []) {
      if (parameter.in !== 'query' || parameter.example === undefined) continue;
      if (typeof parameter.example === 'object') for (const [key, value] of Object.entries(parameter.example)) query.set(key, String(value));
      else query.set(parameter.name, String(parameter.example));
    }
    const url = `${local.baseUrl}${await pathFor(template)}${query.size > 0 ? `?${query}` : ''}`;
    const response = await fetch(url, { method: method.toUpperCase(), headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const success = Object.keys(operation.responses).filter((status) => status.startsWith('2'));
    expect(success, `${response.status} ${await response.clone().text()}`).toContain(String(response.status));
  });
});
