/**
 * The server held to docs/openapi.json in the tests: `contractProblems` checks one response
 * (documented route, documented status, content type, body against the schema, ETag), and
 * `startContractProxy` puts a loopback proxy in front of a local HTTP API that checks every
 * response passing through, whoever made the request (the test itself or a CLI it spawned).
 */
import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS: its default export is the function under ESM interop.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

type Json = Record<string, any>; // any: an OpenAPI document walked by JSON pointer

const document = JSON.parse(readFileSync(join(import.meta.dirname, '../../docs/openapi.json'), 'utf8')) as Json;
const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }));
ajv.addSchema(document, 'openapi');

/** Paths not in the document that the local gateway serves itself. */
// The local stack's own routes, not the API's: its contract and the local sign-in (scripts/local/cognito.ts).
const OWN_PATHS = new Set(['/openapi.json', '/local/token']);

const escapePointer = (segment: string) => segment.replaceAll('~', '~0').replaceAll('/', '~1');

interface PathTemplate {
  template: string;
  pattern: RegExp;
  literals: number;
}

const templates: PathTemplate[] = Object.keys(document.paths).map((template) => ({
  template,
  pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+').replaceAll('.', '\\.')}/?$`),
  literals: template.split('/').filter((s) => s && !s.startsWith('{')).length,
}));

/** The document's path for a request path; a literal segment beats a parameter, as in API Gateway. */
function templateOf(path: string): string | undefined {
  return templates.filter((t) => t.pattern.test(path)).sort((a, b) => b.literals - a.literals)[0]?.template;
}

const validators = new Map<string, ValidateFunction>();
function validatorAt(pointer: string): ValidateFunction {
  let validate = validators.get(pointer);
  if (!validate) {
    validate = ajv.getSchema(`openapi#${pointer}`);
    if (!validate) throw new Error(`no schema at ${pointer} in docs/openapi.json`);
    validators.set(pointer, validate);
  }
  return validate;
}

/** A response object and its JSON pointer, following one `$ref` to components/responses. */
function responseAt(pointer: string, response: Json): { pointer: string; response: Json } {
  const target = response.$ref as string | undefined;
  if (!target) return { pointer, response };
  const name = target.replace('#/components/responses/', '');
  return { pointer: `/components/responses/${escapePointer(name)}`, response: document.components.responses[name] as Json };
}

export interface ObservedResponse {
  method: string;
  /** Path and query as requested. */
  url: string;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** What is wrong with a response by the document; empty when it keeps to it. */
export function contractProblems(observed: ObservedResponse): string[] {
  const path = observed.url.split('?')[0] ?? '/';
  const what = `${observed.method} ${observed.url} → ${observed.status}`;
  // The gateway answers CORS preflights itself (when CORS is configured); they are no operation.
  if (OWN_PATHS.has(path) || observed.method === 'OPTIONS') return [];
  const template = templateOf(path);
  const operation = template ? (document.paths[template][observed.method.toLowerCase()] as Json | undefined) : undefined;
  if (!template || !operation) {
    // The gateway answers a path or method it has no route for itself.
    const gatewayNotFound = observed.status === 404 && observed.body === JSON.stringify({ message: 'Not Found' });
    return gatewayNotFound ? [] : [`${what}: no such operation in docs/openapi.json`];
  }
  const declared = operation.responses[String(observed.status)] as Json | undefined;
  if (!declared) return [`${what}: status ${observed.status} is not documented for ${observed.method} ${template}`];
  const { pointer, response } = responseAt(`/paths/${escapePointer(template)}/${observed.method.toLowerCase()}/responses/${observed.status}`, declared);
  const problems: string[] = [];
  const content = response.content as Json | undefined;
  if (!content) {
    if (observed.body.length > 0) problems.push(`${what}: documented without a body, but has ${observed.body.length} bytes`);
  } else {
    const contentType = String(observed.headers['content-type'] ?? '');
    if (!contentType.startsWith('application/json')) problems.push(`${what}: content-type "${contentType}", documented application/json`);
    let body: unknown;
    try {
      body = JSON.parse(observed.body);
    } catch {
      return [...problems, `${what}: the body is not JSON: ${observed.body.slice(0, 200)}`];
    }
    const validate = validatorAt(`${pointer}/content/application~1json/schema`);
    if (!validate(body)) {
      const errors = (validate.errors ?? []).slice(0, 5).map((e) => `${e.instancePath || '/'} ${e.message}`);
      problems.push(`${what}: the body breaks the documented schema (${errors.join('; ')}): ${observed.body.slice(0, 300)}`);
    }
  }
  for (const [name, header] of Object.entries((response.headers ?? {}) as Record<string, Json>)) {
    const value = observed.headers[name.toLowerCase()];
    const pattern = header.schema?.pattern as string | undefined;
    if (name === 'ETag' && value === undefined) problems.push(`${what}: the documented ETag header is missing`);
    if (value !== undefined && pattern && !new RegExp(pattern).test(String(value))) problems.push(`${what}: header ${name} "${String(value)}" does not match ${pattern}`);
  }
  return problems;
}

export interface ContractProxy {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Every problem seen so far, one line each. */
  problems(): string[];
  /** Number of responses checked. */
  checked(): number;
  close(): Promise<void>;
}

/** A checking proxy in front of `upstream` (a base URL); responses pass through unchanged. */
export async function startContractProxy(upstream: string): Promise<ContractProxy> {
  const target = new URL(upstream);
  const problems: string[] = [];
  let checked = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const forward = httpRequest(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } as IncomingHttpHeaders },
        (upstreamRes) => {
          const body: Buffer[] = [];
          upstreamRes.on('data', (chunk: Buffer) => body.push(chunk));
          upstreamRes.on('end', () => {
            const text = Buffer.concat(body);
            checked++;
            const found = contractProblems({ method: req.method ?? 'GET', url: req.url ?? '/', status: upstreamRes.statusCode ?? 0, headers: upstreamRes.headers, body: text.toString('utf8') });
            for (const problem of found) console.error(`CONTRACT: ${problem}`);
            problems.push(...found);
            res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
            res.end(text);
          });
        },
      );
      forward.on('error', (error) => {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`contract proxy: ${error.message}`);
      });
      forward.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    problems: () => [...problems],
    checked: () => checked,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function headersOf(response: Response): Record<string, string> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => (headers[name] = value));
  return headers;
}

/** `fetch` whose answer must keep to the document (for servers not behind a contract proxy, e.g. `npm start` children). */
export async function checkedFetch(url: string, init: RequestInit = {}): Promise<Response> {
  const response = await fetch(url, init);
  const body = await response.text();
  const { pathname, search } = new URL(url);
  const problems = contractProblems({ method: init.method ?? 'GET', url: `${pathname}${search}`, status: response.status, headers: headersOf(response), body });
  if (problems.length > 0) throw new Error(`the answer broke docs/openapi.json:\n${problems.join('\n')}`);
  return new Response(response.status === 204 ? null : body, { status: response.status, statusText: response.statusText, headers: response.headers });
}
