/**
 * The analytics dashboard for `npm start`: builds web/ and serves it, with
 *
 * - `GET /config.json`: the API's URL and the local sign-in (what Terraform writes deployed);
 * - `POST /local/token` {sub, tenant, admin}: a token the local API accepts, minted the way
 *   `npm run token` mints one (the caller passes the minting function). Local only: the
 *   deployed dashboard signs in with Cognito, and no deployed server has this endpoint.
 *
 * It listens on its own port, so the browser calls the API cross-origin as it does deployed;
 * the API's CORS origins must include this server's (`dashboardCorsOrigins`).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { buildWeb, type WebFile } from '../../web/build.ts';
import { cors } from './topology.ts';

export interface LocalIdentity {
  sub: string;
  tenant: string;
  admin: boolean;
}

export interface DashboardOptions {
  port: number;
  host?: string;
  /** The API's base URL (a function when the API starts after this server). */
  apiUrl: string | (() => string);
  mintToken(identity: LocalIdentity): Promise<string>;
  /** Where to build the files; default a new temporary directory, removed by close() (several stacks may run at once). */
  outDir?: string;
  refreshSeconds?: number;
}

export interface Dashboard {
  url: string;
  /** The built files and their sizes. */
  files: WebFile[];
  close(): Promise<void>;
}

/** The API's local CORS origins plus the dashboard's (`http://127.0.0.1:<port>`), by both loopback names. */
export function dashboardCorsOrigins(dashboardUrl: string): string[] {
  const { port } = new URL(dashboardUrl);
  return [...cors.localAllowOrigins, `http://127.0.0.1:${port}`, `http://localhost:${port}`];
}

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** The same policy the deployed site's CloudFront response headers set (terraform/modules/static-site). */
export function securityHeaders(apiUrl: string): Record<string, string> {
  return {
    'content-security-policy': `default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ${new URL(apiUrl).origin}; frame-ancestors 'none'; base-uri 'self'; form-action 'self'`,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
  };
}

// Token requests are tiny; anything larger is not one.
const maxTokenRequestBytes = 4096;
const subPattern = /^[A-Za-z0-9_.@-]{1,128}$/;
const tenantPattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string | Buffer): void {
  res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  send(res, status, { 'content-type': 'application/json' }, JSON.stringify({ error: { code, message } }));
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxTokenRequestBytes) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Validates a token request; returns the identity or the problem. */
export function parseIdentity(body: unknown): LocalIdentity | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'the body must be a JSON object {sub, tenant, admin}';
  const { sub, tenant, admin, ...rest } = body as Record<string, unknown>;
  if (Object.keys(rest).length > 0) return `unknown fields: ${Object.keys(rest).join(', ')}`;
  if (typeof sub !== 'string' || !subPattern.test(sub)) return 'sub: 1 to 128 of A-Z a-z 0-9 _ . @ -';
  if (typeof tenant !== 'string' || !tenantPattern.test(tenant)) return 'tenant: a letter or digit, then up to 127 of A-Z a-z 0-9 _ . -';
  if (admin !== undefined && typeof admin !== 'boolean') return 'admin: true or false';
  return { sub, tenant, admin: admin ?? false };
}

export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const root = resolve(options.outDir ?? mkdtempSync(join(tmpdir(), 'event-flows-dashboard-')));
  const files = await buildWeb({ outDir: root, quiet: true });
  const apiUrl = () => (typeof options.apiUrl === 'function' ? options.apiUrl() : options.apiUrl);

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    let path: string;
    try {
      path = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/');
    } catch {
      return sendError(res, 400, 'VALIDATION_ERROR', 'the path is not valid percent-encoding');
    }
    if (path === '/local/token') {
      if (req.method !== 'POST') return sendError(res, 405, 'METHOD_NOT_ALLOWED', 'POST a JSON body {sub, tenant, admin}');
      const raw = await readBody(req);
      if (!raw) return sendError(res, 413, 'PAYLOAD_TOO_LARGE', `at most ${maxTokenRequestBytes} bytes`);
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return sendError(res, 400, 'VALIDATION_ERROR', 'the body is not JSON');
      }
      const identity = parseIdentity(body);
      if (typeof identity === 'string') return sendError(res, 400, 'VALIDATION_ERROR', identity);
      const token = await options.mintToken(identity);
      return send(res, 200, { 'content-type': 'application/json', 'cache-control': 'no-store' }, JSON.stringify({ access_token: token, token_type: 'Bearer' }));
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 405, 'METHOD_NOT_ALLOWED', 'the dashboard serves files only');
    if (path === '/config.json') {
      const config = { apiUrl: apiUrl(), auth: { kind: 'local', tokenEndpoint: '/local/token' }, refreshSeconds: options.refreshSeconds ?? 30 };
      return send(res, 200, { 'content-type': 'application/json', 'cache-control': 'no-store' }, JSON.stringify(config));
    }
    const file = normalize(join(root, path === '/' ? 'index.html' : path));
    if (!file.startsWith(root + sep) || !existsSync(file) || !statSync(file).isFile()) return sendError(res, 404, 'NOT_FOUND', `no file ${path}`);
    const immutable = path.startsWith('/assets/');
    send(
      res,
      200,
      {
        'content-type': contentTypes[extname(file)] ?? 'application/octet-stream',
        'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
        ...securityHeaders(apiUrl()),
      },
      readFileSync(file),
    );
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendError(res, 500, 'INTERNAL_ERROR', String(error));
      else res.destroy();
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new Error(`port ${options.port} on ${host} is already in use (the dashboard port); choose another with --dashboard-port`) : error),
    );
    server.listen(options.port, host, resolve);
  });
  const url = `http://${host}:${(server.address() as AddressInfo).port}`;
  return {
    url,
    files,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      if (options.outDir === undefined) rmSync(root, { recursive: true, force: true });
    },
  };
}
