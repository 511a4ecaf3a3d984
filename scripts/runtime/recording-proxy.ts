/**
 * A loopback HTTP proxy that forwards every request to one upstream and records it with the
 * time its body had fully arrived. Put in front of the Runtime API (between the runtime
 * process and the emulator) and of the AWS endpoint, it shows in what order a function
 * posted its response, asked for its next event and called AWS.
 */
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedCall {
  /** Which proxy saw it, e.g. `runtime` or `aws`. */
  channel: string;
  method: string;
  path: string;
  /** The AWS operation: X-Amz-Target, or the query protocol's Action. */
  operation?: string;
  /** Milliseconds (performance.timeOrigin-based, comparable across proxies of a process) when the request body was complete. */
  receivedAt: number;
  headers: IncomingHttpHeaders;
  body: string;
  status?: number;
  /** When the upstream's answer arrived (for a long poll: when the event was handed out). */
  answeredAt?: number;
}

export interface RecordingProxy {
  /** `127.0.0.1:<port>` */
  address: string;
  calls: RecordedCall[];
  close(): Promise<void>;
}

function operationOf(headers: IncomingHttpHeaders, body: string): string | undefined {
  const target = headers['x-amz-target'];
  if (typeof target === 'string') return target;
  return /(?:^|&)Action=([^&]+)/.exec(body)?.[1];
}

export async function startRecordingProxy(channel: string, upstream: string, calls: RecordedCall[] = []): Promise<RecordingProxy> {
  const [upstreamHost, upstreamPort] = upstream.replace(/^https?:\/\//, '').split(':') as [string, string];
  const server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const body = Buffer.concat(chunks);
      const text = body.toString('utf8');
      const call: RecordedCall = {
        channel,
        method: incoming.method ?? 'GET',
        path: incoming.url ?? '/',
        operation: operationOf(incoming.headers, text),
        receivedAt: performance.timeOrigin + performance.now(),
        headers: incoming.headers,
        body: text,
      };
      calls.push(call);
      const forward = request(
        { host: upstreamHost, port: Number(upstreamPort), method: incoming.method, path: incoming.url, headers: { ...incoming.headers, host: `${upstreamHost}:${upstreamPort}` } },
        (answer) => {
          call.status = answer.statusCode;
          call.answeredAt = performance.timeOrigin + performance.now();
          outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(outgoing);
        },
      );
      forward.on('error', (error) => {
        call.status = 502;
        if (!outgoing.headersSent) outgoing.writeHead(502, { 'content-type': 'text/plain' });
        outgoing.end(String(error));
      });
      forward.end(body);
    });
  });
  // Long polls (invocation/next, event/next) may wait for minutes.
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
