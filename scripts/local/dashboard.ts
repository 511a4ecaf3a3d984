/**
 * The analytics dashboard for `npm start`: builds web/ and serves it, with `GET /config.json`
 * naming the API and the local sign-in, the API's `POST /local/token` (scripts/local/cognito.ts;
 * deployed, config.json names Cognito's hosted UI instead).
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

export interface DashboardOptions {
  port: number;
  host?: string;
  /** The API's base URL (a function when the API starts after this server). */
  apiUrl: string | (() => string);
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

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string | Buffer): void {
  res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  send(res, status, { 'content-type': 'application/json' }, JSON.stringify({ error: { code, message } }));
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
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 405, 'METHOD_NOT_ALLOWED', 'the dashboard serves files only');
    if (path === '/config.json') {
      const config = { apiUrl: apiUrl(), auth: { kind: 'local', tokenEndpoint: `${apiUrl()}/local/token` }, refreshSeconds: options.refreshSeconds ?? 30 };
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
