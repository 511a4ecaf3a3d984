/**
 * The after-response order under the real runtime (emulator + aws-lambda-ric on the Lambda
 * Node), for both orders clients have used to post the response: in the handler promise's
 * continuation (3.x) and one setImmediate later (4.0.2, the client installed). A probe
 * function built from functions/shared/after-response.ts marks its task's start with a
 * synchronous call, so the recorded order is the true one (scripts/runtime/order-probe/).
 */
import { describe, expect, it } from 'vitest';
import { measureResponseOrder } from '../../scripts/runtime/response-order.ts';
import { ensureRuntimeTools } from '../../scripts/runtime/tools.ts';

describe('after-response tasks under the real runtime', () => {
  it('start only after the response is posted, under both client orders', async () => {
    ensureRuntimeTools((line) => console.error(line));
    const counts = await measureResponseOrder(5);
    expect(counts).toEqual({ immediate: { invocations: 5, responseFirst: 5 }, deferred: { invocations: 5, responseFirst: 5 } });
  }, 600_000);
});
