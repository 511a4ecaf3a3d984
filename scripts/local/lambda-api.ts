/**
 * The local runtime's functions behind Lambda's Invoke API, for AWS services that invoke a
 * function themselves (the local user pool's triggers, scripts/local/cognito.ts):
 *
 *   POST /2015-03-31/functions/{FunctionName or ARN}/invocations   body: the event
 *
 * As Lambda answers a RequestResponse invocation: 200 with the function's result; 200 with
 * `X-Amz-Function-Error: Unhandled` and `{errorType, errorMessage}` when it threw or timed out;
 * 404 ResourceNotFoundException for a function this runtime does not serve. Loopback only.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { invoke, type LocalFunction } from './lambda-context.ts';

export interface LambdaApi {
  /** `http://127.0.0.1:<port>`: the endpoint an SDK Lambda client (or the emulator) invokes through. */
  endpoint: string;
  close(): Promise<void>;
}

const invocationPath = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

/** The function name in a name, a partial ARN or a full ARN (`arn:aws:lambda:<region>:<account>:function:<name>[:qualifier]`). */
export function functionNameOf(nameOrArn: string): string {
  const parts = nameOrArn.split(':');
  const at = parts.indexOf('function');
  return at >= 0 ? (parts[at + 1] ?? '') : (parts[0] ?? '');
}

export async function startLambdaApi(options: {
  /** The function deployed under this name, or undefined. */
  functionNamed(functionName: string): LocalFunction | undefined;
  /** Runs after each answer has been written (the runtime drains after-response tasks there). */
  afterInvocation?: () => void;
  log?: (line: string) => void;
}): Promise<LambdaApi> {
  const log = options.log ?? ((line: string) => console.error(line));
  const server: Server = createServer((req, res) => {
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      const text = JSON.stringify(body ?? null);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
      res.end(text);
    };
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        const match = req.method === 'POST' ? invocationPath.exec((req.url ?? '').split('?')[0] ?? '') : null;
        if (!match?.[1]) return answer(404, { Type: 'User', message: 'Not a Lambda Invoke request' });
        const requested = decodeURIComponent(match[1]);
        const fn = options.functionNamed(functionNameOf(requested));
        if (!fn) return answer(404, { Type: 'User', message: `Function not found: ${requested}` }, { 'x-amzn-errortype': 'ResourceNotFoundException' });
        let event: unknown;
        try {
          event = JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
        } catch {
          return answer(400, { Type: 'User', message: 'Could not parse request body into json' }, { 'x-amzn-errortype': 'InvalidRequestContentException' });
        }
        const outcome = await invoke(fn, event, log);
        if (outcome.ok) answer(200, outcome.result);
        else {
          const error = outcome.error instanceof Error ? outcome.error : new Error(String(outcome.error));
          answer(200, { errorType: outcome.timedOut ? 'Sandbox.Timedout' : error.name, errorMessage: error.message }, { 'x-amz-function-error': 'Unhandled' });
        }
        options.afterInvocation?.();
      })().catch((error: unknown) => {
        log(JSON.stringify({ level: 'ERROR', message: 'local Lambda API failed', error: String(error) }));
        if (!res.headersSent) answer(500, { Type: 'Service', message: 'ServiceException' });
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        // Idle keep-alive connections go now; close() waits for invocations still running.
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
