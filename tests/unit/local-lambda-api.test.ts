/** The local runtime's Lambda Invoke API (scripts/local/lambda-api.ts), as Lambda answers a RequestResponse invocation. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionNameOf, startLambdaApi, type LambdaApi } from '../../scripts/local/lambda-api.ts';
import type { LocalFunction } from '../../scripts/local/lambda-context.ts';

const fn = (handler: LocalFunction['handler'], timeoutSeconds = 3): LocalFunction => ({ functionName: 'p-echo', memoryMb: 128, timeoutSeconds, handler });
const served: Record<string, LocalFunction> = {
  'p-echo': fn((event) => ({ echoed: event })),
  'p-fails': fn(() => {
    throw new TypeError('no tenant');
  }),
  'p-slow': fn(() => new Promise((resolve) => setTimeout(resolve, 5_000)), 0.2),
};
let api: LambdaApi;
let invocations = 0;

beforeAll(async () => {
  api = await startLambdaApi({ functionNamed: (name) => served[name], afterInvocation: () => invocations++, log: () => undefined });
});
afterAll(() => api.close());

const invoke = (name: string, body: string) => fetch(`${api.endpoint}/2015-03-31/functions/${encodeURIComponent(name)}/invocations`, { method: 'POST', body });

describe('the local Lambda API', () => {
  it('invokes a function by name or ARN and answers its result', async () => {
    const byArn = await invoke('arn:aws:lambda:us-east-1:123456789012:function:p-echo', '{"a":1}');
    expect(byArn.status).toBe(200);
    expect(byArn.headers.get('x-amz-function-error')).toBeNull();
    expect(await byArn.json()).toEqual({ echoed: { a: 1 } });
    expect(await (await invoke('p-echo', '[2]')).json()).toEqual({ echoed: [2] });
    expect(invocations).toBeGreaterThanOrEqual(2);
  });

  it('reports a thrown error or a timeout as a function error, an unknown function as 404, a body that is not JSON as 400', async () => {
    const failed = await invoke('p-fails', '{}');
    expect(failed.status).toBe(200);
    expect(failed.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(await failed.json()).toEqual({ errorType: 'TypeError', errorMessage: 'no tenant' });
    const slow = await invoke('p-slow', '{}');
    expect(slow.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(((await slow.json()) as { errorType: string }).errorType).toBe('Sandbox.Timedout');
    const missing = await invoke('arn:aws:lambda:us-east-1:123456789012:function:p-none', '{}');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('x-amzn-errortype')).toBe('ResourceNotFoundException');
    expect((await invoke('p-echo', '{')).status).toBe(400);
  });

  it('reads the function name from names and ARNs', () => {
    expect(functionNameOf('p-echo')).toBe('p-echo');
    expect(functionNameOf('arn:aws:lambda:us-east-1:123456789012:function:p-echo')).toBe('p-echo');
    expect(functionNameOf('arn:aws:lambda:us-east-1:123456789012:function:p-echo:live')).toBe('p-echo');
    expect(functionNameOf('123456789012:function:p-echo')).toBe('p-echo');
  });
});
